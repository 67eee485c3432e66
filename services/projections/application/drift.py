"""Drift check: compare a rebuilt table set with the live one, row by row.

Subjects of events the rebuild has applied but the live consumer has not yet
(consumer lag, not drift) are left out and counted as `in_flight`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from services.projections.adapters.schema import LIVE, TableSet

KEYS = {"appointments": ("id",), "status_history": ("appointment_id", "version"),
        "organisations": ("id",), "resources": ("id",), "clients": ("id",), "waitlist": ("id",)}
# Which column holds the subject / organisation an in-flight event may have touched.
SUBJECT_COLUMN = {"appointments": "id", "status_history": "appointment_id", "resources": "id",
                  "clients": "id", "waitlist": "id"}


@dataclass(frozen=True)
class Difference:
    table: str
    key: tuple[Any, ...]
    kind: str                                   # missing_in_live | missing_in_rebuild | changed
    columns: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # column -> (live, rebuilt)


@dataclass
class DriftReport:
    tables: tuple[str, ...]
    differences: list[Difference] = field(default_factory=list)
    compared: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0

    @property
    def drifted(self) -> bool:
        return bool(self.differences)


def compare(conn: psycopg.Connection, rebuilt: TableSet, tables: tuple[str, ...],
            live: TableSet = LIVE) -> DriftReport:
    report = DriftReport(tables)
    subjects, orgs = _in_flight(conn, rebuilt, live)
    report.in_flight = len(subjects)
    for table in tables:
        live_rows = _rows(conn, live, table)
        new_rows = _rows(conn, rebuilt, table)
        report.compared[table] = len(new_rows)
        for key in sorted(set(live_rows) | set(new_rows), key=repr):
            if _skipped(table, live_rows.get(key) or new_rows[key], subjects, orgs):
                continue
            a, b = live_rows.get(key), new_rows.get(key)
            if a is None:
                report.differences.append(Difference(table, key, "missing_in_live"))
            elif b is None:
                report.differences.append(Difference(table, key, "missing_in_rebuild"))
            elif a != b:
                cols = {c: (a.get(c), b.get(c)) for c in sorted(set(a) | set(b))
                        if a.get(c) != b.get(c)}
                report.differences.append(Difference(table, key, "changed", cols))
    return report


def _rows(conn: psycopg.Connection, ts: TableSet, table: str) -> dict[tuple[Any, ...],
                                                                       dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql.SQL("SELECT * FROM {}").format(ts.t(table))).fetchall()
    return {tuple(r[k] for k in KEYS[table]): r for r in rows}


def _in_flight(conn: psycopg.Connection, rebuilt: TableSet, live: TableSet
               ) -> tuple[set[str], set[str]]:
    rows = conn.execute(sql.SQL(
        "SELECT DISTINCT r.subject, r.orgid FROM {r} r WHERE NOT EXISTS"
        " (SELECT 1 FROM {l} l WHERE l.event_id = r.event_id)").format(
        r=rebuilt.t("applied_events"), l=live.t("applied_events"))).fetchall()
    return {r[0] for r in rows}, {r[1] for r in rows}


def _skipped(table: str, row: dict[str, Any], subjects: set[str], orgs: set[str]) -> bool:
    if table == "organisations":
        return row["id"] in orgs
    return row[SUBJECT_COLUMN[table]] in subjects
