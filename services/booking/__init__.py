"""Booking: appointment commands -> immutable events (eventsourcing, PostgreSQL).

domain/ pure rules and aggregates; application/ use cases over the event store;
adapters/ PostgreSQL side tables, in-memory store, CloudEvents; entrypoints/ HTTP.
`bootstrap.py` is the one wiring place: `wire(Settings)` -> `BookingParts`.
"""
