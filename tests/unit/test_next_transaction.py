"""A decider's next transaction asks again soon while the broker closes the one before."""

from __future__ import annotations

from types import SimpleNamespace

from aiokafka.errors import ConcurrentTransactions
from aiokafka.producer import sender

from services.common import kafka as kafka_kit
from services.common.settings import Settings


def concurrent_transactions_answer() -> SimpleNamespace:
    """The broker's answer while the markers of the last transaction are still being written."""
    code = ConcurrentTransactions.errno
    return SimpleNamespace(errors=[("grievance.events", [(0, code)])])


async def test_the_durable_producer_asks_again_within_a_few_milliseconds() -> None:
    producer = kafka_kit.producer(Settings(environment="development"), transactional_id="t-0")
    try:
        txn = SimpleNamespace(txn_partitions=set(), partition_added=lambda _tp: None)
        client = SimpleNamespace(_retry_backoff=0.1, _txn_manager=txn)
        handler = sender.AddPartitionsToTxnHandler(client, [])
        wait = handler.handle_response(concurrent_transactions_answer())
        assert wait == kafka_kit.NEXT_TRANSACTION_RETRY_S
        assert wait < 0.005
    finally:
        await producer.stop()


async def test_a_transaction_already_holding_partitions_still_waits_the_whole_backoff() -> None:
    producer = kafka_kit.producer(Settings(environment="development"), transactional_id="t-1")
    try:
        txn = SimpleNamespace(txn_partitions={("grievance.events", 1)})
        client = SimpleNamespace(_retry_backoff=0.1, _txn_manager=txn)
        handler = sender.AddPartitionsToTxnHandler(client, [])
        assert handler.handle_response(concurrent_transactions_answer()) == 0.1
    finally:
        await producer.stop()
