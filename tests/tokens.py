"""Bearer tokens with exactly the claims a test chooses, malformed ones included
(shared/auth.py must refuse each, naming the claim)."""
from __future__ import annotations

import os
import time
from typing import Any

import jwt


def signed(**claims: Any) -> str:
    """A correctly signed token: a valid agent of acme, changed by `claims` (None drops one)."""
    base = {"sub": "ann", "org": "acme", "roles": ["agent"], "exp": int(time.time()) + 600}
    body = {k: v for k, v in {**base, **claims}.items() if v is not None}
    return jwt.encode(body, os.environ["JWT_SECRET"], algorithm="HS256")


MALFORMED: list[tuple[dict[str, Any], str]] = [  # (claims, the claim the refusal names)
    ({"org": ["acme", "other"]}, "org"),
    ({"org": ""}, "org"),
    ({"org": "Acme"}, "org"),
    ({"org": "acme clinic"}, "org"),
    ({"org": "a" * 65}, "org"),
    ({"org": 42}, "org"),
    ({"org": None}, "org"),
    ({"org": "*"}, "org"),                               # reserved for the platform role
    ({"roles": [["manager"]]}, "roles"),
    ({"roles": []}, "roles"),
    ({"roles": "manager"}, "roles"),
    ({"roles": ["manager", "root"]}, "roles"),
    ({"roles": None}, "roles"),
    ({"roles": ["platform"]}, "org"),                   # no organisation's token carries it
    ({"roles": ["platform", "service"], "org": "*"}, "roles"),
    ({"sub": 7}, "sub"),
    ({"sub": ""}, "sub"),
    ({"sub": None}, "sub"),
    ({"exp": None}, "exp"),
    ({"exp": 1}, "exp"),                               # long past
]
