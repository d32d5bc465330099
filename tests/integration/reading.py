"""Reading what the services answer and what their topics hold."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.consumer.fetcher import ConsumerRecord

from services.common.privacy import own_sealer
from services.common.queries import reveal
from tests.integration.conftest import Stack


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The JSON body of a response that must have the given status."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def read_topic(
    stack: Stack, topic: str, *, committed: bool = False, quiet_ms: int = 2000
) -> list[ConsumerRecord]:
    """Every record a topic holds now (only committed ones, if asked), from each beginning."""
    consumer = KafkaConsumer(
        bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"],
        group_id=None,
        enable_auto_commit=False,
        consumer_timeout_ms=quiet_ms,
        isolation_level="read_committed" if committed else "read_uncommitted",
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        return list(consumer)
    finally:
        consumer.close()


def unread(stack: Stack, group: str, topic: str) -> int:
    """How many records of a topic a worker's group has not committed its place past.

    A partition a decider writes ends with a transaction's marker no reader commits past:
    one record short of its end counts as read to the end.
    """
    admin = KafkaAdminClient(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
    consumer = KafkaConsumer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(parts)
        placed = admin.list_group_offsets({group: parts}).get(group, {})
    finally:
        consumer.close()
        admin.close()
    behind = 0
    for tp in parts:
        at = placed.get(tp)
        offset = at.offset if at is not None and at.offset >= 0 else 0
        behind += max(0, ends[tp] - offset - 1)
    return behind


@contextmanager
def text_opener(stack: Stack) -> Iterator[Callable[[Any], Any]]:
    """Open a value a raw record holds sealed, with the keys the stack's services share."""
    with own_sealer(stack.settings) as sealer:
        yield lambda value: reveal(sealer, value)
