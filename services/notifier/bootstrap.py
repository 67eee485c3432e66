"""The notifier's one wiring place: `Settings` in, `NotifierParts` out.

The shape every service's bootstrap has:
- `Settings`: a frozen dataclass; `Settings.from_env(**overrides)` reads the environment
  (shared/config.py; overrides that are None are ignored); tests build theirs by hand.
- `wire(settings) -> NotifierParts`: the pool (tables in place), the ledger and the transports.
  There is no process-wide accessor: each entry point (http, consumer, redrive, reminders)
  wires once from its settings, and `db.pool` keeps one pool per URL and process.
Real SDKs when credentials are set (SENDGRID_API_KEY; TWILIO_ACCOUNT_SID and
TWILIO_AUTH_TOKEN), else the development mailbox for that channel. The credentials are read
when the parts are wired, never kept in a Settings that may be printed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from psycopg_pool import ConnectionPool

from services.notifier.adapters import dev_transport, erasure, ledger_schema, organisations, reminders
from services.notifier.adapters.dev_transport import DevTransport
from services.notifier.adapters.ledger import Ledger
from services.notifier.domain.quota import Quota
from services.notifier.ports import LocalTransport, Transport
from shared import config, db, kafka, timers


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Settings:
    database_url: str
    bootstrap_servers: str
    topic: str = kafka.APPOINTMENTS
    directory_topic: str = kafka.DIRECTORY   # organisation settings
    group_id: str = "notifier"
    events_topic: str = kafka.NOTIFICATIONS
    poll_interval: float = 0.5        # idle wait of the consumer and the senders
    backoff_base: float = 2.0         # first retry after ~this many seconds
    backoff_cap: float = 900.0
    give_up_after: float = 86400.0    # a retryable failure this old is dead-lettered
    send_timeout: float = 10.0        # provider HTTP time-out
    lease: float | None = None        # claim lease; default 3 x time-out + 5 s
    workers_per_channel: int = 2
    read_your_writes_timeout: float = 5.0   # seconds a read waits for min_position
    timer_interval: float = 5.0       # how often due reminders are looked for (seconds)
    # messages to one client address per organisation, in any hour / 24 hours
    quota_per_hour: int = field(
        default_factory=lambda: int(config.require("NOTIFIER_QUOTA_PER_HOUR")))
    quota_per_day: int = field(
        default_factory=lambda: int(config.require("NOTIFIER_QUOTA_PER_DAY")))
    # the staff's "View the appointment" link: `{id}` replaced (None: no link)
    backoffice_url: str | None = field(default_factory=lambda: config.get("BACKOFFICE_URL"))
    clock: Callable[[], datetime] = field(default=system_clock)

    def __post_init__(self) -> None:
        check_backoffice_url(self.backoffice_url)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from the environment; overrides that are None are ignored."""
        return cls(**config.overridden(
            overrides, database_url=lambda: config.database_url("notifier"),
            bootstrap_servers=lambda: config.require("KAFKA_BOOTSTRAP_SERVERS")))

    @property
    def dlq_topic(self) -> str:
        """Deliveries refused for good: the dead-letter twin of the events topic."""
        return kafka.dlq(self.events_topic)

    @property
    def lease_seconds(self) -> float:
        return self.lease if self.lease is not None else 3 * self.send_timeout + 5


MAX_BACKOFFICE_URL = 2000   # characters


def check_backoffice_url(value: str | None) -> None:
    """Refuse a BACKOFFICE_URL that could only give broken links, before anything starts."""
    if value is None:
        return
    parts = urlsplit(value.replace("{id}", "id"))
    problem = (
        f"is longer than {MAX_BACKOFFICE_URL} characters" if len(value) > MAX_BACKOFFICE_URL
        else "must contain {id}, where the appointment's id goes" if "{id}" not in value
        else "must be an http or https URL" if parts.scheme not in ("http", "https")
        else "must name a host" if not parts.hostname
        else "must not have {id} in its host" if "{id}" in urlsplit(value).netloc
        else None)
    if problem:
        raise ValueError(f"BACKOFFICE_URL {problem}, e.g. "
                         f"https://backoffice.example/appointments/{{id}} (got {value!r})")


@dataclass(frozen=True)
class NotifierParts:
    settings: Settings
    pool: ConnectionPool
    ledger: Ledger
    transports: dict[str, Transport | LocalTransport]   # by channel
    dev_channels: tuple[str, ...]   # the channels whose messages go to the mailbox


def wire(settings: Settings) -> NotifierParts:
    connections = _pool(settings)
    ledger = Ledger(connections, settings.events_topic, settings.dlq_topic, settings.give_up_after,
                    Quota(settings.quota_per_hour, settings.quota_per_day), settings.clock)
    return NotifierParts(settings, connections, ledger, _transports(settings), dev_channels())


def _pool(settings: Settings) -> ConnectionPool:
    """The process's pool, with the tables in place (idempotent DDL)."""
    db.run_schema(settings.database_url,
                  ledger_schema.SCHEMA + organisations.SCHEMA + dev_transport.SCHEMA
                  + erasure.SCHEMA + reminders.SCHEMA
                  + timers.ddl(reminders.TABLE).as_string(None))
    return db.pool(settings.database_url, max_size=2 * settings.workers_per_channel + 4)


def dev_channels() -> tuple[str, ...]:
    """The channels without provider credentials: their messages go to the mailbox."""
    return (*(() if config.get("SENDGRID_API_KEY") else ("email",)),
            *(() if config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN")
              else ("sms",)))


def _transports(settings: Settings) -> dict[str, Transport | LocalTransport]:
    email: Transport | LocalTransport
    sms: Transport | LocalTransport
    if config.get("SENDGRID_API_KEY"):
        from services.notifier.adapters.sendgrid_transport import SendGridTransport

        email = SendGridTransport(config.require("SENDGRID_API_KEY"),
                                  config.require("SENDGRID_HOST"), config.require("EMAIL_FROM"),
                                  settings.send_timeout)
    else:
        email = DevTransport("email")
    if config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN"):
        from services.notifier.adapters.twilio_transport import TwilioTransport

        sms = TwilioTransport(config.require("TWILIO_ACCOUNT_SID"),
                              config.require("TWILIO_AUTH_TOKEN"),
                              config.require("TWILIO_BASE_URL"), config.require("SMS_FROM"),
                              settings.send_timeout)
    else:
        sms = DevTransport("sms")
    return {"email": email, "sms": sms}
