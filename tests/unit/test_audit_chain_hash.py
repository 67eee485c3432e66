"""The chain's hash: one definition that verify and exports share, covering every field."""
from __future__ import annotations

import hashlib

from services.booking.audit.chain import GENESIS, event_hash

FIELDS = (GENESIS, "acme", "7f0c1a52-3f5e-4c5e-9a54-0d1f1d1f1d1f", 3, "appointment.Confirmed",
          b'{"timestamp":"2026-11-20T08:00:00+00:00","reason":"Client request"}')


def test_the_hash_is_sha256_over_length_prefixed_fields():
    digest = hashlib.sha256()
    for part in (GENESIS, b"acme", FIELDS[2].encode(), b"3", FIELDS[4].encode(), FIELDS[5]):
        digest.update(len(part).to_bytes(8, "big") + part)
    assert event_hash(*FIELDS) == digest.digest()


def test_every_field_changes_the_hash():
    original = event_hash(*FIELDS)
    changed = [(b"\x01" * 32,) + FIELDS[1:], (FIELDS[0], "acme2") + FIELDS[2:],
               FIELDS[:2] + ("7f0c1a52-3f5e-4c5e-9a54-0d1f1d1f1d1e",) + FIELDS[3:],
               FIELDS[:3] + (4,) + FIELDS[4:], FIELDS[:4] + ("appointment.Cancelled", FIELDS[5]),
               FIELDS[:5] + (FIELDS[5].replace(b"Client", b"Doctor"),)]
    assert all(event_hash(*fields) != original for fields in changed)  # type: ignore[arg-type]


def test_moving_bytes_between_fields_changes_the_hash():
    # Without the length prefixes "acme" + "1..." and "acme1" + "..." would hash alike
    assert event_hash(GENESIS, "acme", "1x", 3, "t", b"s") != event_hash(
        GENESIS, "acme1", "x", 3, "t", b"s")
