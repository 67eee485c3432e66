"""Development infrastructure: where PostgreSQL and Kafka come from under make run and
the tests (embedded servers, testcontainers, or explicit settings)."""
