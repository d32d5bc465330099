"""One case as the ledger had it at a moment: found through the index, rebuilt by its own rules."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError
from pydantic import BaseModel

from contracts.catalog import STREAMS
from contracts.envelope import Envelope, format_ts
from contracts.registry import REGISTRY
from services.audit.index import CaseIndex, index_path
from services.audit.kinds import kind_of, load_kinds
from services.audit.records import (
    SCAN_BYTES,
    SEEK_BYTES,
    LogRecord,
    LogUnreachable,
    NoSuchCase,
    Position,
    case_records,
    envelopes,
    fetch_marked,
    partition_of,
    read_partitions,
    reading,
    stream_of,
    topic_partitions,
)
from services.audit.verification import Finding, verify
from services.common.decider import CaseKind
from services.common.keys import Trust
from services.common.settings import Settings

# Statuses after which no deadline of a case is still running, whatever the service.
FINISHED = frozenset(
    {"closed", "withdrawn", "rejected", "declined", "completed", "implemented", "performed"}
)


class NotYet(LookupError):
    """The case exists, but the ledger had not recorded it yet at the given time."""


@dataclass(frozen=True)
class Found:
    """A case's records and how they were found."""

    records: list[LogRecord]
    source: str


def find(settings: Settings, case_id: str) -> Found:
    """Return a case's records: through the index when there is one, else by a partition scan."""
    stream_of(case_id)
    path = index_path(settings)
    if not path.exists():
        return Found(case_records(settings, case_id), "scan")
    index = CaseIndex(path, readonly=True)
    try:
        entries = index.entries(case_id)
        stored = index.offsets()
    finally:
        index.close()
    topic = settings.topic(f"{stream_of(case_id)}.events")
    partitions = sorted(p for t, p in stored if t == topic)
    if not partitions:
        return Found(case_records(settings, case_id), "scan")
    tp = TopicPartition(topic, partition_of(case_id, len(partitions)))
    try:
        records, ends = fetch_marked(settings, [e.position for e in entries])
    except LookupError:
        return Found(case_records(settings, case_id), "scan")
    if any(r.key != case_id for r in records):
        # The log no longer matches the index (a topic recreated): trust the log.
        return Found(case_records(settings, case_id), "scan")
    # The index may trail the log by a moment: read the few records written since, unless
    # the fetch just made saw the partition end where the index does.
    start = stored.get((topic, tp.partition), 0)
    if ends.get(tp, start + 1) > start:
        tail = read_partitions(settings, [tp], starts={tp: start})
        records += [r for r in tail if r.key == case_id]
    return Found(records, "index")


def case_history(settings: Settings, *, case_id: str) -> list[LogRecord]:
    """Return a case's records; raise CaseIdError, NoSuchCase or LogUnreachable."""
    stream_of(case_id)
    try:
        records = find(settings, case_id).records
    except (KafkaError, LookupError) as exc:
        raise LogUnreachable(str(exc)) from exc
    if not records:
        raise NoSuchCase(f"no case {case_id} in the log")
    return records


_trusts: dict[tuple[str, str], Trust] = {}
_trusts_lock = threading.Lock()


def trust_of(settings: Settings) -> Trust:
    """What this process believes of a deployment's events: its keys, read once and kept."""
    key = (settings.kafka_bootstrap_servers, settings.topic(""))
    with _trusts_lock:
        trust = _trusts.get(key)
        if trust is None:
            trust = _trusts[key] = Trust(settings)
    return trust


def ready(settings: Settings) -> None:
    """Do once, before the first read, what every read needs: readers, keys, models and rules."""
    # A reader of each kind is left connected, knowing where every stream's events lie.
    topics = [settings.topic(f"{s}.events") for s in STREAMS]
    for fetch_bytes in (SEEK_BYTES, SCAN_BYTES):
        with reading():
            topic_partitions(settings, topics, fetch_bytes)
    for stream in STREAMS:
        REGISTRY.load(stream)
    load_kinds()
    trust_of(settings).refresh(checkpoint=True)


def checked(settings: Settings, records: list[LogRecord]) -> list[Finding]:
    """Check a case's records as verify does: hash chain, versions, schemas and signatures."""
    trust = trust_of(settings)

    def judge(env: Envelope, where: Position) -> str | None:
        return trust.judge(env, where.topic, where.partition, where.offset)

    return verify(records, admit=judge).findings


def replay_case(settings: Settings, *, case_id: str, at: datetime | None = None) -> dict[str, Any]:
    """Return a case rebuilt from the log by its own rules as it stood at `at` (now if None).

    Its records are checked as verify checks them, and anything wrong is named with its place.
    """
    records = case_history(settings, case_id=case_id)
    with reading():
        findings = checked(settings, records)
    view = as_it_stood(kind_of(case_id), case_id, envelopes(records), at)
    view["findings"] = [
        {"kind": f.kind, "position": str(f.position), "detail": f.detail} for f in findings
    ]
    return view


def as_of(events: list[Envelope], at: datetime | None) -> list[Envelope]:
    """Return the events the ledger had recorded by `at` (all when `at` is None)."""
    return events if at is None else [e for e in events if e.recorded_at <= at]


def summarise(payload: dict[str, Any]) -> str:
    """One line of an event's payload for a timeline, sealed values hidden."""
    parts = []
    for key, value in payload.items():
        if value is None:
            continue
        if isinstance(value, dict):
            value = "\\[sealed]"
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def as_it_stood(
    kind: CaseKind[Any], case_id: str, events: list[Envelope], at: datetime | None
) -> dict[str, Any]:
    """Return state, open deadlines and who had acted, as the ledger had the case at `at`."""
    known = as_of(events, at)
    if not known:
        first = format_ts(events[0].recorded_at) if events else "never"
        raise NotYet(
            f"{case_id} did not exist yet at {format_ts(at) if at else 'that time'}"
            f" (first recorded {first})"
        )
    state = kind.replay(known)
    moment = at or known[-1].recorded_at
    actors: dict[str, dict[str, Any]] = {}
    for e in known:
        who = actors.setdefault(
            e.actor.user_id,
            {
                "user_id": e.actor.user_id,
                "role": e.actor.role,
                "unit": e.actor.unit,
                "events": 0,
                "first": format_ts(e.recorded_at),
            },
        )
        who["events"] += 1
        who["last"] = format_ts(e.recorded_at)
    return {
        "case_id": case_id,
        "at": format_ts(at) if at else None,
        "version": known[-1].case_version,
        "state": state.model_dump(mode="json") if state is not None else None,
        "open_deadlines": open_deadlines(state, moment),
        "actors": list(actors.values()),
        "timeline": [_line(e) for e in known],
    }


def _line(e: Envelope) -> dict[str, Any]:
    return {
        "version": e.case_version,
        "event_type": e.event_type,
        "recorded_at": format_ts(e.recorded_at),
        "occurred_at": format_ts(e.occurred_at),
        "actor": e.actor.model_dump(mode="json"),
        "summary": summarise(e.payload),
        "event_id": str(e.event_id),
        "causation_id": e.causation_id,
    }


def open_deadlines(state: BaseModel | None, at: datetime) -> list[dict[str, Any]]:
    """Return the deadlines still running at `at`: every `*_due`/`*_by` date not yet met.

    A deadline counts as met when the state records a matching `*_at` time (ack_due and
    acknowledged_at) or the case is finished; this holds for every service's state shape.
    """
    if state is None:
        return []
    data = state.model_dump()
    if str(data.get("status", "")) in FINISHED:
        return []
    done = [k[:-3] for k, v in data.items() if k.endswith("_at") and v is not None]
    out = []
    for name, value in data.items():
        if not (name.endswith(("_due", "_by")) or name == "due") or value is None:
            continue
        if not isinstance(value, date):
            continue
        stage = name.rsplit("_", 1)[0]
        if any(d.startswith(stage[:3]) for d in done if d not in ("opened", "last_event")):
            continue
        day = value if not isinstance(value, datetime) else value.date()
        out.append({"deadline": name, "due": day.isoformat(), "passed": day < at.date()})
    return out
