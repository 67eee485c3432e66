"""PostgreSQL, Kafka and HTTP adapters of the projections."""
