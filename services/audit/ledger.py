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

from contracts.catalog import CASE_ID, CASE_TYPES
from contracts.envelope import GENESIS_HASH, Envelope, chain_hash, parse_record
from contracts.registry import REGISTRY
from services.common.settings import Settings

# An auditor at a terminal should hear within seconds that the broker is not there.
BOOTSTRAP_TIMEOUT_MS = 5_000


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
    hashes: dict[str, dict[int, str]] = field(default_factory=dict)
    last: dict[str, Position] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Whether nothing is wrong."""
        return not self.findings


def stream_of(case_id: str) -> str:
    """Return the stream a case id belongs to, or raise CaseIdError."""
    prefix, _, rest = case_id.partition("-")
    if prefix not in CASE_TYPES or not rest or not rest.isalnum():
        raise CaseIdError(f"{case_id!r} is not a case id (like GRV-1A2B3C4D5E6F)")
    return CASE_TYPES[prefix].stream


def partition_of(case_id: str, partitions: int) -> int:
    """Return the partition the producers' default partitioner gives a case key."""
    return int(murmur2(case_id.encode()) & 0x7FFFFFFF) % partitions


def _consumer(settings: Settings) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        # Reads stop at known offsets, so a fetch need not linger for more data.
        fetch_max_wait_ms=10,
        request_timeout_ms=15_000,
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        client_id="taizhang-audit",
    )


def read_partitions(
    settings: Settings,
    parts: list[TopicPartition],
    starts: dict[TopicPartition, int] | None = None,
    ends: dict[TopicPartition, int] | None = None,
) -> Iterator[LogRecord]:
    """Yield every record of the partitions from `starts` (else the beginning) to `ends`."""
    if not parts:
        return
    consumer = _consumer(settings)
    try:
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        for tp, offset in (starts or {}).items():
            consumer.seek(tp, offset)
        stops = dict(ends) if ends is not None else consumer.end_offsets(parts)
        remaining = {tp for tp in parts if stops[tp] > consumer.position(tp)}
        while remaining:
            batch = consumer.poll(timeout_ms=1000, max_records=5000)
            for tp, msgs in batch.items():
                for m in msgs:
                    if m.offset >= stops[tp]:
                        remaining.discard(tp)
                        continue
                    key = m.key.decode(errors="replace") if m.key is not None else None
                    yield LogRecord(Position(m.topic, m.partition, m.offset), key, m.value or b"")
                if consumer.position(tp) >= stops[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()


def fetch(settings: Settings, positions: Iterable[Position]) -> list[LogRecord]:
    """Return exactly the records at the given positions, in log order, without a scan."""
    wanted: dict[TopicPartition, list[int]] = defaultdict(list)
    for pos in positions:
        wanted[TopicPartition(pos.topic, pos.partition)].append(pos.offset)
    if not wanted:
        return []
    found: dict[Position, LogRecord] = {}
    consumer = _consumer(settings)
    try:
        consumer.assign(list(wanted))
        for tp, offsets in wanted.items():
            todo = sorted(set(offsets))
            while todo:
                consumer.seek(tp, todo[0])
                batch = consumer.poll(timeout_ms=5000, max_records=500).get(tp, [])
                if not batch:
                    raise LookupError(
                        f"{tp.topic}/{tp.partition}@{todo[0]} is no longer in the log"
                    )
                for m in batch:
                    if m.offset in todo:
                        key = m.key.decode(errors="replace") if m.key is not None else None
                        pos = Position(m.topic, m.partition, m.offset)
                        found[pos] = LogRecord(pos, key, m.value or b"")
                done = batch[-1].offset
                todo = [o for o in todo if o > done]
    finally:
        consumer.close()
    missing = sum(len(set(o)) for o in wanted.values()) - len(found)
    if missing:
        raise LookupError(f"{missing} indexed record(s) are no longer in the log")
    return [found[p] for p in sorted(found, key=lambda p: (p.topic, p.partition, p.offset))]


def case_records(settings: Settings, case_id: str) -> list[LogRecord]:
    """Return the records keyed by a case, in log order (one partition is scanned)."""
    tp = case_partition(settings, case_id)
    return [r for r in read_partitions(settings, [tp]) if r.key == case_id]


def case_partition(settings: Settings, case_id: str) -> TopicPartition:
    """Return the partition of its stream's events topic that holds a case."""
    topic = settings.topic(f"{stream_of(case_id)}.events")
    consumer = _consumer(settings)
    try:
        partitions = consumer.partitions_for_topic(topic)
    finally:
        consumer.close()
    if not partitions:
        raise LookupError(f"topic {topic} does not exist")
    return TopicPartition(topic, partition_of(case_id, len(partitions)))


def event_partitions(settings: Settings, streams: Iterable[str]) -> list[TopicPartition]:
    """Return every partition of the given streams' events topics that exists."""
    return topic_partitions(settings, [settings.topic(f"{s}.events") for s in streams])


def topic_partitions(settings: Settings, topics: Iterable[str]) -> list[TopicPartition]:
    """Return every partition of the topics that exist, asking the cluster once."""
    consumer = _consumer(settings)
    try:
        return [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
    finally:
        consumer.close()


def end_offsets(settings: Settings, parts: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Return the current end offset of each partition."""
    consumer = _consumer(settings)
    try:
        ends: dict[TopicPartition, int] = consumer.end_offsets(parts)
        return ends
    finally:
        consumer.close()


def all_records(settings: Settings, streams: Iterable[str]) -> Iterator[LogRecord]:
    """Yield every record of the given streams' events topics."""
    yield from read_partitions(settings, event_partitions(settings, streams))


@dataclass
class _Chain:
    """What the verifier remembers of one case while reading the log: never its records."""

    expected: int = 1
    prev: str = GENESIS_HASH
    seen: dict[int, tuple[str, Position]] = field(default_factory=dict)
    last: Position | None = None


def verify(
    records: Iterable[LogRecord], verdict: Verdict | None = None, *, references: bool = False
) -> Verdict:
    """Check hash chains, versions, schemas and duplicates of every case in the records.

    With `references`, ids of other cases named by an event (its correlation id or a
    payload field) must be cases present in the records too.
    """
    verdict = verdict or Verdict()
    chains: dict[str, _Chain] = {}
    named: list[tuple[str, Position, str, str]] = []
    for rec in records:
        case_id = rec.key or "(no key)"
        chain = chains.get(case_id)
        if chain is None:
            chain = chains[case_id] = _Chain()
            verdict.cases += 1
        _verify_record(case_id, rec, chain, verdict, named)
    for case_id, chain in chains.items():
        verdict.heads[case_id] = (chain.expected - 1, chain.prev)
        verdict.hashes[case_id] = {v: h for v, (h, _) in chain.seen.items()}
        if chain.last is not None:
            verdict.last[case_id] = chain.last
    if references:
        reported: set[tuple[str, str]] = set()
        for case_id, pos, where, other in named:
            if other not in chains and (case_id, other) not in reported:
                reported.add((case_id, other))
                verdict.findings.append(
                    Finding(
                        case_id, pos, "reference", f"{where} names {other}, which is not in the log"
                    )
                )
    return verdict


def _verify_record(
    case_id: str,
    rec: LogRecord,
    chain: _Chain,
    verdict: Verdict,
    named: list[tuple[str, Position, str, str]],
) -> None:
    def report(kind: str, detail: str) -> None:
        verdict.findings.append(Finding(case_id, rec.position, kind, detail))

    verdict.events += 1
    chain.last = rec.position
    try:
        raw, env = parse_record(rec.value)
    except (ValueError, ValidationError) as exc:
        report("unreadable", str(exc).splitlines()[0][:200])
        return
    if env.case_id != case_id:
        report("foreign", f"record keyed {case_id} carries case {env.case_id}")
        return
    if chain_hash(raw) != raw["hash"]:
        report("altered", f"version {env.case_version}: content does not match its hash")
        return
    try:
        REGISTRY.read(env)
    except (ValueError, ValidationError) as exc:
        report(
            "schema", f"{env.event_type} v{env.schema_version}: {str(exc).splitlines()[0][:200]}"
        )
        return
    first = chain.seen.get(env.case_version)
    if first is not None:
        if first[0] == env.hash:
            verdict.redeliveries += 1
        else:
            report(
                "conflict", f"a second, different version {env.case_version} (first at {first[1]})"
            )
        return
    if env.case_version != chain.expected:
        report("gap", f"expected version {chain.expected}, found {env.case_version}")
    elif env.prev_hash != chain.prev:
        report(
            "broken-chain",
            f"version {env.case_version} does not chain from version {chain.expected - 1}",
        )
    chain.seen[env.case_version] = (env.hash, rec.position)
    chain.prev, chain.expected = env.hash, env.case_version + 1
    for where, other in case_references(env):
        if other != case_id:
            named.append((case_id, rec.position, where, other))


def case_references(env: Envelope) -> list[tuple[str, str]]:
    """Return (where, case id) for every other case an event names."""
    out = []
    if CASE_ID.match(env.correlation_id):
        out.append(("correlation_id", env.correlation_id))
    if CASE_ID.match(env.causation_id):
        out.append(("causation_id", env.causation_id))
    for key, value in env.payload.items():
        if isinstance(value, str) and CASE_ID.match(value):
            out.append((f"payload.{key}", value))
    return out


def check_checkpoint(verdict: Verdict, heads: dict[str, tuple[int, str]], where: Position) -> None:
    """Report every case a signed checkpoint saw that the log no longer holds as it was."""
    for case_id, (version, digest) in sorted(heads.items()):
        hashes = verdict.hashes.get(case_id)
        pos = verdict.last.get(case_id, where)
        if hashes is None:
            verdict.findings.append(
                Finding(
                    case_id,
                    where,
                    "checkpoint",
                    f"the checkpoint at {where} saw version"
                    f" {version}, the log has no such case any more",
                )
            )
        elif version not in hashes:
            verdict.findings.append(
                Finding(
                    case_id,
                    pos,
                    "checkpoint",
                    f"truncated: the checkpoint at {where} saw"
                    f" version {version}, the log ends at {max(hashes, default=0)}",
                )
            )
        elif hashes[version] != digest:
            verdict.findings.append(
                Finding(
                    case_id,
                    pos,
                    "checkpoint",
                    f"rewritten: version {version} no longer has"
                    f" the hash the checkpoint at {where} signed ({digest[:12]}…)",
                )
            )


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
