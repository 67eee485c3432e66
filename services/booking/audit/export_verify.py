"""`verify --export FILE`: check an export offline, with only the public key.

Every event line must recompute its chain hash from its own fields and the previous
line's hash (the manifest's `previous_hash` for the first), carry the time its payload
holds, and follow the line before it in sequence; the manifest's count, ends, final
hash and digest of the lines must match, and its signature verify. The first bad
line is named by its line number in the file (and its position), then anything wrong
with the manifest.
"""
from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.booking.audit import chain
from services.booking.audit.export import COLUMNS, Csv, document, event_time


@dataclass
class Outcome:
    problems: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def clean(self) -> bool:
        return not self.problems


HEADER, MANIFEST = "header", "manifest"


class Bad(ValueError):
    """A line that does not verify; the message says why."""


def verify_export(path: Path, key: Ed25519PublicKey) -> Outcome:
    outcome = Outcome()
    end = None
    for row in _rows(path):  # a first pass for the manifest, which the lines need
        end = row
    if end is None or end[2] != MANIFEST:
        outcome.problems.append("no manifest as the last line: the export is incomplete")
        return outcome
    number, raw, _ = end
    try:
        body = json.loads(raw if not raw.startswith(b"manifest,") else _csv_manifest(raw))
        manifest, signature = body["manifest"], base64.b64decode(body["signature"], validate=True)
        organisation = str(manifest["organisation_id"])
        previous = bytes.fromhex(manifest["previous_hash"])
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        outcome.problems.append(f"line {number} (the manifest): unreadable ({error})")
        return outcome
    digest = hashlib.sha256()
    count, first, last = 0, None, None
    for at, line, values in _rows(path):
        if at == number:
            break
        digest.update(line)
        if values == HEADER and at == 1:
            continue
        try:
            if not isinstance(values, dict):
                raise Bad("not an event line")
            previous = _check(values, previous, organisation, last, manifest)
            values = {**values, "position": int(values["position"]),
                      "sequence": int(values["sequence"])}
        except Bad as why:
            where = f" (position {values.get('position')})" if isinstance(values, dict) else ""
            outcome.problems.append(f"line {at}{where}: {why}")
            return outcome
        count, first, last = count + 1, first or values, values
    expected = {"count": count, "first_position": first and first["position"],
                "first_sequence": first and first["sequence"],
                "last_position": last and last["position"],
                "last_sequence": last and last["sequence"], "last_hash": previous.hex(),
                "lines_sha256": digest.hexdigest()}
    for name, value in expected.items():
        if manifest.get(name) != value:
            outcome.problems.append(f"line {number} (the manifest): {name} is "
                                    f"{manifest.get(name)!r} but the lines give {value!r}")
    try:
        key.verify(signature, document(manifest))
    except InvalidSignature:
        outcome.problems.append(f"line {number} (the manifest): its signature does not "
                                f"verify with this public key")
    outcome.summary = (f"verified: {count} events of organisation {organisation} from "
                       f"{manifest.get('from')} to {manifest.get('to')} (positions "
                       f"{manifest.get('first_position')}..{manifest.get('last_position')}), "
                       f"exported at {manifest.get('exported_at')}, signature valid")
    return outcome


def _check(values: dict[str, Any], previous: bytes, organisation: str,
           last: dict[str, Any] | None, manifest: dict[str, Any]) -> bytes:
    """The line's hash if it verifies after `previous`; Bad otherwise."""
    try:
        position, sequence = int(values["position"]), int(values["sequence"])
        aggregate_id, version = str(values["aggregate_id"]), int(values["version"])
        topic, stated = str(values["type"]), bytes.fromhex(values["hash"])
        payload = _payload(values["payload"], values["payload_encoding"])
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise Bad(f"not an event line with every field ({type(error).__name__}: {error})") from None
    if values.get("time") != event_time(payload):
        raise Bad(f"its time {values.get('time')!r} is not the time inside its payload")
    due = int(last["sequence"]) + 1 if last else manifest.get("first_sequence")
    if sequence != due:
        raise Bad(f"sequence {sequence} where {due} was due: a line before it was removed, "
                  f"or lines were inserted or moved")
    if last and position <= int(last["position"]):
        raise Bad(f"position {position} does not follow position {last['position']}")
    if chain.event_hash(previous, organisation, aggregate_id, version, topic, payload) != stated:
        raise Bad("its hash does not recompute from its fields and the previous line's hash: "
                  "the line was altered, or lines were moved")
    return stated


def _payload(text: Any, encoding: Any) -> bytes:
    if encoding == "utf-8":
        return str(text).encode("utf-8")
    if encoding == "base64":
        return base64.b64decode(str(text), validate=True)
    raise ValueError(f"payload_encoding {encoding!r}: the event's stored row is gone")


def _rows(path: Path) -> Iterator[tuple[int, bytes, Any]]:
    """Every line: its number, its bytes as written, and its values (a dict for an
    event), or HEADER for the CSV header, or MANIFEST."""
    with path.open("rb") as data:
        head = data.read(len(Csv().header))
    if head == Csv().header:
        with path.open(newline="", encoding="utf-8", errors="replace") as text:
            for number, row in enumerate(csv.reader(text), start=1):
                kind: Any = HEADER if number == 1 else MANIFEST if row[:1] == ["manifest"] \
                    else dict(zip(COLUMNS, [v or None for v in row], strict=False))
                yield number, Csv.row(row), kind
        return
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                values = json.loads(raw)
            except ValueError:
                values = None
            yield number, raw, MANIFEST if isinstance(values, dict) and "manifest" in values \
                else values


def _csv_manifest(raw: bytes) -> bytes:
    row = next(csv.reader(io.StringIO(raw.decode("utf-8"))))
    return row[1].encode()
