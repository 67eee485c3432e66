"""Bearer tokens for the scenarios: one organisation, one role each."""
from __future__ import annotations

from shared import auth


def bearer(org: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.issue(org, list(roles), subject=f'{org}-{roles[0]}')}"}
