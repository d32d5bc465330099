"""The stream worker's one durable producer, shared by its decider, timers and reactors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts.commands import CommandEnvelope, Reply
from services.common import command_signing
from services.common import kafka as kafka_kit
from services.common.settings import Settings


class WorkerProducer:
    """Starts the durable producer (acks=all, idempotent) on first use and sends through it."""

    def __init__(
        self,
        settings: Settings,
        signer: str,
        *,
        keep: Callable[[AIOKafkaProducer], Awaitable[AIOKafkaProducer]] | None = None,
    ) -> None:
        self.settings = settings
        # The process the commands it sends are signed as.
        self.signer = signer
        # Starts the producer and hands it to whoever stops it at shutdown.
        self._keep = keep
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> AIOKafkaProducer:
        """Return the producer, started once however many callers ask at the same time."""
        async with self._lock:
            if self._producer is None:
                made = kafka_kit.producer(self.settings, client_id="taizhang-worker")
                if self._keep is not None:
                    self._producer = await self._keep(made)
                else:
                    await made.start()
                    self._producer = made
            return self._producer

    async def send_command(self, meta: CommandEnvelope, stream: str) -> None:
        """Send a command, signed, to a stream's decider, keyed by its case, until it is stored."""
        await (await self.queue_command(meta, stream))

    async def queue_command(self, meta: CommandEnvelope, stream: str) -> asyncio.Future[Any]:
        """Hand a command, signed, to the producer; the future is done once it is stored."""
        topic = self.settings.topic(f"{stream}.commands")
        stored: asyncio.Future[Any] = await (await self.get()).send(
            topic,
            key=meta.case_id.encode(),
            value=meta.model_dump_json().encode(),
            headers=command_signing.headers(self.settings, meta, self.signer),
        )
        return stored

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Write one record and wait until every in-sync replica has it."""
        await (await self.queue(topic, key, value))

    async def queue(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[Any]:
        """Hand one record to the producer; the future is done once every in-sync replica has it."""
        stored: asyncio.Future[Any] = await (await self.get()).send(topic, key=key, value=value)
        return stored

    async def send_replies(self, topic: str, replies: list[tuple[CommandEnvelope, Reply]]) -> None:
        """Answer the callers waiting on a replies topic: sent together, then waited on.

        Each reply goes to its case's partition, the one its decider's transactions answer
        in, so a reply read as committed never waits behind another partition's transaction.
        """
        producer = await self.get()
        count = self.settings.partitions
        futures = [
            await producer.send(
                topic,
                key=meta.command_id.encode(),
                value=reply.model_dump_json().encode(),
                partition=kafka_kit.key_partition(meta.case_id, count),
            )
            for meta, reply in replies
        ]
        for future in futures:
            await future
