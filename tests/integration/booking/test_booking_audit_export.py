"""Exports of an organisation's events for a period, with a signed manifest, checked
offline by `verify --export FILE` with only the public key: a clean export verifies;
one altered, deleted or moved line, or an edited manifest, is named."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from booking_http_support import NOW, Api, slot
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.booking.adapters.pg_store import EVENTS_TABLE
from services.booking.audit import __main__ as cli
from services.booking.audit import chain, keys
from services.booking.audit.export import event_time
from services.booking.audit.export_verify import verify_export
from tests.doubles.booking import FixedClock

EVENTS = ".".join(EVENTS_TABLE)
DAY2, DAY3 = NOW + timedelta(days=1), NOW + timedelta(days=2)


@dataclass
class Period:
    public_key: Path
    expected: list[int]  # acme's positions of day 2, in chain order
    before: int  # acme's last position of day 1
    url: str

    def auditor_export(self, api: Api, fmt: str = "jsonl") -> bytes:
        r = api.as_(roles=("auditor",)).get(
            f"/v1/audit/export?from={DAY2.isoformat().replace('+', '%2B')}"
            f"&to={DAY3.isoformat().replace('+', '%2B')}&format={fmt}")
        assert r.status_code == 200, r.get_data()
        assert r.is_streamed
        return r.get_data()


@pytest.fixture
def period(api: Api, seed, clock: FixedClock, fresh_db: str, tmp_path: Path, monkeypatch,
           ) -> Period:
    # A signing key as AUDIT_SIGNING_KEY; the verifier gets only its public half
    key = Ed25519PrivateKey.generate()
    (tmp_path / "signing.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (tmp_path / "public.pem").write_bytes(keys.public_pem(key.public_key()))
    monkeypatch.setenv("AUDIT_SIGNING_KEY", str(tmp_path / "signing.pem"))
    monkeypatch.setattr(chain, "PAGE", 3)  # several pages, as with a long period
    # Events of acme on three days (the seed on day 1), and of globex on day 2
    clock.set(DAY2 + timedelta(hours=1))
    first = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                          "slot": slot(9)}).get_json()["appointment"]["id"]
    globex = api.as_(org="globex", roles=("manager",))
    assert globex.post("/v1/services", {"name": "Check", "duration_minutes": 30}).status_code == 201
    api.post(f"/v1/appointments/{first}/notes", {"text": "call first"})
    api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                  "slot": slot(10)})
    api.post(f"/v1/appointments/{first}/notes", {"text": "prefers mornings"})
    clock.set(DAY3)
    api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                  "slot": slot(11)})
    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute(f"SELECT o.notification_id, e.state FROM booking_event_organisation o "
                            f"JOIN {EVENTS} e USING (notification_id) WHERE o.organisation_id = "
                            f"'acme' ORDER BY 1").fetchall()
    times = [(p, event_time(bytes(s))) for p, s in rows]
    expected = [p for p, t in times if t and DAY2.isoformat() <= t < DAY3.isoformat()]
    assert len(expected) == 4  # two requests, two notes
    return Period(tmp_path / "public.pem", expected,
                  max(p for p, t in times if t and t < DAY2.isoformat()), fresh_db)


def lines_of(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


def verified(tmp_path: Path, data: bytes, public_key: Path, name: str = "export.jsonl") -> list[str]:
    path = tmp_path / name
    path.write_bytes(data)
    outcome = verify_export(path, keys.public_key(public_key))
    return outcome.problems


def test_an_auditor_exports_a_period_that_verifies_offline_with_only_the_public_key(
        api, period, tmp_path, capsys):
    data = period.auditor_export(api)
    *events, last = lines_of(data)
    # Then the lines are the organisation's events of that day, in chain order, as stored
    assert [e["position"] for e in events] == period.expected
    assert all(DAY2.isoformat() <= e["time"] < DAY3.isoformat() for e in events)
    assert any("call first" in e["payload"] for e in events)
    with psycopg.connect(period.url) as conn:
        stored = {p: (bytes(s), bytes(h)) for p, s, h in conn.execute(
            f"SELECT o.notification_id, e.state, o.hash FROM booking_event_organisation o "
            f"JOIN {EVENTS} e USING (notification_id)").fetchall()}
    assert all((e["payload"].encode(), bytes.fromhex(e["hash"])) == stored[e["position"]]
               for e in events)
    # ... and the manifest: count, both ends, the chain hashes at both ends, signed
    manifest = last["manifest"]
    assert (manifest["count"], manifest["first_position"], manifest["last_position"]) == (
        4, period.expected[0], period.expected[-1])
    assert manifest["previous_hash"] == stored[period.before][1].hex()
    assert manifest["last_hash"] == stored[period.expected[-1]][1].hex()
    assert manifest["organisation_id"] == "acme" and last["signature"]
    # ... which verifies offline, and the command says so
    assert verified(tmp_path, data, period.public_key) == []
    assert cli.main(["verify", "--export", str(tmp_path / "export.jsonl"),
                     "--public-key", str(period.public_key)]) == 0
    assert capsys.readouterr().out.startswith("verified: 4 events of organisation acme")
    # ... but not with another key
    other = tmp_path / "other.pem"
    other.write_bytes(keys.public_pem(Ed25519PrivateKey.generate().public_key()))
    assert verified(tmp_path, data, other)[-1].endswith("its signature does not verify with "
                                                        "this public key")


def test_the_csv_export_verifies_and_the_command_line_export_is_the_same(
        api, period, tmp_path, capsysbinary):
    data = period.auditor_export(api, "csv")
    rows = data.decode().splitlines()
    assert rows[0] == "position,sequence,aggregate_id,version,type,time,payload," \
                      "payload_encoding,hash"
    assert rows[-1].startswith("manifest,") and len(rows) == 1 + 4 + 1
    assert verified(tmp_path, data, period.public_key, "export.csv") == []
    # The command writes the same lines (only the time of export differs)
    assert cli.main(["export", "--organisation", "acme", "--from", DAY2.isoformat(),
                     "--to", DAY3.isoformat()]) == 0
    written = capsysbinary.readouterr().out
    assert lines_of(written)[:-1] == lines_of(period.auditor_export(api))[:-1]
    assert verified(tmp_path, written, period.public_key) == []


def edit_line(data: bytes, number: int, old: str, new: str) -> bytes:
    lines = data.split(b"\n")
    assert old.encode() in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old.encode(), new.encode())
    return b"\n".join(lines)


def test_one_altered_deleted_or_moved_line_or_an_edited_manifest_is_named(api, period, tmp_path):
    data = period.auditor_export(api)
    lines = data.split(b"\n")
    note = next(n for n, line in enumerate(lines, start=1) if b"call first" in line)
    position = json.loads(lines[note - 1])["position"]

    altered = edit_line(data, note, "call first", "call never")
    assert verified(tmp_path, altered, period.public_key) == [
        f"line {note} (position {position}): its hash does not recompute from its fields and "
        f"the previous line's hash: the line was altered, or lines were moved"]
    deleted = b"\n".join(lines[:1] + lines[2:])
    assert verified(tmp_path, deleted, period.public_key)[0].startswith(
        f"line 2 (position {json.loads(lines[2])['position']}): sequence ")
    swapped = b"\n".join([lines[0], lines[2], lines[1], *lines[3:]])
    assert verified(tmp_path, swapped, period.public_key)[0].startswith(
        f"line 2 (position {json.loads(lines[2])['position']}): sequence ")
    time_edited = edit_line(data, 1, f'"time":"{DAY2.isoformat()[:10]}',
                            f'"time":"{NOW.isoformat()[:10]}')
    assert "is not the time inside its payload" in verified(tmp_path, time_edited,
                                                           period.public_key)[0]
    # The manifest: a count that does not match, or a signed field changed
    manifest_line = len(lines) - 1  # the file ends with a newline
    recounted = edit_line(data, manifest_line, '"count":4', '"count":3')
    assert verified(tmp_path, recounted, period.public_key) == [
        f"line {manifest_line} (the manifest): count is 3 but the lines give 4",
        f"line {manifest_line} (the manifest): its signature does not verify with this "
        f"public key"]
    redated = edit_line(data, manifest_line, '"to":"2026-11-22', '"to":"2026-11-23')
    assert verified(tmp_path, redated, period.public_key) == [
        f"line {manifest_line} (the manifest): its signature does not verify with this "
        f"public key"]
    # A position renumbered (not in the hash) is caught by the signed digest of the lines
    between = json.loads(lines[0])["position"] + 1
    assert between < json.loads(lines[1])["position"]  # a position that still looks in order
    renumbered = edit_line(data, 2, f'"position":{json.loads(lines[1])["position"]}',
                           f'"position":{between}')
    assert verified(tmp_path, renumbered, period.public_key)[0].startswith(
        f"line {manifest_line} (the manifest): lines_sha256")
    # A truncated file has no manifest
    assert verified(tmp_path, b"\n".join(lines[:3]) + b"\n", period.public_key) == [
        "no manifest as the last line: the export is incomplete"]


def test_an_altered_csv_row_is_named(api, period, tmp_path):
    data = period.auditor_export(api, "csv")
    rows = data.split(b"\r\n")
    note = next(n for n, row in enumerate(rows, start=1) if b"call first" in row)
    rows[note - 1] = rows[note - 1].replace(b"call first", b"call never")
    assert verified(tmp_path, b"\r\n".join(rows), period.public_key, "export.csv")[0].startswith(
        f"line {note} (position ")


def test_an_event_altered_in_the_store_shows_in_its_export(api, period, tmp_path):
    # The export carries the hash recorded when the event was stored, not a fresh one
    position = period.expected[2]
    with psycopg.connect(period.url, autocommit=True) as conn:
        conn.execute(f"UPDATE {EVENTS} SET state = convert_to(replace(convert_from(state, "
                     f"'UTF8'), 'agent-7', 'agent-8'), 'UTF8') WHERE notification_id = %s",
                     (position,))
    problems = verified(tmp_path, period.auditor_export(api), period.public_key)
    assert problems[0].startswith(f"line 3 (position {position}): its hash does not recompute")


@pytest.mark.parametrize(("query", "field"), [
    ("from=2026-11-21T00:00:00%2B00:00&to=2026-11-20T00:00:00%2B00:00", "to"),
    ("from=2026-01-01T00:00:00%2B00:00&to=2027-01-03T00:00:00%2B00:00", "to"),
    ("from=2026-11-21T00:00:00&to=2026-11-22T00:00:00%2B00:00", "from"),
    ("from=2026-11-21T00:00:00%2B00:00", "to"),
    ("from=2026-11-21T00:00:00%2B00:00&to=2026-11-22T00:00:00%2B00:00&format=xml", "format"),
])
def test_a_period_that_cannot_be_exported_is_refused_naming_the_parameter(api, query, field):
    r = api.as_(roles=("auditor",)).get(f"/v1/audit/export?{query}")
    assert r.status_code == 422, r.get_data()
    assert r.content_type == "application/problem+json"
    assert field in r.get_json()["errors"]


def test_only_auditors_and_managers_export(api, period):
    query = "from=2026-11-21T00:00:00%2B00:00&to=2026-11-22T00:00:00%2B00:00"
    assert api.get(f"/v1/audit/export?{query}").status_code == 403  # an agent
    assert api.as_(roles=("manager",)).get(f"/v1/audit/export?{query}").status_code == 200
    # another organisation's export holds only its own events
    other = lines_of(api.as_(org="globex", roles=("auditor",)).get(
        f"/v1/audit/export?{query}").get_data())
    assert [line["manifest"]["count"] for line in other[-1:]] == [2]
    assert period.expected[0] not in [line.get("position") for line in other]


def test_a_period_without_events_exports_a_signed_empty_manifest(api, period, tmp_path):
    r = api.as_(roles=("auditor",)).get(
        "/v1/audit/export?from=2030-01-01T00:00:00%2B00:00&to=2030-02-01T00:00:00%2B00:00")
    [line] = lines_of(r.get_data())
    manifest = line["manifest"]
    assert (manifest["count"], manifest["first_position"], manifest["last_position"]) == (
        0, None, None)
    assert manifest["previous_hash"] == manifest["last_hash"] != "00" * 32  # acme's head
    assert verified(tmp_path, r.get_data(), period.public_key) == []
