"""Reading records straight from the log: a case's partition, exact positions, whole topics."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2
from pydantic import ValidationError

from contracts.catalog import CASE_TYPES
from contracts.envelope import Envelope, parse_record
from services.common import kafka as kafka_kit
from services.common import offsets
from services.common.settings import Settings

# An auditor at a terminal should hear within seconds that the broker is not there.
BOOTSTRAP_TIMEOUT_MS = 5_000
# Connected readers kept between requests, per deployment: one per request thread at most.
IDLE_READERS = 4
# What one fetch brings of a partition: much when reading on, little when reading a place
# (the broker still sends at least the whole batch the place lies in).
SCAN_BYTES = 4 * 1024 * 1024
SEEK_BYTES = 32 * 1024


class CaseIdError(ValueError):
    """The text is not a case id."""


class NoSuchCase(LookupError):
    """No record of the case is in the log (or in the index asked)."""


class LogUnreachable(Exception):
    """The broker did not answer, or the records it was asked for are gone."""


@contextmanager
def reading() -> Iterator[None]:
    """Report a broker that does not answer as LogUnreachable, with the client's own words."""
    try:
        yield
    except KafkaError as exc:
        raise LogUnreachable(str(exc)) from exc


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


def stream_of(case_id: str) -> str:
    """Return the stream a case id belongs to, or raise CaseIdError."""
    prefix, _, rest = case_id.partition("-")
    if prefix not in CASE_TYPES or not rest or not rest.isalnum():
        raise CaseIdError(f"{case_id!r} is not a case id (like GRV-1A2B3C4D5E6F)")
    return CASE_TYPES[prefix].stream


def partition_of(case_id: str, partitions: int) -> int:
    """Return the partition the producers' default partitioner gives a case key."""
    return int(murmur2(case_id.encode()) & 0x7FFFFFFF) % partitions


def _consumer(settings: Settings, fetch_bytes: int = SCAN_BYTES) -> KafkaConsumer:
    return kafka_kit.log_consumer(
        settings,
        group_id=None,
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        # Reads stop at known offsets, so a fetch need not linger for more data.
        fetch_max_wait_ms=10,
        # The ledger is what was committed: a decider's aborted or fenced writes are not in it.
        isolation_level="read_committed",
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        client_id="taizhang-audit",
        max_partition_fetch_bytes=fetch_bytes,
    )


_idle: dict[tuple[str, str, str, int], list[KafkaConsumer]] = {}
_idle_lock = threading.Lock()


@contextmanager
def reader(settings: Settings, fetch_bytes: int = SCAN_BYTES) -> Iterator[KafkaConsumer]:
    """Lend a connected reader of the log, kept for the next request when it is given back.

    Connecting costs more than most reads of one case; a reader that failed is closed.
    """
    key = (
        settings.kafka_bootstrap_servers,
        settings.kafka_security_protocol,
        settings.topic(""),
        fetch_bytes,
    )
    with _idle_lock:
        idle = _idle.setdefault(key, [])
        consumer = idle.pop() if idle else None
    if consumer is None:
        consumer = _consumer(settings, fetch_bytes)
    kept = False
    try:
        yield consumer
        consumer.unsubscribe()
        with _idle_lock:
            if len(idle) < IDLE_READERS:
                idle.append(consumer)
                kept = True
    finally:
        if not kept:
            consumer.close()


def read_partitions(
    settings: Settings,
    parts: list[TopicPartition],
    starts: dict[TopicPartition, int] | None = None,
    ends: dict[TopicPartition, int] | None = None,
) -> Iterator[LogRecord]:
    """Yield every record of the partitions from `starts` (else the beginning) to `ends`."""
    if not parts:
        return
    with reader(settings) as consumer:
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        for tp, offset in (starts or {}).items():
            consumer.seek(tp, offset)
        stops = dict(ends) if ends is not None else offsets.end_offsets(consumer, parts)
        remaining = {tp for tp in parts if stops[tp] > offsets.position(consumer, tp)}
        while remaining:
            batch = consumer.poll(timeout_ms=1000, max_records=5000)
            for tp, msgs in batch.items():
                for m in msgs:
                    if m.offset >= stops[tp]:
                        remaining.discard(tp)
                        continue
                    key = m.key.decode(errors="replace") if m.key is not None else None
                    yield LogRecord(Position(m.topic, m.partition, m.offset), key, m.value or b"")
                if offsets.position(consumer, tp) >= stops[tp]:
                    remaining.discard(tp)


def fetch(settings: Settings, positions: Iterable[Position]) -> list[LogRecord]:
    """Return exactly the records at the given positions, in log order, without a scan."""
    return fetch_marked(settings, positions)[0]


def fetch_marked(
    settings: Settings, positions: Iterable[Position]
) -> tuple[list[LogRecord], dict[TopicPartition, int]]:
    """Return the records at the given positions, and each partition's end as its fetch saw it.

    The broker tells a partition's high watermark with every fetch: a reader who must know
    whether anything lies beyond a place need not ask for the end again.
    """
    wanted: dict[TopicPartition, list[int]] = defaultdict(list)
    for pos in positions:
        wanted[TopicPartition(pos.topic, pos.partition)].append(pos.offset)
    if not wanted:
        return [], {}
    found: dict[Position, LogRecord] = {}
    ends: dict[TopicPartition, int] = {}
    with reader(settings, SEEK_BYTES) as consumer:
        consumer.assign(list(wanted))
        for tp, places in wanted.items():
            todo = sorted(set(places))
            while todo:
                consumer.seek(tp, todo[0])
                # Records are decoded as they are taken: take no more than the places span.
                span = min(500, todo[-1] - todo[0] + 1)
                batch = consumer.poll(timeout_ms=5000, max_records=span).get(tp, [])
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
            high = consumer.highwater(tp)
            if high is not None:
                ends[tp] = high
    missing = sum(len(set(o)) for o in wanted.values()) - len(found)
    if missing:
        raise LookupError(f"{missing} indexed record(s) are no longer in the log")
    ordered = sorted(found, key=lambda p: (p.topic, p.partition, p.offset))
    return [found[p] for p in ordered], ends


def case_records(settings: Settings, case_id: str) -> list[LogRecord]:
    """Return the records keyed by a case, in log order (one partition is scanned)."""
    tp = case_partition(settings, case_id)
    return [r for r in read_partitions(settings, [tp]) if r.key == case_id]


def case_partition(settings: Settings, case_id: str) -> TopicPartition:
    """Return the partition of its stream's events topic that holds a case."""
    topic = settings.topic(f"{stream_of(case_id)}.events")
    with reader(settings) as consumer:
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise LookupError(f"topic {topic} does not exist")
    return TopicPartition(topic, partition_of(case_id, len(partitions)))


def event_partitions(settings: Settings, streams: Iterable[str]) -> list[TopicPartition]:
    """Return every partition of the given streams' events topics that exists."""
    return topic_partitions(settings, [settings.topic(f"{s}.events") for s in streams])


def topic_partitions(
    settings: Settings, topics: Iterable[str], fetch_bytes: int = SCAN_BYTES
) -> list[TopicPartition]:
    """Return every partition of the topics that exist, asking the cluster once."""
    with reader(settings, fetch_bytes) as consumer:
        return [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]


def end_offsets(settings: Settings, parts: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Return the current end offset of each partition."""
    with reader(settings) as consumer:
        return offsets.end_offsets(consumer, parts)


def all_records(settings: Settings, streams: Iterable[str]) -> Iterator[LogRecord]:
    """Yield every record of the given streams' events topics."""
    yield from read_partitions(settings, event_partitions(settings, streams))


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
