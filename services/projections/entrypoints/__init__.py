"""Processes: HTTP API, consumer, rebuild and purge commands."""
