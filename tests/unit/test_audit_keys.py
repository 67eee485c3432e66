"""The checkpoint signing key: generated once in development, readable only by its owner,
its public half beside it; a configured key is never replaced by a generated one."""
from __future__ import annotations

import stat

import pytest

from services.booking.audit import keys


def test_the_development_key_is_generated_once_with_its_public_half_beside_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AUDIT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("AUDIT_PUBLIC_KEY", raising=False)
    first = keys.signing_key()
    path = tmp_path / "audit" / "signing-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = keys.signing_key()
    assert keys.public_pem(again.public_key()) == keys.public_pem(first.public_key())
    assert keys.public_path(path).read_bytes() == keys.public_pem(first.public_key())
    signature = first.sign(b"checkpoint")
    keys.public_key(keys.public_path(path)).verify(signature, b"checkpoint")  # raises if wrong


def test_a_configured_key_that_is_missing_is_an_error_not_a_new_key(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_SIGNING_KEY", str(tmp_path / "absent.pem"))
    with pytest.raises(FileNotFoundError):
        keys.signing_key()
    assert not (tmp_path / "absent.pem").exists()
