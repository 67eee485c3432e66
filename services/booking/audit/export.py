"""An organisation's events of a period exactly as stored, each with its chain hash,
then a manifest signed with the checkpoint key (keys.py), so `verify --export FILE`
can check the file offline with only the public key (export_verify.py).

The period is a stretch of the organisation's hash chain: from the first event whose
time is at or after `from` to the last one before the first at or after `to`, in
chain order. The events' times follow their chain order (a command's time is taken
just before its events are stored under the event table's lock); the start is found
by bisecting the chain's sequence, the end while streaming. Lines are read a page at
a time (`chain.PAGE`), each page on a connection taken and given back at once, so a
slow reader holds no connection and the period is never in memory.

JSON Lines: one object per event, then `{"manifest": {...}, "signature": "..."}`.
CSV: a header row, one row per event, then the trailer `manifest,<that JSON>`.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from services.booking.adapters.pg_store import EVENTS_TABLE
from services.booking.audit import chain

MAX_PERIOD = timedelta(days=366)
FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
COLUMNS = ("position", "sequence", "aggregate_id", "version", "type", "time", "payload",
           "payload_encoding", "hash")
EVENTS = SQL("{}.{}").format(*(Identifier(part) for part in EVENTS_TABLE))
Connect = Callable[[], AbstractContextManager[Connection[Any]]]


def check_period(start: datetime, end: datetime) -> str | None:
    """Why the period cannot be exported (None if it can)."""
    if end <= start:
        return "must be after from"
    if end - start > MAX_PERIOD:
        return f"the period may span at most {MAX_PERIOD.days} days"
    return None


def event_time(state: bytes | None) -> str | None:
    """The event's time as its stored payload holds it (None when unreadable)."""
    try:
        stamp = json.loads(state or b"")["timestamp"]
        value = stamp["_data_"] if isinstance(stamp, dict) else stamp
        return str(value) if datetime.fromisoformat(value).tzinfo is not None else None
    except (ValueError, KeyError, TypeError):
        return None


def record(entry: chain.Entry) -> dict[str, Any]:
    """One event line: its place in the chain, its fields and its payload as stored."""
    payload: str | None = None
    encoding: str | None = None
    if entry.state is not None:
        try:
            payload, encoding = entry.state.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(entry.state).decode("ascii"), "base64"
    return {"position": entry.position, "sequence": entry.sequence,
            "aggregate_id": entry.aggregate_id, "version": entry.version, "type": entry.topic,
            "time": event_time(entry.state), "payload": payload, "payload_encoding": encoding,
            "hash": entry.hash.hex() if entry.hash is not None else None}


def document(manifest: dict[str, Any]) -> bytes:
    """The signed bytes: canonical JSON (sorted keys, no spaces)."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def signed(manifest: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    return {"manifest": manifest,
            "signature": base64.b64encode(key.sign(document(manifest))).decode("ascii")}


class Jsonl:
    header = b""

    @staticmethod
    def line(values: dict[str, Any]) -> bytes:
        return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"

    def trailer(self, body: dict[str, Any]) -> bytes:
        return self.line(body)


class Csv:
    header = b""

    def __init__(self) -> None:
        self.header = self.row(list(COLUMNS))

    @staticmethod
    def row(values: list[Any]) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerow(["" if v is None else v for v in values])
        return out.getvalue().encode()

    def line(self, values: dict[str, Any]) -> bytes:
        return self.row([values[c] for c in COLUMNS])

    def trailer(self, body: dict[str, Any]) -> bytes:
        return self.row(["manifest", json.dumps(body, separators=(",", ":"))])


def stream(connect: Connect, organisation_id: str, start: datetime, end: datetime, fmt: str,
           key: Ed25519PrivateKey, now: Callable[[], datetime]) -> Iterator[bytes]:
    """The export as chunks of bytes: a page of lines at a time, the manifest last.
    Where it starts is found at once, so a database that cannot answer fails the
    request (503) before anything is sent."""
    with connect() as conn:
        first = _first_at_or_after(conn, organisation_id, start)
        previous = _hash_before(conn, organisation_id, first)
    return _chunks(connect, organisation_id, start, end, fmt, key, now, first, previous)


def _chunks(connect: Connect, organisation_id: str, start: datetime, end: datetime, fmt: str,
            key: Ed25519PrivateKey, now: Callable[[], datetime], first: int | None,
            previous: bytes) -> Iterator[bytes]:
    writer = Csv() if fmt == "csv" else Jsonl()
    lines = hashlib.sha256(writer.header)
    if writer.header:
        yield writer.header
    count, last_hash = 0, previous
    first_values: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    after, ended = (first - 1 if first is not None else None), first is None
    while not ended and after is not None:
        with connect() as conn, conn.cursor(row_factory=tuple_row) as curs:
            page = list(islice(chain.entries(curs, EVENTS, organisation_id, after), chain.PAGE))
        chunk = []
        for entry in page:
            time = event_time(entry.state)
            if time is not None and datetime.fromisoformat(time) >= end:
                ended = True
                break
            values = record(entry)
            chunk.append(writer.line(values))
            count, last, last_hash = count + 1, values, entry.hash or last_hash
            first_values = first_values or values
        data = b"".join(chunk)
        lines.update(data)
        if data:
            yield data
        ended = ended or len(page) < chain.PAGE
        after = page[-1].position if page else None
    manifest = {
        "organisation_id": organisation_id, "from": start.isoformat(), "to": end.isoformat(),
        "format": fmt, "count": count,
        "first_position": first_values["position"] if first_values else None,
        "first_sequence": first_values["sequence"] if first_values else None,
        "last_position": last["position"] if last else None,
        "last_sequence": last["sequence"] if last else None,
        "previous_hash": previous.hex(), "last_hash": last_hash.hex(),
        "lines_sha256": lines.hexdigest(), "exported_at": now().isoformat(),
        "hash": "sha256 chain: services/booking/audit/chain.py event_hash",
        "signature_algorithm": "Ed25519"}
    yield writer.trailer(signed(manifest, key))


def _first_at_or_after(conn: Connection[Any], organisation_id: str, start: datetime) -> int | None:
    """The position of the first event of the organisation's chain at or after `start`:
    a lower bound over the chain's sequence (log n indexed look-ups)."""
    def probe(sequence: int) -> tuple[int, int, str | None] | None:
        row = conn.cursor(row_factory=tuple_row).execute(SQL(
            "SELECT o.sequence, o.notification_id, e.state FROM booking_event_organisation o "
            "LEFT JOIN {events} e USING (notification_id) WHERE o.organisation_id = %s "
            "AND o.sequence >= %s ORDER BY o.sequence LIMIT 1").format(events=EVENTS),
            (organisation_id, sequence)).fetchone()
        return (int(row[0]), int(row[1]), event_time(row[2] and bytes(row[2]))) if row else None

    row = conn.cursor(row_factory=tuple_row).execute(
        "SELECT max(sequence) FROM booking_event_organisation WHERE organisation_id = %s",
        (organisation_id,)).fetchone()
    low, high = 1, int(row[0] or 0) + 1 if row else 1
    while low < high:
        middle = (low + high) // 2
        found = probe(middle)
        if found is None or (found[2] is not None and datetime.fromisoformat(found[2]) >= start):
            high = middle
        else:
            low = found[0] + 1
    found = probe(low)
    return found[1] if found else None


def _hash_before(conn: Connection[Any], organisation_id: str, position: int | None) -> bytes:
    """The chain hash just before `position` (None: the organisation's head)."""
    row = conn.cursor(row_factory=tuple_row).execute(
        "SELECT hash FROM booking_event_organisation WHERE organisation_id = %s "
        "AND notification_id < %s AND hash IS NOT NULL ORDER BY notification_id DESC LIMIT 1",
        (organisation_id, position if position is not None else 2**62)).fetchone()
    return bytes(row[0]) if row else chain.GENESIS
