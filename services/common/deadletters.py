"""Dead letters: a record nobody can process is parked beside its topic, with where and why."""

from __future__ import annotations

from typing import NamedTuple

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
    dlq = f"{record.topic}.dlq"
    log.error(
        "record.dead_lettered",
        case_id=case_id,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        dlq=dlq,
        reason=reason[:500],
        quarantined=quarantined,
    )
    headers = [
        ("source_topic", record.topic.encode()),
        ("source_partition", str(record.partition).encode()),
        ("source_offset", str(record.offset).encode()),
        ("reason", reason[:1000].encode()),
    ]
    if quarantined:
        headers.append(("quarantined", b"true"))
    key = case_id.encode() if case_id else (record.key or None)
    await (await producer.get()).send_and_wait(dlq, key=key, value=record.value, headers=headers)
