"""Dead letters: a record nobody can process is parked beside its topic, with where and why."""

from __future__ import annotations

from typing import NamedTuple

from services.common import logging as logs
from services.common.producer import WorkerProducer

log = logs.get(__name__)


class Record(NamedTuple):
    """One consumed record and where it was read."""

    value: bytes
    topic: str
    partition: int
    offset: int
    key: bytes = b""


async def dead_letter(
    producer: WorkerProducer, record: Record, reason: str, *, case_id: str | None = None
) -> None:
    """Park a record in `<its topic>.dlq` with its position and reason, and log where it was."""
    dlq = f"{record.topic}.dlq"
    log.error(
        "record.dead_lettered",
        case_id=case_id,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        dlq=dlq,
        reason=reason[:500],
    )
    headers = [
        ("source_topic", record.topic.encode()),
        ("source_partition", str(record.partition).encode()),
        ("source_offset", str(record.offset).encode()),
        ("reason", reason[:1000].encode()),
    ]
    await (await producer.get()).send_and_wait(dlq, value=record.value, headers=headers)
