"""A case's family across services: the index's tree of causing events, or a scan of the log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from contracts.envelope import Envelope
from services.audit.index import CaseIndex, Lineage, index_path
from services.audit.kinds import kind_of
from services.audit.records import (
    LogRecord,
    NoSuchCase,
    all_records,
    envelopes,
    reading,
    stream_of,
)
from services.audit.replay import case_history
from services.common.kafka import STREAMS
from services.common.settings import Settings

# Payload fields through which one case names another across services.
LINK_FIELDS = ("grievance_id", "source_case_id", "dispute_id")


class IndexNotReady(LookupError):
    """The per-case index has not been built on this machine yet."""


@dataclass(frozen=True)
class Member:
    """One case of a family: its status now, what it was opened in the name of, its events."""

    case_id: str
    status: Any
    correlation_id: str
    caused_by: str
    events: list[str]


@dataclass(frozen=True)
class Family:
    """Every case linked to one case, each replayed; the tree when the index knows the case."""

    case_id: str
    cases: list[Member]
    # None when the family was found by reading the log itself.
    tree: Lineage | None


def _links(events: list[Envelope]) -> set[str]:
    """Every case a case's events name: its correlation and the cases its payloads point to."""
    named = {events[0].correlation_id} if events else set()
    for env in events:
        named |= {str(env.payload[f]) for f in LINK_FIELDS if env.payload.get(f)}
    return named


def lineage(records: Iterable[LogRecord], case_id: str) -> dict[str, list[Envelope]]:
    """Return every case linked to `case_id` across services, each with its events."""
    by_case: dict[str, list[LogRecord]] = defaultdict(list)
    for rec in records:
        if rec.key:
            by_case[rec.key].append(rec)
    cases = {cid: envelopes(recs) for cid, recs in by_case.items()}
    links = {cid: _links(events) for cid, events in cases.items() if events}
    found = {case_id} if case_id in cases else set()
    while True:
        grown = set(found)
        for cid in found:
            grown |= {c for c in links.get(cid, ()) if c in cases}
        grown |= {cid for cid, named in links.items() if named & found}
        if grown == found:
            break
        found = grown
    seen = {cid: index for index, cid in enumerate(cases)}
    ordered = sorted(found, key=lambda c: (cases[c][0].recorded_at, seen[c]))
    return {cid: cases[cid] for cid in ordered}


def indexed(settings: Settings, *, case_id: str) -> Lineage:
    """Return the index's tree of cases linked to a case; raise IndexNotReady or NoSuchCase."""
    stream_of(case_id)
    path = index_path(settings)
    if not path.exists():
        raise IndexNotReady("the audit index has not been built yet")
    index = CaseIndex(path, readonly=True)
    try:
        if not index.entries(case_id):
            raise NoSuchCase(f"no case {case_id} in the index")
        return index.lineage(case_id)
    finally:
        index.close()


def family(settings: Settings, *, case_id: str) -> Family:
    """Return a case's family, each case replayed: from the index if it knows the case."""
    try:
        tree: Lineage | None = indexed(settings, case_id=case_id)
    except (IndexNotReady, NoSuchCase):
        tree = None
    with reading():
        if tree is not None:
            found = {cid: envelopes(case_history(settings, case_id=cid)) for cid in tree.cases}
        else:
            # No index on this machine: find the family by reading the log itself.
            case_history(settings, case_id=case_id)
            found = lineage(all_records(settings, STREAMS), case_id)
    members = [
        Member(
            case_id=cid,
            status=getattr(kind_of(cid).replay(events), "status", None),
            correlation_id=events[0].correlation_id,
            caused_by=events[0].causation_id,
            events=[e.event_type for e in events],
        )
        for cid, events in found.items()
        if events
    ]
    return Family(case_id=case_id, cases=members, tree=tree)
