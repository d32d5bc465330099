"""Feeds a read model from the events topics: exactly once, from its own stored offsets."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.deadletters import parked
from services.common.keys import Trust
from services.common.readmodel import ReadModel
from services.common.readschema import Record
from services.common.settings import Settings

log = logs.get(__name__)

# How long a stop waits for the batch in flight to be written before it gives up on it.
STOP_GRACE_S = 30.0


class Projector:
    """Tails topics into a read model; a crash never double-applies or skips an event."""

    def __init__(
        self,
        settings: Settings,
        model: ReadModel[Any],
        topics: list[str],
        producer: AIOKafkaProducer,
        consumer_name: str,
        *,
        waited_on: Collection[str] | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.topics = topics
        self.producer = producer
        self.consumer_name = consumer_name
        # The topics a caller waits to see its own write in; the others are read in gathered
        # fetches, so an event of another service wakes this one a few times a second at most.
        self.waited_on = set(topics if waited_on is None else waited_on) & set(topics)
        # Only events whose signatures hold (or that a signed checkpoint covers) are applied.
        self.trust = Trust(settings)
        self.positions: dict[tuple[str, int], int] = {}
        self.applied = 0
        self._consumers: list[AIOKafkaConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._advanced = asyncio.Condition()
        self._stopping = False
        # One batch is written at a time, whichever reader brought it.
        self._write_lock = asyncio.Lock()
        # The reader whose batch is being written: a stop then waits for it instead of cutting it.
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Assign every partition and seek to the stored offsets, then tail in the background."""
        parts = await kafka_kit.assignable(self.settings, self.topics)
        stored = await asyncio.to_thread(self.model.offsets)
        groups = [
            [tp for tp in parts if tp.topic in self.waited_on],
            [tp for tp in parts if tp.topic not in self.waited_on],
        ]
        for gathered, group in enumerate(groups):
            if not group:
                continue
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                **kafka_kit.secured_async(self.settings),
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                # What a decider left open, or was fenced before committing, is never shown.
                isolation_level="read_committed",
                client_id="taizhang-projector",
                **(kafka_kit.GATHERED_FETCH if gathered else {}),
            )
            await consumer.start()
            self._consumers.append(consumer)
            consumer.assign(group)
            for tp in group:
                next_offset = stored.get((tp.topic, tp.partition))
                if next_offset is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, next_offset)
            for tp in group:
                self.positions[(tp.topic, tp.partition)] = await consumer.position(tp)
        for consumer in self._consumers:
            self._tasks.append(asyncio.create_task(self._run(consumer), name="projector"))

    @property
    def writing(self) -> bool:
        """Whether a batch is being written now."""
        return self._writer is not None

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Stop tailing once the batch in flight, if any, is written (waiting `grace` at most).

        A batch is written from a thread, which cancelling would not stop: the read model may
        be closed as soon as this returns only if no batch is left writing it.
        """
        self._stopping = True
        tasks = list(self._tasks)
        for task in tasks:
            if task is not self._writer:
                task.cancel()
        if tasks:
            try:
                await asyncio.wait_for(
                    asyncio.shield(asyncio.gather(*tasks, return_exceptions=True)), grace
                )
            except TimeoutError:
                log.warning("projection.stop_timed_out", grace_s=grace)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        for consumer in self._consumers:
            await consumer.stop()

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        me = asyncio.current_task()
        while not self._stopping:
            batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            # Past these records and the transaction markers after them, once they are applied.
            reached = {
                (tp.topic, tp.partition): await consumer.position(tp)
                for tp in consumer.assignment()
            }
            records = [
                Record(m.topic, m.partition, m.offset, m.value or b"")
                for msgs in batch.values()
                for m in msgs
            ]
            if records:
                async with self._write_lock:
                    if self._stopping:
                        return
                    self._writer = me
                    try:
                        if not await self._apply(records):
                            return
                    finally:
                        self._writer = None
            await self._reached(reached)

    async def _reached(self, reached: dict[tuple[str, int], int]) -> None:
        if all(self.positions.get(key, 0) >= offset for key, offset in reached.items()):
            return
        async with self._advanced:
            for key, offset in reached.items():
                self.positions[key] = max(self.positions.get(key, 0), offset)
            self._advanced.notify_all()

    async def _apply(self, records: list[Record]) -> bool:
        """Write one batch and its offsets, trying again until it is; False if stopped first."""
        while True:
            try:
                dead = await asyncio.to_thread(self.model.apply_batch, records, self.trust.judge)
            except Exception:
                await asyncio.to_thread(self.model.rollback)
                log.exception("projection.batch_failed", first_offset=records[0].offset)
                if self._stopping:
                    return False
                await asyncio.sleep(1.0)
                continue
            try:
                for item in dead:
                    r = item.record
                    headers = parked(
                        r.topic,
                        r.partition,
                        r.offset,
                        item.reason,
                        case_id=item.case_id,
                        quarantined=item.quarantined,
                        consumer=self.consumer_name,
                    )
                    await self.producer.send_and_wait(
                        f"{r.topic}.dlq",
                        value=r.value,
                        key=item.case_id.encode() if item.case_id else None,
                        headers=headers,
                    )
            except Exception:
                await asyncio.to_thread(self.model.rollback)
                log.exception("projection.dead_letter_failed")
                if self._stopping:
                    return False
                await asyncio.sleep(1.0)
                continue
            await asyncio.to_thread(self.model.commit)
            break
        self.applied += len(records) - len(dead)
        async with self._advanced:
            for r in records:
                key = (r.topic, r.partition)
                self.positions[key] = max(self.positions.get(key, 0), r.offset + 1)
            self._advanced.notify_all()
        return True

    async def wait_for(self, topic: str, positions: list[tuple[int, int]], timeout: float) -> bool:
        """Wait until the given (partition, offset) pairs are applied; return whether they were."""

        def reached() -> bool:
            return all(self.positions.get((topic, p), 0) > o for p, o in positions)

        try:
            async with self._advanced:
                await asyncio.wait_for(self._advanced.wait_for(reached), timeout)
            return True
        except TimeoutError:
            return False

    async def lag(self) -> int:
        """Return how many records are behind the end of the topics."""
        if not self._consumers:
            return -1
        parts = [TopicPartition(t, p) for t, p in self.positions]
        ends = await self._consumers[0].end_offsets(parts)
        return sum(max(0, ends[tp] - self.positions[(tp.topic, tp.partition)]) for tp in parts)
