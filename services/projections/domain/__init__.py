"""Pure domain of the read models: no Flask, no SQL, no Kafka."""
