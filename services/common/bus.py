"""The HTTP side of a command: send it to the case's decider and await the decider's reply."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka.errors import KafkaError

from contracts.commands import CommandEnvelope, Reply
from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.settings import Settings

log = logs.get(__name__)


class BrokerUnavailable(Exception):
    """The command could not be made durable, or no decider answered in time."""


class CommandBus:
    """Sends commands keyed by case id and matches replies by command id."""

    def __init__(self, settings: Settings, stream: str, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.commands_topic = settings.topic(f"{stream}.commands")
        self.replies_topic = settings.topic(f"{stream}.replies")
        self.producer = producer
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen to every replies partition from its current end."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            client_id="taizhang-replies",
        )
        parts = await kafka_kit.assignable(self.settings, [self.replies_topic])
        await consumer.start()
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:
            await consumer.position(tp)
        self._consumer = consumer
        self._task = asyncio.create_task(self._listen(), name="replies")

    async def stop(self) -> None:
        """Stop listening."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()

    async def _listen(self) -> None:
        assert self._consumer is not None
        async for msg in self._consumer:
            future = self._pending.get((msg.key or b"").decode())
            if future is None or future.done():
                continue
            try:
                future.set_result(Reply.model_validate_json(msg.value or b""))
            except ValueError as exc:
                future.set_exception(exc)

    async def send(self, meta: CommandEnvelope) -> Reply:
        """Make the command durable (acks=all) and return the decider's reply."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[meta.command_id] = future
        try:
            try:
                await self.producer.send_and_wait(
                    self.commands_topic,
                    key=meta.case_id.encode(),
                    value=meta.model_dump_json().encode(),
                )
            except KafkaError as exc:
                raise BrokerUnavailable(f"the ledger could not store the command: {exc}") from exc
            try:
                return await asyncio.wait_for(future, self.settings.reply_timeout_s)
            except TimeoutError as exc:
                log.warning("command.unanswered", command_id=meta.command_id, case_id=meta.case_id)
                raise BrokerUnavailable(
                    "the command is stored but was not decided in time; retry with the same"
                    " Idempotency-Key to get its result"
                ) from exc
        finally:
            self._pending.pop(meta.command_id, None)
