"""A decider's next transaction asks again soon while the broker closes the one before."""

from __future__ import annotations

from types import SimpleNamespace

from aiokafka.errors import ConcurrentTransactions
from aiokafka.producer import sender

from services.common import kafka as kafka_kit
from services.common.settings import Settings


async def wait_after_concurrent_transactions(held: set[tuple[str, int]]) -> float:
    """How long a durable producer's sender waits on the broker's 'still closing' answer."""
    producer = kafka_kit.producer(Settings(environment="development"), transactional_id="t-0")
    try:
        txn = SimpleNamespace(txn_partitions=held, partition_added=lambda _tp: None)
        handler = sender.AddPartitionsToTxnHandler(
            SimpleNamespace(_retry_backoff=0.1, _txn_manager=txn), []
        )
        code = ConcurrentTransactions.errno
        wait: float = handler.handle_response(
            SimpleNamespace(errors=[("grievance.events", [(0, code)])])
        )
        return wait
    finally:
        await producer.stop()


async def test_the_durable_producer_asks_again_within_a_few_milliseconds() -> None:
    wait = await wait_after_concurrent_transactions(set())
    assert wait == kafka_kit.NEXT_TRANSACTION_RETRY_S
    assert wait < 0.005


async def test_a_transaction_already_holding_partitions_still_waits_the_whole_backoff() -> None:
    assert await wait_after_concurrent_transactions({("grievance.events", 1)}) == 0.1
