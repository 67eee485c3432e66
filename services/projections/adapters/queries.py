"""Reads of the live table set, always scoped to one organisation."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from services.projections.adapters.schema import LIVE, TableSet
from services.projections.domain.statistics import StatRow
from services.projections.domain.timing import local_day

LIST_COLUMNS = sql.SQL(
    "id, version, status, status_kind, workflow_id, workflow_version, service_id, service_name,"
    " status_name, status_colour, client_id, client_name, client_email, client_phone,"
    " client_erased, tentative, agent_id, resources, slot_start, slot_end, window_date,"
    " window_part, start_at, end_at, sort_at, proposal, source, outcome, feedback,"
    " requested_at, confirmed_at, updated_at, unconfirmed")


def _rows(conn: psycopg.Connection, query: sql.Composed, params: dict[str, Any]
          ) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def organisation(conn: psycopg.Connection, org: str, ts: TableSet = LIVE) -> dict[str, Any] | None:
    rows = _rows(conn, sql.SQL("SELECT * FROM {} WHERE id = %(org)s").format(
        ts.t("organisations")), {"org": org})
    return rows[0] if rows else None


def calendar(conn: psycopg.Connection, org: str, start: datetime, end: datetime,
             agent_id: str | None, resource_id: str | None, limit: int,
             after: tuple[datetime, str] | None = None) -> list[dict[str, Any]]:
    """On the calendar in [start, end), in (sort_at, id) order after `after`."""
    where: list[sql.Composable] = [sql.SQL(
        "organisation_id = %(org)s AND on_calendar AND start_at < %(end)s"
        " AND end_at > %(start)s")]
    if after:
        where.append(sql.SQL("(sort_at, id) > (%(after_at)s, %(after_id)s)"))
    if agent_id:
        where.append(sql.SQL("agent_id = %(agent)s"))
    if resource_id:
        where.append(sql.SQL("(resource_ids @> ARRAY[%(resource)s]::text[]"
                             " OR agent_id = %(resource)s)"))
    return _rows(conn, sql.SQL("SELECT {cols} FROM {t} WHERE {w} ORDER BY sort_at, id"
                               " LIMIT %(limit)s").format(
        cols=LIST_COLUMNS, t=LIVE.t("appointments"), w=sql.SQL(" AND ").join(where)),
        {"org": org, "start": start, "end": end, "agent": agent_id, "resource": resource_id,
         "limit": limit, "after_at": after[0] if after else None,
         "after_id": after[1] if after else None})


def appointments(conn: psycopg.Connection, org: str, *, statuses: list[str] | None = None,
                 agent_id: str | None = None, service_id: str | None = None,
                 client_id: str | None = None, start: datetime | None = None,
                 end: datetime | None = None, unconfirmed_only: bool = False,
                 include_confirmed: bool = False, after: tuple[datetime, str] | None = None,
                 limit: int = 50) -> list[dict[str, Any]]:
    """A page in (sort_at, id) order: `limit` + 1 rows tell whether a next page exists."""
    where: list[sql.Composable] = [sql.SQL("organisation_id = %(org)s")]
    params: dict[str, Any] = {"org": org, "limit": limit + 1}
    for column, value in (("agent_id", agent_id), ("service_id", service_id),
                          ("client_id", client_id)):
        if value:
            where.append(sql.SQL("{} = %({})s").format(sql.Identifier(column),
                                                         sql.SQL(column)))
            params[column] = value
    if statuses:
        where.append(sql.SQL("status = ANY(%(statuses)s)"))
        params["statuses"] = statuses
    if start:
        where.append(sql.SQL("sort_at >= %(start)s"))
        params["start"] = start
    if end:
        where.append(sql.SQL("sort_at < %(end)s"))
        params["end"] = end
    if unconfirmed_only:
        where.append(sql.SQL("(unconfirmed OR status_kind = 'confirmation')") if include_confirmed
                     else sql.SQL("unconfirmed"))
    if after:
        where.append(sql.SQL("(sort_at, id) > (%(after_at)s, %(after_id)s)"))
        params |= {"after_at": after[0], "after_id": after[1]}
    return _rows(conn, sql.SQL("SELECT {cols} FROM {t} WHERE {w} ORDER BY sort_at, id"
                               " LIMIT %(limit)s").format(
        cols=LIST_COLUMNS, t=LIVE.t("appointments"), w=sql.SQL(" AND ").join(where)), params)


def appointment_exists(conn: psycopg.Connection, org: str, appointment_id: str) -> bool:
    return bool(_rows(conn, sql.SQL(
        "SELECT 1 FROM {a} WHERE id = %(id)s AND organisation_id = %(org)s UNION ALL"
        " SELECT 1 FROM {h} WHERE appointment_id = %(id)s AND organisation_id = %(org)s LIMIT 1"
    ).format(a=LIVE.t("appointments"), h=LIVE.t("status_history")),
        {"id": appointment_id, "org": org}))


def history(conn: psycopg.Connection, org: str, appointment_id: str) -> list[dict[str, Any]]:
    return _rows(conn, sql.SQL(
        "SELECT version, action, from_status, to_status, status_kind, actor_id, actor_role,"
        " reason, message, at, workflow_id, workflow_version, correlation_id, event_id,"
        " changes, source, link_id"
        " FROM {} WHERE appointment_id = %(id)s AND organisation_id = %(org)s"
        " ORDER BY version DESC").format(LIVE.t("status_history")),
        {"id": appointment_id, "org": org})


def client_known(conn: psycopg.Connection, org: str, client_id: str) -> bool:
    return bool(_rows(conn, sql.SQL(
        "SELECT 1 FROM {c} WHERE id = %(id)s AND organisation_id = %(org)s UNION ALL"
        " SELECT 1 FROM {a} WHERE client_id = %(id)s AND organisation_id = %(org)s LIMIT 1"
    ).format(c=LIVE.t("clients"), a=LIVE.t("appointments")), {"id": client_id, "org": org}))


def client_appointments(conn: psycopg.Connection, org: str, client_id: str, now: datetime,
                        retention_days: int | None) -> list[dict[str, Any]]:
    """Current and past ones; past only as far back as the retention period."""
    oldest = now - timedelta(days=retention_days) if retention_days is not None else None
    return _rows(conn, sql.SQL(
        "SELECT {cols}, coalesce(end_at, sort_at) < %(now)s AS past FROM {t}"
        " WHERE organisation_id = %(org)s AND client_id = %(client)s"
        " AND (%(oldest)s::timestamptz IS NULL OR coalesce(end_at, sort_at) >= %(oldest)s)"
        " ORDER BY sort_at DESC, id").format(cols=LIST_COLUMNS, t=LIVE.t("appointments")),
        {"org": org, "client": client_id, "now": now, "oldest": oldest})


def resources(conn: psycopg.Connection, org: str, kind: str | None) -> list[dict[str, Any]]:
    return _rows(conn, sql.SQL(
        "SELECT id, kind, name, working_hours FROM {} WHERE organisation_id = %(org)s AND active"
        " AND (%(kind)s::text IS NULL OR kind = %(kind)s) ORDER BY name, id"
    ).format(LIVE.t("resources")), {"org": org, "kind": kind})


def occupying(conn: psycopg.Connection, org: str, start: datetime, end: datetime,
              exclude: str | None) -> list[dict[str, Any]]:
    """Appointments with an exact slot that overlap [start, end); an instant
    (end == start) is occupied when a slot contains it."""
    end = max(end, start + timedelta(microseconds=1))
    return _rows(conn, sql.SQL(
        "SELECT id, agent_id, resource_ids, status, status_kind, slot_start, slot_end,"
        " false AS offer FROM {a}"
        " WHERE organisation_id = %(org)s AND blocks_time AND slot_start < %(end)s"
        " AND slot_end > %(start)s AND (%(exclude)s::text IS NULL OR id <> %(exclude)s)"
        # a waitlist entry's open offer holds its agent's slot for the client
        " UNION ALL SELECT id, offer_agent_id, '{{}}'::text[], status, NULL, offer_start,"
        " offer_end, true FROM {w} WHERE organisation_id = %(org)s AND status = 'offered'"
        " AND offer_start < %(end)s AND offer_end > %(start)s"
        " ORDER BY slot_start, id").format(a=LIVE.t("appointments"), w=LIVE.t("waitlist")),
        {"org": org, "start": start, "end": end, "exclude": exclude})


WAITLIST_COLUMNS = sql.SQL(
    "id, version, status, service_id, service_name, agent_id, wish_date, part_of_day,"
    " client_id, client_name, tentative, client_erased, source, offer_start, offer_end,"
    " offer_agent_id, offer_until, appointment_id, joined_at, updated_at")


def waitlist(conn: psycopg.Connection, org: str, *, service_id: str | None,
             statuses: list[str] | None, after: tuple[datetime, str] | None, limit: int
             ) -> list[dict[str, Any]]:
    """A page of the waitlist in join order (joined_at, id): `limit` + 1 rows."""
    return _rows(conn, sql.SQL(
        "SELECT {cols} FROM {t} WHERE organisation_id = %(org)s"
        " AND (%(service)s::text IS NULL OR service_id = %(service)s)"
        " AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s))"
        " AND (%(after_at)s::timestamptz IS NULL OR (joined_at, id) > (%(after_at)s, %(after_id)s))"
        " ORDER BY joined_at, id LIMIT %(limit)s").format(
        cols=WAITLIST_COLUMNS, t=LIVE.t("waitlist")),
        {"org": org, "service": service_id, "statuses": statuses, "limit": limit + 1,
         "after_at": after[0] if after else None, "after_id": after[1] if after else None})


def stat_rows(conn: psycopg.Connection, org: str, tz: str, first: date | None,
              last: date | None, agent_id: str | None) -> list[StatRow]:
    rows = _rows(conn, sql.SQL(
        "SELECT status, status_kind, completion_reason, agent_id, requested_at, confirmed_at,"
        " sort_at FROM {} WHERE organisation_id = %(org)s"
        " AND (%(agent)s::text IS NULL OR agent_id = %(agent)s)"
        " AND (%(first)s::date IS NULL OR (sort_at AT TIME ZONE %(tz)s)::date >= %(first)s)"
        " AND (%(last)s::date IS NULL OR (sort_at AT TIME ZONE %(tz)s)::date <= %(last)s)"
    ).format(LIVE.t("appointments")),
        {"org": org, "agent": agent_id, "first": first, "last": last, "tz": tz})
    return [StatRow(r["status"], r["status_kind"], r["completion_reason"], r["agent_id"],
                    r["requested_at"], r["confirmed_at"], local_day(r["sort_at"], tz))
            for r in rows]
