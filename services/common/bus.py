"""The HTTP side of a command: send it to the case's decider and await the decider's reply."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from contracts.catalog import STREAMS
from contracts.commands import CommandEnvelope, Reply
from services.common import command_signing
from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.settings import Settings

log = logs.get(__name__)
T = TypeVar("T")

# A broker that has not answered a metadata request for this long is taken to be down.
PROBE_WITHIN_S = 2.0
PROBE_EVERY_S = 1.0


class BrokerUnavailable(Exception):
    """The command could not be made durable, or no decider answered in time.

    `stored` says whether the command may still take effect: False when it was never
    handed to the broker, True when it was or may have been.
    """

    def __init__(self, detail: str, *, stored: bool) -> None:
        super().__init__(detail)
        self.stored = stored


class BrokerWatch:
    """Knows whether the broker answers, from a small metadata request every second."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.client = producer.client
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        """Whether the broker answered the last probe in time."""
        return not self._lost.is_set()

    def start(self) -> None:
        """Probe in the background from now on."""
        self._task = asyncio.create_task(self._watch(), name="broker-watch")

    async def stop(self) -> None:
        """Stop probing."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def lost(self) -> None:
        """Return once the broker is known to be down."""
        await self._lost.wait()

    async def probe(self) -> bool:
        """Return whether some broker answers a metadata request (naming no topic) in time.

        One broker of a cluster down is not the ledger down: its partitions get other leaders
        within seconds, so every known broker is asked and one answer is enough.
        """
        nodes = [broker.nodeId for broker in self.client.cluster.brokers()]
        if not nodes:
            return False
        answers = await asyncio.gather(*(self._asked(node) for node in nodes))
        return any(answers)

    async def _asked(self, node: int) -> bool:
        try:
            await asyncio.wait_for(self.client.send(node, MetadataRequest([])), PROBE_WITHIN_S)
        except Exception:  # whatever keeps the answer from coming, the broker did not answer
            return False
        return True

    async def _watch(self) -> None:
        while True:
            answered = await self.probe()
            if answered and not self.up:
                log.info("broker.back")
                self._lost.clear()
            elif not answered and self.up:
                log.warning("broker.lost", within_s=PROBE_WITHIN_S)
                self._lost.set()
            await asyncio.sleep(PROBE_EVERY_S)


class CommandBus:
    """Sends commands keyed by case id and matches replies by command id."""

    def __init__(self, settings: Settings, stream: str, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.commands_topic = settings.topic(f"{stream}.commands")
        self.replies_topic = settings.topic(f"{stream}.replies")
        self.signer = command_signing.sender(STREAMS[stream].service, "api")
        self.producer = producer
        self.watch = BrokerWatch(producer)
        # Several requests may wait on one command: a client retrying before the first answer.
        self._pending: dict[str, list[asyncio.Future[Reply]]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen to every replies partition from its current end, and watch the broker."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            **kafka_kit.secured_async(self.settings),
            group_id=None,
            enable_auto_commit=False,
            # A decider answers inside the transaction that stores the events: a reply from
            # one that was fenced or failed before committing is never read.
            isolation_level="read_committed",
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
        self.watch.start()

    async def stop(self) -> None:
        """Stop listening and watching."""
        await self.watch.stop()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()

    async def _listen(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=500)
            except KafkaError as exc:
                # The consumer reconnects by itself once the broker is back; keep asking.
                log.warning("replies.unreadable", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            for msg in (m for msgs in batch.values() for m in msgs):
                self._answer((msg.key or b"").decode(), msg.value or b"")

    def _answer(self, command_id: str, value: bytes) -> None:
        waiting = [f for f in self._pending.get(command_id, []) if not f.done()]
        if not waiting:
            return
        try:
            reply = Reply.model_validate_json(value)
        except ValueError as exc:
            for future in waiting:
                future.set_exception(exc)
            return
        for future in waiting:
            future.set_result(reply)

    async def send(self, meta: CommandEnvelope) -> Reply:
        """Make the command durable (acks=all) and return the decider's reply.

        Refuses at once while the broker is known to be down, gives up as soon as it goes
        down, and waits `reply_timeout_s` at most in all, so a caller always hears within
        seconds; a retry under the same command id is answered from the decider's memory.
        """
        if not self.watch.up:
            raise BrokerUnavailable("the ledger's broker is not answering", stored=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.reply_timeout_s
        future: asyncio.Future[Reply] = loop.create_future()
        self._pending.setdefault(meta.command_id, []).append(future)
        try:
            await self._store(meta, deadline)
            reply = await self.unless_lost(future, deadline - loop.time())
            if reply is None:
                log.warning("command.unanswered", command_id=meta.command_id, case_id=meta.case_id)
                raise BrokerUnavailable(
                    "the command is stored but was not decided in time", stored=True
                )
            return reply
        finally:
            waiting = self._pending.get(meta.command_id, [])
            waiting.remove(future)
            if not waiting:
                self._pending.pop(meta.command_id, None)

    async def _store(self, meta: CommandEnvelope, deadline: float) -> None:
        """Hand the command to the producer and wait until every in-sync replica has it."""
        loop = asyncio.get_running_loop()
        try:
            queued = await self.unless_lost(
                self.producer.send(
                    self.commands_topic,
                    key=meta.case_id.encode(),
                    value=meta.model_dump_json().encode(),
                    headers=command_signing.headers(self.settings, meta, self.signer),
                ),
                deadline - loop.time(),
            )
            if queued is None:
                # Never queued: the producer was still waiting for the topic's metadata.
                raise BrokerUnavailable("the ledger could not take the command", stored=False)
            # Once queued the producer delivers it whenever it can; only the waiting is bounded.
            if await self.unless_lost(asyncio.shield(queued), deadline - loop.time()) is None:
                log.warning("command.not_stored", command_id=meta.command_id, case_id=meta.case_id)
                raise BrokerUnavailable(
                    "the ledger could not confirm it stored the command", stored=True
                )
        except KafkaError as exc:
            raise BrokerUnavailable(
                f"the ledger could not store the command: {exc}", stored=True
            ) from exc

    async def unless_lost(self, waited: Awaitable[T], seconds: float) -> T | None:
        """Return what is awaited, or None if the time runs out or the broker goes down first."""
        task = asyncio.ensure_future(waited)
        lost = asyncio.create_task(self.watch.lost())
        try:
            await asyncio.wait({task, lost}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if task.done():
            return task.result()
        task.cancel()
        return None
