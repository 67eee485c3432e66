"""Walk each organisation's hash chain and hold it against the signed checkpoints.

Reports the first problem of each organisation, and every stored event that is in
no chain: an altered event (its content no longer matches its hash), a removed one
(its row gone, or a gap in the organisation's sequence), an inserted one (in no
chain, or out of sequence), a reordered one (its recorded content now sits at
another position), and a chain that differs from what a checkpoint signed.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg import Cursor
from psycopg.sql import Composable

from services.booking.audit import chain
from services.booking.audit.checkpoints import Checkpoint

REORDER_WINDOW = 100_000  # later entries searched for content that moved


@dataclass(frozen=True)
class Problem:
    position: int
    kind: str  # altered, removed, inserted, reordered, checkpoint
    detail: str
    organisation_id: str | None = None
    aggregate_id: str | None = None
    version: int | None = None

    def __str__(self) -> str:
        where = ", ".join(f"{k} {v}" for k, v in (("organisation", self.organisation_id),
                          ("aggregate", self.aggregate_id), ("version", self.version)) if v)
        return f"position {self.position}: {self.kind}: {self.detail}" + (
            f" ({where})" if where else "")


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    events: int = 0
    organisations: int = 0
    checkpoints: int = 0
    head: int = 0

    @property
    def clean(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.clean:
            return (f"verified: {self.events} events of {self.organisations} organisation(s) up to "
                    f"position {self.head}, {self.checkpoints} signed checkpoint(s) agree")
        return f"NOT verified: {len(self.problems)} problem(s); first: {self.problems[0]}"


def verify(curs: Cursor[Any], events: Composable, checkpoints: Iterable[Checkpoint],
           organisation_id: str | None = None, forged: Iterable[Problem] = ()) -> Report:
    report = Report(problems=list(forged))
    by_org: dict[str, dict[int, Checkpoint]] = {}
    for c in checkpoints:
        by_org.setdefault(c.organisation_id, {})[c.position] = c
    orgs = [organisation_id] if organisation_id else chain.organisations(curs)
    aggregates: set[str] = set()
    for org in orgs:
        report.organisations += 1
        signed = by_org.get(org, {})
        report.checkpoints += len(signed)
        problem = _walk(curs, events, org, signed, report, aggregates)
        if problem:
            report.problems.append(problem)
    for position, aggregate_id, version in chain.unchained(curs, events):
        if organisation_id is None or aggregate_id in aggregates:
            report.problems.append(Problem(position, "inserted", "the event is in no organisation's "
                                           "chain", None, aggregate_id, version))
    report.problems.sort(key=lambda p: p.position)
    return report


def _walk(curs: Cursor[Any], events: Composable, org: str, signed: dict[int, Checkpoint],
          report: Report, aggregates: set[str]) -> Problem | None:
    previous, expected, last = chain.GENESIS, 1, 0
    found: Problem | None = None
    for e in chain.entries(curs, events, org):
        if e.aggregate_id:
            aggregates.add(e.aggregate_id)
        if found:
            continue  # keep collecting the organisation's aggregates for unchained events
        found = _check(e, previous, expected, last, signed.get(e.position))
        if found and found.kind == "altered":
            break
        report.events += 1
        report.head = max(report.head, e.position)
        previous, expected, last = e.hash or previous, expected + 1, e.position
    if found and found.kind == "altered" and (moved := _moved_from(curs, events, found, previous)):
        return moved
    if found:
        return found
    for position, c in sorted(signed.items()):
        if position > last:
            return Problem(position, "removed", f"checkpointed at {c.time} (sequence {c.sequence}) "
                           f"but the chain ends at position {last}", org)
    return None


def _check(e: chain.Entry, previous: bytes, expected: int, last: int,
           checkpoint: Checkpoint | None) -> Problem | None:
    def problem(kind: str, detail: str) -> Problem:
        return Problem(e.position, kind, detail, e.organisation_id, e.aggregate_id, e.version)

    if e.hash is None or e.sequence is None:
        return problem("inserted", "the event has no hash: it was not chained when stored")
    if e.sequence > expected:
        return problem("removed", f"events no. {expected}..{e.sequence - 1} of the organisation "
                       f"are missing between positions {last} and {e.position}")
    if e.sequence < expected:
        return problem("inserted", f"sequence {e.sequence} where {expected} was due")
    if e.state is None:
        return problem("removed", "the stored event is gone (its chain entry remains)")
    if e.recompute(previous) != e.hash:
        return problem("altered", "its content does not match its hash")
    if checkpoint and checkpoint.hash != e.hash.hex():
        return problem("altered", f"the chain differs from the checkpoint signed at "
                       f"{checkpoint.time}: it was rewritten up to here")
    return None


def _moved_from(curs: Cursor[Any], events: Composable, at: Problem,
                previous: bytes) -> Problem | None:
    """Whether the content recorded at `at` now sits at a later position (a swap)."""
    entries = chain.entries(curs, events, at.organisation_id or "", at.position - 1)
    first = next(entries, None)
    if first is None or first.hash is None:
        return None
    for n, other in enumerate(entries):
        if n >= REORDER_WINDOW:
            break
        if other.state is None or other.aggregate_id is None or other.version is None \
                or other.topic is None:
            continue
        candidates = [(first.aggregate_id, first.version, first.topic, other.state),
                      (other.aggregate_id, other.version, other.topic, other.state)]
        for aggregate_id, version, topic, state in candidates:
            if aggregate_id is None or version is None or topic is None:
                continue
            if chain.event_hash(previous, first.organisation_id, aggregate_id, version, topic,
                                state) == first.hash:
                return Problem(at.position, "reordered", f"what was recorded here is now at "
                               f"position {other.position}", at.organisation_id, at.aggregate_id,
                               at.version)
    return None
