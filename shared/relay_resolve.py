"""The operator's side of a halted relay: `status` and `resolve` (README runbook).

`resolve --position N --by NAME --reason WHY` and one of:
- `--republish-corrected FILE`: FILE holds the event's corrected stored bytes
  (as the event table keeps them: its JSON, e.g. from a backup). They must
  convert, and pass every check, before anything is recorded; the relay then
  publishes the event from them, under the id it always had, and rebuilds the
  aggregate from them for the events after it. The stored row is not touched.
- `--skip-with-record`: the event is never published (one that should not
  exist, such as a forged insert); consumers never hear of it.

Either way the decision (who, when, why, what, the bytes and their SHA-256)
goes to `relay_decisions` in the transaction that lifts the halt. Exit code 0:
recorded; 2: refused (nothing recorded), with the reason on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from shared import relay_halt
from shared.relay import ToMessages
from shared.relay_halt import Check, Line, Refused


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Publish the outbox to Kafka; "
                                "see where it is halted; resume it by an audited decision.")
    commands = p.add_subparsers(dest="command")
    commands.add_parser("status", help="print whether the relay is halted, where and why")
    resolve = commands.add_parser("resolve", help="resume a halted relay by a recorded decision")
    resolve.add_argument("--position", type=int, required=True, help="where it is halted")
    resolve.add_argument("--by", required=True, help=f"who decides (1-{relay_halt.MAX_BY} chars)")
    resolve.add_argument("--reason", required=True,
                         help=f"why (1-{relay_halt.MAX_WHY} characters)")
    action = resolve.add_mutually_exclusive_group(required=True)
    action.add_argument("--republish-corrected", type=Path, metavar="FILE",
                        help="corrected stored bytes of the event (at most 1 MiB)")
    action.add_argument("--skip-with-record", action="store_true",
                        help="never publish this event")
    return p


def main(argv: Sequence[str], application: Any, to_messages: ToMessages, database_url: str,
         name: str, checks: Sequence[Check] = ()) -> int:
    args = parser(f"relay ({name})").parse_args(argv)
    line = Line(database_url, name)
    if args.command == "status":
        halt = line.halt()
        print(f"relay {name} " + (halt.describe() if halt else "is not halted"))
        return 1 if halt else 0
    try:
        if args.skip_with_record:
            decision = line.decide(args.position, relay_halt.SKIP, args.by, args.reason)
            published = None
        else:
            corrected = _read(args.republish_corrected)
            published = check_corrected(application, to_messages, line, args.position,
                                        corrected, checks)
            decision = line.decide(args.position, relay_halt.REPUBLISH, args.by, args.reason,
                                   corrected)
    except Refused as e:
        print(f"refused, nothing recorded: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"decision": decision, "relay": name, "position": args.position,
                      "action": "skip" if args.skip_with_record else relay_halt.REPUBLISH,
                      "will_publish": published}))
    return 0


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > relay_halt.MAX_CORRECTED_BYTES:
            raise Refused(f"--republish-corrected: larger than "
                          f"{relay_halt.MAX_CORRECTED_BYTES} bytes")
        return path.read_bytes()
    except OSError as e:
        raise Refused(f"--republish-corrected: {e}") from e


def check_corrected(application: Any, to_messages: ToMessages, line: Line, position: int,
                    corrected: bytes, checks: Sequence[Check]) -> list[dict[str, Any]]:
    """What the relay will publish from `corrected` at `position`; Refused if nothing can be."""
    halt = line.halt()
    if halt is None or halt.position != position:
        raise Refused(f"relay {line.name} is not halted at position {position}"
                      + (f"; it is {halt.describe()}" if halt else ""))
    stored = application.recorder.select_notifications(start=position, limit=1)
    if not stored or stored[0].id != position:
        raise Refused(f"no stored event at position {position}")
    candidate = replace(stored[0], state=corrected)
    known = {(d.aggregate_id, d.aggregate_version): d.corrected
             for d in line.decisions().values() if d.corrected is not None}
    known[(str(candidate.originator_id), candidate.originator_version)] = corrected
    relay_halt.install(application, lambda: known)
    reason, messages = relay_halt.first_reason(
        candidate, checks, lambda one: to_messages(application, [one]))
    if reason:
        raise Refused(f"the corrected copy cannot be published either: {reason}")
    return [{"topic": topic, "key": key, "id": event.id, "type": event.type}
            for topic, key, event in messages]
