"""The Ed25519 key that signs checkpoints: a PEM file named by `AUDIT_SIGNING_KEY`;
unset (development), one generated once under the data folder. Whoever verifies
needs only the public key (`AUDIT_PUBLIC_KEY`, the `.pub.pem` file beside a
generated key, or `GET /v1/audit/public_key`)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared import config


def signing_key_path() -> Path:
    given = config.get("AUDIT_SIGNING_KEY")
    return Path(given) if given else Path(config.require("DATA_DIR")) / "audit" / "signing-key.pem"


def signing_key(path: Path | None = None) -> Ed25519PrivateKey:
    """The private key; in development (no `AUDIT_SIGNING_KEY`) created on first use."""
    path = path or signing_key_path()
    if not path.exists() and not config.get("AUDIT_SIGNING_KEY"):
        _generate(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} holds no Ed25519 private key")
    return key


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # Written aside, then linked into place: two processes starting at once keep the
    # first key, and none ever reads a half-written file.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        os.link(temporary, path)
    except FileExistsError:
        return
    finally:
        os.unlink(temporary)
    public_path(path).write_bytes(public_pem(key.public_key()))


def public_path(private_path: Path) -> Path:
    return private_path.with_suffix(".pub.pem")


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key(path: Path | None = None) -> Ed25519PublicKey:
    """The key checkpoints are verified with: `path`, `AUDIT_PUBLIC_KEY`, else the public
    half of the signing key."""
    given = path or (Path(p) if (p := config.get("AUDIT_PUBLIC_KEY")) else None)
    if given is None:
        return signing_key().public_key()
    key = serialization.load_pem_public_key(given.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{given} holds no Ed25519 public key")
    return key
