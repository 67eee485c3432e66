"""Settings from environment variables: the one table every service reads.

`SETTINGS` below is the source of the README's configuration table
(`python -m shared.config` prints it as Markdown).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

SERVICES = ("booking", "workflow", "notifier", "projections")

# name -> (default, meaning). A default of None means "resolved at start-up"
# (see shared/devinfra/infra.py) or "feature off".
SETTINGS: dict[str, tuple[str | None, str]] = {
    "BOOKING_DATABASE_URL": (None, "PostgreSQL URL of booking's event store"),
    "WORKFLOW_DATABASE_URL": (None, "PostgreSQL URL of workflow's event store"),
    "BOOKING_OWNER_DATABASE_URL": (None, "PostgreSQL URL of the role that owns booking's event store "
                                   "and changes its schema at start-up; the role of "
                                   "`BOOKING_DATABASE_URL` then may only SELECT and INSERT events; "
                                   "unset = `BOOKING_DATABASE_URL` (one role)"),
    "WORKFLOW_OWNER_DATABASE_URL": (None, "the same for workflow's event store"),
    "NOTIFIER_DATABASE_URL": (None, "PostgreSQL URL of the notifier's ledger"),
    "PROJECTIONS_DATABASE_URL": (None, "PostgreSQL URL of the read models"),
    "DATABASE_POOL_TIMEOUT": ("5", "seconds a request waits for a free PostgreSQL connection before 503 "
                                   "(while PostgreSQL is down: 503 at once)"),
    "KAFKA_BOOTSTRAP_SERVERS": (None, "Kafka brokers, comma separated"),
    "DATA_DIR": (".data", "where the embedded PostgreSQL keeps its data"),
    "KAFKA_PORT": ("9092", "port of the embedded Kafka-protocol broker"),
    "KAFKA_PARTITIONS": ("12", "partitions of each topic the system creates (the embedded broker "
                         "is given its own count, 4)"),
    "KAFKA_DEV_BROKER_QUIRKS": ("off", "`on`: work around the embedded development broker's quirks "
                                "(shared/devbroker.py); the embedded infrastructure sets it"),
    "BOOKING_PORT": ("8001", "port of booking's API under make run"),
    "WORKFLOW_PORT": ("8002", "port of workflow's API under make run"),
    "NOTIFIER_PORT": ("8003", "port of the notifier's API under make run"),
    "PROJECTIONS_PORT": ("8004", "port of the projections' API under make run"),
    "JWT_SECRET": ("dev-only-secret-change-me-in-production", "HMAC key for bearer tokens (HS256)"),
    "LINK_SIGNING_KEY": ("dev-only-link-key-change-me-in-production", "key for signed client links"),
    "WORKFLOW_URL": ("http://127.0.0.1:8002", "workflow service base URL (booking calls it)"),
    "BOOKING_PUBLIC_URL": ("http://127.0.0.1:8001", "base URL put into client links"),
    "BACKOFFICE_URL": (None, "the organisation's back-office page of an appointment, linked as "
                       "\"View the appointment\" in staff emails: an http(s) URL with `{id}` for "
                       "the appointment's id (at most 2000 characters, checked at the notifier's "
                       "start); unset = no link"),
    "SENDGRID_API_KEY": (None, "SendGrid key; unset = development mailbox"),
    "SENDGRID_HOST": ("https://api.sendgrid.com", "SendGrid API host (tests point it at a fake)"),
    "TWILIO_ACCOUNT_SID": (None, "Twilio account; unset = development mailbox"),
    "TWILIO_AUTH_TOKEN": (None, "Twilio auth token"),
    "TWILIO_BASE_URL": ("https://api.twilio.com", "Twilio API host (tests point it at a fake)"),
    "SMS_FROM": ("+15005550006", "sender number for SMS"),
    "EMAIL_FROM": ("appointments@example.com", "sender address for email"),
    "RATE_LIMIT_PER_TOKEN": ("120/minute, 1200/hour", "write requests per caller (token's sub + org) "
                             "on booking and workflow; `off` = none"),
    "RATE_LIMIT_PER_IP": ("600/minute, 6000/hour", "write requests per client address on booking and "
                          "workflow (IPv6 per /64); `off` = none"),
    "TRUSTED_PROXY_COUNT": ("0", "reverse proxies in front that append X-Forwarded-For; 0 = ignore "
                            "the header"),
    "NOTIFIER_QUOTA_PER_HOUR": ("30", "messages to one client address or number per organisation "
                                "in any hour; more are suppressed"),
    "NOTIFIER_QUOTA_PER_DAY": ("100", "the same in any 24 hours"),
    "LOG_LEVEL": ("INFO", "log level of every process"),
    "WEB_CONCURRENCY": ("2", "gunicorn worker processes per API"),
    "MAX_BODY_BYTES": ("65536", "largest request body any API accepts (413 past it)"),
    "BOOKING_TIMERS_INTERVAL_SECONDS": ("1", "seconds between two rounds of booking's timer worker "
                                        "(automatic no-show, expiring holds)"),
    "BOOKING_AGGREGATE_CACHE_SIZE": ("500", "aggregates each booking process keeps in memory between "
                                     "commands, brought up to date from the event store on every "
                                     "load; 0 = rebuild every aggregate from its events each time"),
    "WEB_THREADS": ("4", "threads per gunicorn worker, and so each process's PostgreSQL pool size"),
    "AUDIT_SIGNING_KEY": (None, "PEM file of the Ed25519 private key that signs audit checkpoints "
                          "(booking relay) and exports (booking API); "
                          "unset = one generated once as `DATA_DIR/audit/signing-key.pem`"),
    "AUDIT_PUBLIC_KEY": (None, "PEM file of the public key `verify` checks checkpoints and exports "
                         "with; "
                         "unset = the public half of the signing key"),
    "AUDIT_CHECKPOINT_INTERVAL": ("60", "seconds between signed checkpoints of the changed "
                                  "organisations' chain heads (booking relay)"),
}


def get(name: str) -> str | None:
    """A setting's value: the environment first, then the table's default."""
    if name not in SETTINGS:
        raise KeyError(f"unknown setting {name}")
    return os.environ.get(name) or SETTINGS[name][0]


def require(name: str) -> str:
    return required(name, get(name))


def required(name: str, value: str | None) -> str:
    """`value` of setting `name`, or the one error a process gives when it is missing."""
    if not value:
        raise RuntimeError(f"setting {name} is required but not set")
    return value


def database_url(service: str) -> str:
    return require(f"{service.upper()}_DATABASE_URL")


def overridden(overrides: dict[str, Any], **readers: Callable[[], Any]) -> dict[str, Any]:
    """The keyword arguments of a service's `Settings.from_env`: the overrides that are not
    None, and for each other name of `readers` its value read from the environment."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return {**{k: read() for k, read in readers.items() if k not in given}, **given}


def markdown_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, (default, meaning) in SETTINGS.items():
        rows.append(f"| `{name}` | {f'`{default}`' if default else '—'} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
