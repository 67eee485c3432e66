"""A scripted day at a clinic, played over HTTP against a running system.

    python -m tests.e2e.clinic_day [--booking URL] [--workflow URL] [--notifier URL]
                                   [--projections URL] [--org NAME] [--custom-org NAME]

Defaults are the ports of `make run` (8001-8004). The script issues its own bearer
tokens with `shared.auth.issue`, so JWT_SECRET must match the system's (the default
of shared.config matches a plain `make run`). Organisation names get a short random
suffix, so the day can be played again and again against the same system.

Organisation A ("Sunny Clinic", Europe/Zurich) lives through the built-in
lifecycle: widget requests with tentative clients (one linked to an existing
client, one saved as a new client), approvals, an automatic confirmation, a
reschedule, a request to reschedule answered by the client through the link in the
development mailbox, a reassignment, an internal note, a cancellation, a
rejection, attendance with an outcome, a no-show that is reopened and attended,
another that stays a no-show, and feedback through the survey link.
Organisation B ("Summit Health") defines and publishes a five-step workflow
(Calenso) and moves one request through it to "Confirmed" and another straight to
"Declined".

`run_day` answers a `DayResult`: every appointment with the status it must end in,
the messages its events must cause (the rules of DOMAIN.md, "Notifications"), its
expected status history, and the refusals met on the way. The end-to-end test
(test_clinic_day.py) checks all of it against booking, projections and notifier;
run as a script (__main__.py), it checks statuses, refusals and message counts and
prints them.

Where things are: expectations.py (the rules, the people, what each appointment must
end up as), api.py (HTTP), clock.py (slots and the due visits' time), stage.py (the
cast and the moves: request, act, act through a link), scenes/ (one module per part
of the day), script.py (the order of the scenes).
"""
from __future__ import annotations

from tests.e2e.clinic_day.api import Api
from tests.e2e.clinic_day.clock import TZ, slot_at
from tests.e2e.clinic_day.expectations import (
    CANCEL_REASONS,
    KINDS,
    LINK,
    Actor,
    Check,
    Contact,
    DayError,
    DayResult,
    Visit,
)
from tests.e2e.clinic_day.script import run_day
from tests.e2e.clinic_day.stage import link_token

__all__ = ["CANCEL_REASONS", "KINDS", "LINK", "TZ", "Actor", "Api", "Check", "Contact",
           "DayError", "DayResult", "Visit", "link_token", "run_day", "slot_at"]
