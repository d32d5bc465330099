"""Where a plain reader stands in the log, and where partitions begin and end, asked until told."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from kafka.errors import KafkaError, KafkaTimeoutError

from services.common.kafka import READER_RETRY_MS

if TYPE_CHECKING:
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

T = TypeVar("T")

# How long a plain reader goes on asking. The client answers "not known" for a position
# whose look-up did not come back in time, and leaves out of its offsets (then fails looking
# them up) every partition whose leader it has not learned yet: both are common on a busy
# broker, and pass.
OFFSETS_WAIT_S = 15.0


def _until_told(ask: Callable[[int], T | None], unknown: str, wait_s: float) -> T:
    """Ask, with what is left of the wait, until there is an answer; raise KafkaTimeoutError."""
    deadline = time.monotonic() + wait_s
    while True:
        answer = ask(max(1, int((deadline - time.monotonic()) * 1000)))
        if answer is not None:
            return answer
        if time.monotonic() >= deadline:
            raise KafkaTimeoutError(f"{unknown} in {wait_s:g}s")
        time.sleep(READER_RETRY_MS / 1000)


def position(consumer: KafkaConsumer, tp: TopicPartition, wait_s: float = OFFSETS_WAIT_S) -> int:
    """Return a plain reader's next offset in a partition; raise KafkaError if none comes."""

    def ask(timeout_ms: int) -> int | None:
        try:
            offset: int | None = consumer.position(tp, timeout_ms=timeout_ms)
        except KafkaError as exc:
            if not exc.retriable:
                raise
            return None
        return offset

    return _until_told(ask, f"no position in {tp.topic}/{tp.partition}", wait_s)


def end_offsets(
    consumer: KafkaConsumer, parts: list[TopicPartition], wait_s: float = OFFSETS_WAIT_S
) -> dict[TopicPartition, int]:
    """Return where each partition ends (the next offset); raise KafkaError if it cannot be told."""
    return _every(consumer.end_offsets, parts, wait_s)


def beginning_offsets(
    consumer: KafkaConsumer, parts: list[TopicPartition], wait_s: float = OFFSETS_WAIT_S
) -> dict[TopicPartition, int]:
    """Return where each partition begins; raise KafkaError if it cannot be told."""
    return _every(consumer.beginning_offsets, parts, wait_s)


def _every(
    offsets_of: Callable[..., dict[TopicPartition, int]],
    parts: list[TopicPartition],
    wait_s: float,
) -> dict[TopicPartition, int]:
    def ask(timeout_ms: int) -> dict[TopicPartition, int] | None:
        try:
            offsets = offsets_of(parts, timeout_ms=timeout_ms)
        except KeyError:
            # A partition whose leader the client does not know yet: it learns it meanwhile.
            return None
        return offsets if all(tp in offsets for tp in parts) else None

    return _until_told(ask, f"no leader known for some of {len(parts)} partitions", wait_s)
