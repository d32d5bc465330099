"""A unit's cases folded from the events topics, for the 台账.

Each partition is read once, in order, up to what the audit's index has filed. The index
says where each case's last record lies, so a case is handed on and let go as soon as that
record is read: what is held at once is the cases under way at one point of the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafka import TopicPartition
from pydantic import BaseModel

from contracts.envelope import Envelope, chain_hash, format_ts, parse_record
from contracts.personal import Sealed
from contracts.registry import REGISTRY
from services.audit.index import CaseIndex
from services.audit.ledgerstore import Folded, fold_step, kind_of_stream, sealed_name
from services.audit.records import read_partitions, reading
from services.common.decider import CaseKind
from services.common.settings import Settings
from services.common.units import within


@dataclass
class _Case:
    stream: str
    kind: CaseKind[Any]
    version: int
    state: BaseModel
    opened_at: str
    updated_at: str
    correlation_id: str
    person: Sealed | None
    # A version was missing, or recorded after the cut: later ones are not folded.
    stopped: bool = False


def folded_cases(
    settings: Settings, index: CaseIndex, streams: list[str], unit: str, as_of: datetime | None
) -> Iterator[Folded]:
    """Yield every case of the streams in the unit's subtree, as the index's records fold it.

    With `as_of`, as the events recorded by then fold it; a case opened later is left out.
    The streams' partitions are read together, by one client.
    """
    kinds = {settings.topic(f"{s}.events"): (s, kind_of_stream(s)) for s in streams}
    ends = {
        TopicPartition(t, p): o for (t, p), o in index.offsets().items() if t in kinds and o > 0
    }
    plans = {tp: index.partition_plan(tp.topic, tp.partition) for tp in ends}
    cut = format_ts(as_of) if as_of is not None else None
    cases: dict[str, _Case] = {}
    elsewhere: set[str] = set()
    with reading():
        for rec in read_partitions(settings, sorted(ends), ends=ends):
            tp = TopicPartition(rec.position.topic, rec.position.partition)
            last, refused = plans[tp]
            if rec.position.offset in refused:
                continue  # not believed: the index filed only its place
            if rec.key is not None and rec.key in elsewhere:
                # A case of another unit, or one not folded: its records are not even read.
                if rec.position.offset >= last.get(rec.key, ends[tp]):
                    elsewhere.discard(rec.key)
                continue
            env = _envelope(rec.value)
            if env is None:
                continue
            stream, kind = kinds[tp.topic]
            case_id = env.case_id
            if case_id not in elsewhere:
                _fold(cases, elsewhere, stream, kind, env, unit, cut)
            if rec.position.offset >= last.get(case_id, ends[tp]):
                elsewhere.discard(case_id)
                held = cases.pop(case_id, None)
                if held is not None:
                    yield _done(case_id, stream, held)
    for case_id, held in cases.items():
        yield _done(case_id, held.stream, held)


def _envelope(value: bytes) -> Envelope | None:
    """A record's envelope, if it reads and its hash matches what it holds."""
    try:
        raw, env = parse_record(value)
    except Exception:  # whatever a record holds, the ledger goes on without it
        return None
    return env if chain_hash(raw) == raw.get("hash") else None


def _fold(
    cases: dict[str, _Case],
    elsewhere: set[str],
    stream: str,
    kind: CaseKind[Any],
    env: Envelope,
    unit: str,
    cut: str | None,
) -> None:
    held = cases.get(env.case_id)
    wire = env.to_wire()
    late = cut is not None and wire["recorded_at"] > cut
    step = fold_step(
        held.version if held else None, bool(held and held.stopped), env.case_version, late
    )
    if step == "skip":
        return  # a redelivery, or after a gap
    if step == "stop" and held is not None:
        held.stopped = True
        return
    if step == "never":
        elsewhere.add(env.case_id)
        return
    if step == "open":
        case_kind = kind.of(env.case_id)
        state = case_kind.evolve(None, env, REGISTRY.read(env))
        if not within(unit, str(getattr(state, "unit", ""))):
            elsewhere.add(env.case_id)
            return
        cases[env.case_id] = _Case(
            stream,
            case_kind,
            1,
            state,
            wire["occurred_at"],
            wire["occurred_at"],
            env.correlation_id,
            sealed_name(env.payload),
        )
        return
    assert held is not None, "only a case folded so far evolves"
    held.state = held.kind.evolve(held.state, env, REGISTRY.read(env))
    held.version, held.updated_at = env.case_version, wire["occurred_at"]


def _done(case_id: str, stream: str, held: _Case) -> Folded:
    state = held.state
    return Folded(
        case_id=case_id,
        stream=stream,
        unit=str(getattr(state, "unit", "")),
        status=str(getattr(state, "status", "")),
        opened_at=held.opened_at,
        updated_at=held.updated_at,
        correlation_id=held.correlation_id,
        state=state.model_dump(mode="json"),
        person=held.person,
    )
