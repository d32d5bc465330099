"""Dead letters: a record nobody can process is parked beside its topic, with where and why."""

from __future__ import annotations

from typing import Any, NamedTuple

import aiokafka.errors
import kafka.errors

from services.common import logging as logs
from services.common.producer import WorkerProducer

log = logs.get(__name__)
# Errors of the broker or the link to it: the record is not at fault, so it is not parked.
BROKER_ERRORS = (aiokafka.errors.KafkaError, kafka.errors.KafkaError)
# Broker errors that single out one record: it would fail the same way every time.
RECORD_ERRORS = (aiokafka.errors.MessageSizeTooLargeError, kafka.errors.MessageSizeTooLargeError)


class Record(NamedTuple):
    """One consumed record and where it was read."""

    value: bytes
    topic: str
    partition: int
    offset: int
    key: bytes = b""
    # The signature a command record was sent with, if any.
    signature: bytes | None = None


def record_of(event: Any, signature: bytes | None = None) -> Record:
    """The record a stream event was read from, and where."""
    msg = event.message
    return Record(msg.value or b"", msg.topic, msg.partition, msg.offset, msg.key or b"", signature)


def broker_fault(exc: BaseException) -> bool:
    """Whether an error lies with the broker rather than with the record being handled."""
    return isinstance(exc, BROKER_ERRORS) and not isinstance(exc, RECORD_ERRORS)


async def dead_letter(
    producer: WorkerProducer,
    record: Record,
    reason: str,
    *,
    case_id: str | None = None,
    quarantined: bool = False,
) -> None:
    """Park a record in `<its topic>.dlq` with its position and reason, and log where it was.

    `quarantined` says the case is set aside from now on, not only this record.
    """
    headers = parked(
        record.topic,
        record.partition,
        record.offset,
        reason,
        case_id=case_id,
        quarantined=quarantined,
    )
    key = case_id.encode() if case_id else (record.key or None)
    await (await producer.get()).send_and_wait(
        f"{record.topic}.dlq", key=key, value=record.value, headers=headers
    )


def parked(
    topic: str,
    partition: int,
    offset: int,
    reason: str,
    *,
    case_id: str | None = None,
    quarantined: bool = False,
    consumer: str | None = None,
) -> list[tuple[str, bytes]]:
    """Log where a record parked in `<topic>.dlq` came from, and return the headers it carries."""
    log.error(
        "record.dead_lettered",
        case_id=case_id,
        topic=topic,
        partition=partition,
        offset=offset,
        dlq=f"{topic}.dlq",
        reason=reason[:500],
        quarantined=quarantined,
        consumer=consumer,
    )
    headers = [
        ("source_topic", topic.encode()),
        ("source_partition", str(partition).encode()),
        ("source_offset", str(offset).encode()),
        ("reason", reason[:1000].encode()),
    ]
    if consumer is not None:
        headers.append(("consumer", consumer.encode()))
    if quarantined:
        headers.append(("quarantined", b"true"))
    return headers
