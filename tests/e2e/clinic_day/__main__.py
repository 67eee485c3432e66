"""Play the day against a running system and print what matched:

    python -m tests.e2e.clinic_day [--booking URL] ... (see the package's docstring)
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid

from tests.e2e.clinic_day.api import DEFAULT_URLS, Api
from tests.e2e.clinic_day.expectations import Actor, DayResult, Visit
from tests.e2e.clinic_day.script import run_day
from tests.waiting import first_within


def report(urls: dict[str, str], result: DayResult, wait: float = 60.0) -> bool:
    """Print statuses, message counts and refusals; whether everything matched."""
    api = Api(urls)
    ok = True
    print(f"\nOrganisations: {result.org} (built-in lifecycle), {result.custom_org} (custom "
          f"workflow); planned day {result.day}, due visits on {result.today}")
    print(f"{'appointment':<40} {'status (expected)':<40} messages (expected)")
    for visit in result.visits.values():
        who = Actor(visit.organisation, "clinic-day-report", ("manager",))
        status = api.get(who, "booking", f"/v1/appointments/{visit.id}")["appointment"]["status"]

        def count(v: Visit = visit, w: Actor = who) -> int | None:
            n = len(api.get(w, "notifier", "/v1/mailbox", appointment_id=v.id, limit=1000)["items"])
            return n if n >= v.notifications else None
        sent = first_within(count, timeout=wait, interval=0.3) or len(api.get(
            who, "notifier", "/v1/mailbox", appointment_id=visit.id, limit=1000)["items"])
        good = status == visit.status and sent == visit.notifications
        ok &= good
        print(f"{'  ' if good else '! '}{visit.name:<38} {status + ' (' + visit.status + ')':<40}"
              f" {sent} ({visit.notifications})")
    print("\nRules met on the way:")
    for c in result.checks:
        ok &= c.passed
        answer = f"HTTP {c.status}" if c.status is not None else "got it"
        print(f"  {'ok  ' if c.passed else 'FAIL'} {c.name}: {answer} (expected {c.expected})")
    print(f"\nClient links taken from: {result.link_sources}; booking position {result.position}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.clinic_day",
                                     description="Play a scripted day at a clinic over HTTP")
    for service, url in DEFAULT_URLS.items():
        parser.add_argument(f"--{service}", default=url, help=f"{service} base URL ({url})")
    parser.add_argument("--org", default="sunny-clinic", help="organisation A (a suffix is added)")
    parser.add_argument("--custom-org", default="summit-health",
                        help="organisation B with the custom workflow (a suffix is added)")
    args = parser.parse_args()
    urls = {s: getattr(args, s) for s in DEFAULT_URLS}
    suffix = uuid.uuid4().hex[:8]
    started = time.monotonic()
    result = run_day(urls, f"{args.org}-{suffix}", f"{args.custom_org}-{suffix}")
    print(f"played in {time.monotonic() - started:.1f} s")
    sys.exit(0 if report(urls, result) else 1)


if __name__ == "__main__":
    main()
