"""Reading what the services answer and what their topics hold."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from kafka import KafkaConsumer, TopicPartition
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


@contextmanager
def text_opener(stack: Stack) -> Iterator[Callable[[Any], Any]]:
    """Open a value a raw record holds sealed, with the keys the stack's services share."""
    with own_sealer(stack.settings) as sealer:
        yield lambda value: reveal(sealer, value)
