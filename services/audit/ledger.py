"""Reading a case's history straight from the log, and checking it: chain, versions, schemas."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2
from pydantic import ValidationError

from contracts.envelope import GENESIS_HASH, Envelope, chain_hash, parse_record
from contracts.registry import REGISTRY
from services.common.settings import Settings

STREAM_OF_PREFIX = {
    "GRV": "grievance",
    "SUG": "suggestion",
    "QRY": "suggestion",
    "GRP": "suggestion",
    "DSP": "dispute",
    "FUP": "followup",
}


class CaseIdError(ValueError):
    """The text is not a case id."""


@dataclass(frozen=True)
class Position:
    """Where a record lies in the log."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


@dataclass(frozen=True)
class LogRecord:
    """One raw record of an events topic."""

    position: Position
    key: str | None
    value: bytes


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the history, and exactly where."""

    case_id: str
    position: Position
    kind: str
    detail: str


@dataclass
class Verdict:
    """The outcome of checking one or more cases."""

    cases: int = 0
    events: int = 0
    redeliveries: int = 0
    findings: list[Finding] = field(default_factory=list)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Whether nothing is wrong."""
        return not self.findings


def stream_of(case_id: str) -> str:
    """Return the stream a case id belongs to, or raise CaseIdError."""
    prefix, _, rest = case_id.partition("-")
    if prefix not in STREAM_OF_PREFIX or not rest or not rest.isalnum():
        raise CaseIdError(f"{case_id!r} is not a case id (like GRV-1A2B3C4D5E6F)")
    return STREAM_OF_PREFIX[prefix]


def partition_of(case_id: str, partitions: int) -> int:
    """Return the partition the producers' default partitioner gives a case key."""
    return int(murmur2(case_id.encode()) & 0x7FFFFFFF) % partitions


def _consumer(settings: Settings) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        request_timeout_ms=15_000,
        client_id="taizhang-audit",
    )


def read_partitions(settings: Settings, parts: list[TopicPartition]) -> Iterator[LogRecord]:
    """Yield every record of the partitions from the start to their current end."""
    consumer = _consumer(settings)
    try:
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        remaining = {tp for tp in parts if ends[tp] > consumer.position(tp)}
        while remaining:
            batch = consumer.poll(timeout_ms=1000, max_records=5000)
            for tp, msgs in batch.items():
                for m in msgs:
                    if m.offset >= ends[tp]:
                        remaining.discard(tp)
                        continue
                    key = m.key.decode(errors="replace") if m.key is not None else None
                    yield LogRecord(Position(m.topic, m.partition, m.offset), key, m.value or b"")
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()


def case_records(settings: Settings, case_id: str) -> list[LogRecord]:
    """Return the records keyed by a case, in log order (one partition is scanned)."""
    topic = settings.topic(f"{stream_of(case_id)}.events")
    consumer = _consumer(settings)
    try:
        partitions = consumer.partitions_for_topic(topic)
    finally:
        consumer.close()
    if not partitions:
        raise LookupError(f"topic {topic} does not exist")
    tp = TopicPartition(topic, partition_of(case_id, len(partitions)))
    return [r for r in read_partitions(settings, [tp]) if r.key == case_id]


def all_records(settings: Settings, streams: Iterable[str]) -> Iterator[LogRecord]:
    """Yield every record of the given streams' events topics."""
    consumer = _consumer(settings)
    try:
        parts = [
            TopicPartition(settings.topic(f"{s}.events"), p)
            for s in streams
            for p in sorted(consumer.partitions_for_topic(settings.topic(f"{s}.events")) or ())
        ]
    finally:
        consumer.close()
    yield from read_partitions(settings, parts)


def verify(records: Iterable[LogRecord], verdict: Verdict | None = None) -> Verdict:
    """Check hash chains, versions, schemas and duplicates of every case in the records."""
    verdict = verdict or Verdict()
    by_case: dict[str, list[LogRecord]] = defaultdict(list)
    for rec in records:
        by_case[rec.key or "(no key)"].append(rec)
    for case_id, recs in by_case.items():
        verdict.cases += 1
        _verify_case(case_id, recs, verdict)
    return verdict


def _verify_case(case_id: str, recs: list[LogRecord], verdict: Verdict) -> None:
    expected, prev = 1, GENESIS_HASH
    seen: dict[int, LogRecord] = {}

    def report(rec: LogRecord, kind: str, detail: str) -> None:
        verdict.findings.append(Finding(case_id, rec.position, kind, detail))

    for rec in recs:
        verdict.events += 1
        try:
            raw, env = parse_record(rec.value)
        except (ValueError, ValidationError) as exc:
            report(rec, "unreadable", str(exc).splitlines()[0][:200])
            continue
        if env.case_id != case_id:
            report(rec, "foreign", f"record keyed {case_id} carries case {env.case_id}")
            continue
        if chain_hash(raw) != raw["hash"]:
            report(rec, "altered", f"version {env.case_version}: content does not match its hash")
            continue
        try:
            REGISTRY.read(env)
        except (ValueError, ValidationError) as exc:
            report(
                rec,
                "schema",
                f"{env.event_type} v{env.schema_version}: {str(exc).splitlines()[0][:200]}",
            )
            continue
        first = seen.get(env.case_version)
        if first is not None:
            if first.value == rec.value:
                verdict.redeliveries += 1
            else:
                report(
                    rec,
                    "conflict",
                    f"a second, different version {env.case_version} (first at {first.position})",
                )
            continue
        if env.case_version != expected:
            report(rec, "gap", f"expected version {expected}, found {env.case_version}")
        elif env.prev_hash != prev:
            report(
                rec,
                "broken-chain",
                f"version {env.case_version} does not chain from version {expected - 1}",
            )
        seen[env.case_version] = rec
        prev, expected = env.hash, env.case_version + 1
    verdict.heads[case_id] = (expected - 1, prev)


def envelopes(records: Iterable[LogRecord]) -> list[Envelope]:
    """Return the distinct, readable envelopes of a case in version order (redeliveries dropped)."""
    out: dict[int, Envelope] = {}
    for rec in records:
        try:
            _, env = parse_record(rec.value)
        except (ValueError, ValidationError):
            continue
        out.setdefault(env.case_version, env)
    return [out[v] for v in sorted(out)]


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


# Payload fields through which one case names another across services.
LINK_FIELDS = ("grievance_id", "source_case_id", "dispute_id")


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
