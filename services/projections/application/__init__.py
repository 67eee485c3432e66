"""Use cases: apply an event, rebuild, check drift, purge."""
