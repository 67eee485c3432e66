"""The read models' tables, as a *table set*: the live set has plain names, a
rebuild builds the same tables with a suffix (`appointments_rebuild`, ...) and
switches them over in one transaction (see application/rebuild.py).

View tables:
  appointments     calendar, appointment list, request queue, client
                   appointments, statistics, and what occupies an agent
  status_history   history of one appointment: every event, its changes before/after
  organisations    time zone, parts of day, retention period
  resources        agents / locations / equipment with working hours
  clients          clients of the directory (for client views)
  waitlist         waitlist entries with their open offer (the waitlist list, and
                   the offered slots availability shows as held)
Bookkeeping (never swapped, never compared):
  applied_events      every event id applied, with its booking position
  aggregate_versions  last applied aggregateversion per subject
"""
from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

VIEW_TABLES = ("appointments", "status_history", "organisations", "resources", "clients",
               "waitlist")
BOOKKEEPING = ("applied_events", "aggregate_versions")

# Which tables make up each named view (the rebuild command's --view).
VIEWS: dict[str, tuple[str, ...]] = {
    "calendar": ("appointments", "organisations"),
    "appointments": ("appointments", "organisations"),
    "queue": ("appointments", "organisations"),
    "history": ("status_history",),
    "clients": ("appointments", "organisations", "clients"),
    "availability": ("resources", "appointments", "organisations", "waitlist"),
    "waitlist": ("waitlist",),
    "statistics": ("appointments", "organisations"),
    "all": VIEW_TABLES,
}

# The consumer's lock: every live apply holds it shared, a rebuild's switch-over
# holds it exclusively.
LIVE_LOCK = 0x70726F6A  # "proj"

_DDL = """
CREATE TABLE IF NOT EXISTS {appointments} (
  id text NOT NULL, organisation_id text NOT NULL, version integer NOT NULL,
  status text NOT NULL, status_kind text NOT NULL, workflow_id text, workflow_version integer,
  service_id text, service_name text, client_id text, client_name text, client_email text,
  client_phone text, tentative boolean NOT NULL DEFAULT false, agent_id text,
  resource_ids text[] NOT NULL DEFAULT '{{}}', resources jsonb NOT NULL DEFAULT '[]',
  slot_start timestamptz, slot_end timestamptz, window_date date, window_part text,
  start_at timestamptz, end_at timestamptz, sort_at timestamptz NOT NULL, proposal jsonb,
  source text, outcome jsonb, completion_reason text, feedback jsonb,
  feedback_requested_on date, requested_at timestamptz, confirmed_at timestamptz,
  updated_at timestamptz, unconfirmed boolean NOT NULL, on_calendar boolean NOT NULL,
  blocks_time boolean NOT NULL,
  CONSTRAINT {appointments_pkey} PRIMARY KEY (id));
ALTER TABLE {appointments} ADD COLUMN IF NOT EXISTS status_name text,
  ADD COLUMN IF NOT EXISTS status_colour text,
  ADD COLUMN IF NOT EXISTS client_erased boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS {appointments_org_sort} ON {appointments} (organisation_id, sort_at, id);
CREATE INDEX IF NOT EXISTS {appointments_org_start} ON {appointments} (organisation_id, start_at)
  WHERE on_calendar;
CREATE INDEX IF NOT EXISTS {appointments_org_client} ON {appointments} (organisation_id, client_id);
CREATE INDEX IF NOT EXISTS {appointments_org_queue} ON {appointments}
  (organisation_id, requested_at, id) WHERE unconfirmed;
CREATE INDEX IF NOT EXISTS {appointments_resources} ON {appointments} USING gin (resource_ids);

CREATE TABLE IF NOT EXISTS {status_history} (
  appointment_id text NOT NULL, version integer NOT NULL, organisation_id text NOT NULL,
  event_id text NOT NULL, action text NOT NULL, from_status text, to_status text NOT NULL,
  status_kind text, actor_id text, actor_role text, reason text, message text,
  at timestamptz NOT NULL, workflow_id text, workflow_version integer, correlation_id text,
  CONSTRAINT {status_history_pkey} PRIMARY KEY (appointment_id, version));
ALTER TABLE {status_history} ADD COLUMN IF NOT EXISTS changes jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN IF NOT EXISTS source text, ADD COLUMN IF NOT EXISTS link_id text,
  ADD COLUMN IF NOT EXISTS state jsonb NOT NULL DEFAULT '{{}}';

CREATE TABLE IF NOT EXISTS {organisations} (
  id text NOT NULL, name text, timezone text NOT NULL, retention_days integer,
  parts_of_day jsonb NOT NULL, as_of timestamptz NOT NULL,
  CONSTRAINT {organisations_pkey} PRIMARY KEY (id));

CREATE TABLE IF NOT EXISTS {resources} (
  id text NOT NULL, organisation_id text NOT NULL, version integer NOT NULL, kind text NOT NULL,
  name text, active boolean NOT NULL, working_hours jsonb NOT NULL,
  CONSTRAINT {resources_pkey} PRIMARY KEY (id));
CREATE INDEX IF NOT EXISTS {resources_org_kind} ON {resources} (organisation_id, kind);

CREATE TABLE IF NOT EXISTS {clients} (
  id text NOT NULL, organisation_id text NOT NULL, version integer NOT NULL, name text,
  email text, phone text, active boolean NOT NULL,
  CONSTRAINT {clients_pkey} PRIMARY KEY (id));
ALTER TABLE {clients} ADD COLUMN IF NOT EXISTS erased boolean NOT NULL DEFAULT false;

CREATE TABLE IF NOT EXISTS {waitlist} (
  id text NOT NULL, organisation_id text NOT NULL, version integer NOT NULL, status text NOT NULL,
  service_id text NOT NULL, service_name text, agent_id text, wish_date date, part_of_day text,
  client_id text, client_name text, tentative boolean NOT NULL, source text,
  offer_start timestamptz, offer_end timestamptz, offer_agent_id text, offer_until timestamptz,
  appointment_id text, joined_at timestamptz NOT NULL, updated_at timestamptz,
  client_erased boolean NOT NULL DEFAULT false,
  CONSTRAINT {waitlist_pkey} PRIMARY KEY (id));
CREATE INDEX IF NOT EXISTS {waitlist_org_joined} ON {waitlist} (organisation_id, joined_at, id);
CREATE INDEX IF NOT EXISTS {waitlist_org_offers} ON {waitlist} (organisation_id, offer_start)
  WHERE status = 'offered';

CREATE TABLE IF NOT EXISTS {applied_events} (
  event_id text NOT NULL, source text NOT NULL, type text NOT NULL, subject text NOT NULL,
  orgid text NOT NULL, aggregateversion integer NOT NULL, position bigint NOT NULL,
  outcome text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT {applied_events_pkey} PRIMARY KEY (event_id));
CREATE INDEX IF NOT EXISTS {applied_events_position} ON {applied_events} (position);

CREATE TABLE IF NOT EXISTS {aggregate_versions} (
  subject text NOT NULL, version integer NOT NULL,
  CONSTRAINT {aggregate_versions_pkey} PRIMARY KEY (subject));
"""
_INDEXES = {
    "appointments": ("appointments_pkey", "appointments_org_sort", "appointments_org_start",
                     "appointments_org_client", "appointments_org_queue",
                     "appointments_resources"),
    "status_history": ("status_history_pkey",),
    "organisations": ("organisations_pkey",),
    "resources": ("resources_pkey", "resources_org_kind"),
    "clients": ("clients_pkey",),
    "waitlist": ("waitlist_pkey", "waitlist_org_joined", "waitlist_org_offers"),
    "applied_events": ("applied_events_pkey", "applied_events_position"),
    "aggregate_versions": ("aggregate_versions_pkey",),
}
ALL_TABLES = VIEW_TABLES + BOOKKEEPING


@dataclass(frozen=True)
class TableSet:
    """Names of one set of tables: the live one (suffix "") or a rebuild's."""
    suffix: str = ""

    def name(self, table: str) -> str:
        if table not in _INDEXES:
            raise KeyError(table)
        return table + self.suffix

    def t(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.name(table))

    def indexes(self, table: str) -> tuple[str, ...]:
        return tuple(i + self.suffix for i in _INDEXES[table])

    @property
    def is_live(self) -> bool:
        return self.suffix == ""

    def ddl(self) -> str:
        names = {t: sql.Identifier(t + self.suffix) for t in ALL_TABLES}
        names |= {i: sql.Identifier(i + self.suffix) for ix in _INDEXES.values() for i in ix}
        return sql.SQL(_DDL).format(**names).as_string(None)

    def drop(self) -> sql.Composed:
        return sql.SQL("DROP TABLE IF EXISTS {}").format(
            sql.SQL(", ").join(self.t(t) for t in ALL_TABLES))


LIVE = TableSet()
REBUILD = TableSet("_rebuild")
