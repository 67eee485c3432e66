"""Pure Python: aggregates, values and rules. No Flask, no SQL, no clock."""
