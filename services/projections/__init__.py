"""Projections: Kafka consumers that keep the read models in PostgreSQL, and
the query API over them (calendar, appointment list, request queue, status
history, client appointments, agent availability, statistics).

domain/       pure functions: an event -> row changes per view; statistics maths
adapters/     PostgreSQL table sets, writes and reads; dead letters; event sources
application/  apply one event (one transaction), rebuild, drift check, purge
entrypoints/  HTTP API, consumer loop, rebuild and purge commands
bootstrap.py  the one place where settings become parts: wire(Settings) -> ProjectionsParts
"""
