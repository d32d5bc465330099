"""The stream worker of a case service: a per-case serial decider, its timers, its reactors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

import faust
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from kafka.errors import KafkaError
from pydantic import BaseModel, ValidationError

from contracts.commands import CommandEnvelope, Reply
from contracts.envelope import (
    GENESIS_HASH,
    Actor,
    Envelope,
    chain_hash,
    now_utc,
    parse_record,
)
from contracts.registry import REGISTRY, EventPayload
from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.decider import CaseKind, Head, Outcome, process, refusal
from services.common.ids import reaction_command_id, timer_command_id
from services.common.settings import Settings

log = logs.get(__name__)
S = TypeVar("S", bound=BaseModel)
Extra = Callable[["DeciderWorker[Any]"], None]


React = Callable[[Envelope, EventPayload], list[tuple[str, CommandEnvelope]]]


def reaction(
    source: Envelope,
    *,
    command_type: str,
    case_id: str,
    payload: dict[str, Any],
    unit: str,
) -> CommandEnvelope:
    """Build the command a policy sends in answer to an event, identical on every redelivery."""
    return CommandEnvelope(
        command_id=reaction_command_id(str(source.event_id), command_type, case_id),
        command_type=command_type,
        case_id=case_id,
        actor=system_actor(unit),
        issued_at=source.recorded_at,
        occurred_at=source.occurred_at,
        correlation_id=source.correlation_id,
        causation_id=str(source.event_id),
        payload=payload,
        reply=False,
    )


def reactor(source_stream: str, name: str, react: React) -> Extra:
    """Install a policy that consumes another stream's events and sends commands."""

    def install(worker: DeciderWorker[Any]) -> None:
        topic = worker.app.topic(
            worker.settings.topic(f"{source_stream}.events"),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )

        async def run(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                msg = event.message
                await worker.react(react, name, msg.value, msg.topic, msg.partition, msg.offset)

        worker.app.agent(topic, name=f"{name}-reactor", concurrency=1)(run)

    return install


class SourceCase(BaseModel):
    """What a tracking reactor knows of a case of another stream: its chain so far and its unit."""

    case_id: str
    unit: str | None = None
    hashes: list[str] = []

    @property
    def version(self) -> int:
        """The last version read."""
        return len(self.hashes)


TrackedReact = Callable[[Envelope, EventPayload, SourceCase], list[tuple[str, CommandEnvelope]]]


def tracking_reactor(
    source_stream: str, name: str, react: TrackedReact, *, opened_by: Collection[str]
) -> Extra:
    """Install a policy that follows each source case's hash chain and acts only on real cases.

    An event of a case never opened, or one that breaks or contradicts the chain read so far,
    is dead-lettered instead of answered; a repeat of an event already answered is skipped.
    """

    def install(worker: DeciderWorker[Any]) -> None:
        topic = worker.app.topic(
            worker.settings.topic(f"{source_stream}.events"),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )
        # Keyed by the raw case id and placed by the producer's partitioner, like the source
        # events: so a changelog created at start-up, whose partition count the consumer may
        # not know yet, is never checked against the source topic (PartitionsMismatch).
        cases = worker.app.Table(
            f"{name}-sources",
            default=None,
            partitions=worker.settings.partitions,
            key_type=bytes,
            use_partitioner=True,
        )

        async def run(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                msg = event.message
                await worker.react_tracked(
                    react,
                    name,
                    cases,
                    frozenset(opened_by),
                    (msg.value, msg.topic, msg.partition, msg.offset),
                )

        worker.app.agent(topic, name=f"{name}-reactor", concurrency=1)(run)

    return install


def follow_chain(
    stored: SourceCase | None, env: Envelope, payload: EventPayload, opened_by: Collection[str]
) -> SourceCase | None:
    """Return the source case after this event, None for a repeat; raise if it does not belong."""
    source = stored or SourceCase(case_id=env.case_id)
    if env.case_version <= source.version:
        if source.hashes[env.case_version - 1] == env.hash:
            return None
        raise ValueError(
            f"{env.case_id} version {env.case_version} differs from the one read before"
        )
    if source.version == 0 and (env.case_version != 1 or env.event_type not in opened_by):
        raise LookupError(f"{env.event_type} names {env.case_id}, a case that was never opened")
    head = source.hashes[-1] if source.hashes else GENESIS_HASH
    if env.case_version != source.version + 1 or env.prev_hash != head:
        raise ValueError(
            f"{env.case_id} version {env.case_version} does not follow version {source.version}"
        )
    unit = source.unit if source.version else getattr(payload, "unit", None)
    return source.model_copy(update={"unit": unit, "hashes": [*source.hashes, env.hash]})


def system_actor(unit: str) -> Actor:
    """The actor recorded on commands the system itself issues (timers, reactors)."""
    return Actor(user_id="system", role="system", unit=unit)


class DeciderWorker(Generic[S]):
    """Builds the faust app that decides one kind of case, one command at a time per case."""

    def __init__(
        self,
        settings: Settings,
        kind: CaseKind[S],
        name: str,
        *,
        clock: Callable[[], datetime] = now_utc,
        extras: tuple[Extra, ...] = (),
    ) -> None:
        self.settings = settings
        self.kind = kind
        self.clock = clock
        brokers = [f"kafka://{h}" for h in settings.kafka_bootstrap_servers.split(",")]
        self.app = faust.App(
            f"{settings.topic_prefix}taizhang-{name}",
            broker=brokers,
            store="memory://",
            topic_partitions=settings.partitions,
            topic_replication_factor=settings.replication_factor,
            producer_acks=-1,
            web_enabled=False,
            consumer_auto_offset_reset="earliest",
            table_standby_replicas=0,
            broker_session_timeout=settings.session_timeout_s,
            broker_heartbeat_interval=settings.session_timeout_s / 4,
            datadir=str(settings.data_dir / f"worker-{name}"),
        )
        self.commands_topic = self.app.topic(
            settings.topic(f"{kind.stream}.commands"),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )
        self.events_topic = settings.topic(f"{kind.stream}.events")
        self.replies_topic = settings.topic(f"{kind.stream}.replies")
        self.dlq_topic = settings.topic(f"{kind.stream}.commands.dlq")
        self.heads = self.app.Table(
            f"{kind.stream}-heads",
            default=None,
            partitions=settings.partitions,
            key_type=bytes,
            # Keyed like the commands, so a case's head lives in its command partition.
            use_partitioner=True,
        )
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()
        self.app.agent(self.commands_topic, name=f"{kind.stream}-decider", concurrency=1)(
            self._decide_stream
        )
        self.app.timer(interval=settings.timer_interval_s)(self._tick)
        for extra in extras:
            extra(self)

    async def producer(self) -> AIOKafkaProducer:
        """Return the durable producer (acks=all, idempotent), started on first use."""
        async with self._producer_lock:
            if self._producer is None:
                # Held by the app, which stops it on shutdown after its agents and timers.
                self._producer = await self.app.add_async_context(
                    kafka_kit.producer(self.settings, client_id="taizhang-worker")
                )
            return self._producer

    async def _decide_stream(self, stream: faust.StreamT[bytes]) -> None:
        batches = cast("faust.Stream[bytes]", stream).take_events(
            self.settings.decide_batch, within=self.settings.decide_window_s
        )
        async for events in batches:
            await self.handle_batch(
                [
                    (e.message.value or b"", e.message.topic, e.message.partition, e.message.offset)
                    for e in events
                ]
            )

    async def handle_batch(self, records: list[tuple[bytes, str, int, int]]) -> None:
        """Decide a batch of command records in order, append all their events, then reply.

        Each command is decided against the head its case has after the commands before
        it, so a case stays serial; the broker round trips are shared by the whole batch.
        """
        heads: dict[str, Head] = {}
        changed: set[str] = set()
        decided: list[tuple[CommandEnvelope, Outcome]] = []
        for value, topic, partition, offset in records:
            try:
                meta = CommandEnvelope.model_validate_json(value)
                if not self.kind.owns(meta.case_id):
                    raise ValueError(
                        f"case {meta.case_id} is not a {'/'.join(self.kind.prefixes)} case"
                    )
            except (ValidationError, ValueError) as exc:
                await self.dead_letter(self.dlq_topic, value, topic, partition, offset, str(exc))
                continue
            head = heads.get(meta.case_id) or self._stored_head(meta.case_id)
            try:
                outcome = process(self.kind, head, meta)
            except Exception as exc:  # a defect in a rule must not stop every other case
                log.exception(
                    "command.failed",
                    case_id=meta.case_id,
                    command_id=meta.command_id,
                    topic=topic,
                    partition=partition,
                    offset=offset,
                )
                await self.dead_letter(self.dlq_topic, value, topic, partition, offset, repr(exc))
                failed = refusal(meta, 500, "Internal error", "the command could not be decided")
                outcome = Outcome(events=[], head=head, reply=failed)
            heads[meta.case_id] = outcome.head
            if outcome.events:
                changed.add(meta.case_id)
            decided.append((meta, outcome))
        positions = await self.append([e for _, o in decided for e in o.events])
        replies: list[tuple[CommandEnvelope, Reply]] = []
        for meta, outcome in decided:
            reply = outcome.reply
            if outcome.events:
                mine, positions = positions[: len(outcome.events)], positions[len(outcome.events) :]
                reply = reply.model_copy(update={"positions": mine})
                # The case's last head in this batch answers this command from now on.
                heads[meta.case_id].answered[meta.command_id] = (
                    meta.fingerprint,
                    reply.model_dump(mode="json"),
                )
                for env in outcome.events:
                    log.info(
                        "event.appended",
                        case_id=meta.case_id,
                        command_id=meta.command_id,
                        event_type=env.event_type,
                        event_id=str(env.event_id),
                        case_version=env.case_version,
                    )
            elif not reply.ok and reply.refusal is not None:
                log.info(
                    "command.refused",
                    case_id=meta.case_id,
                    command_id=meta.command_id,
                    command_type=meta.command_type,
                    status=reply.refusal.status,
                )
            if meta.reply:
                replies.append((meta, reply))
        for case_id in changed:
            self.heads[case_id.encode()] = heads[case_id].model_dump(mode="json")
        await self.send_replies(replies)

    def _stored_head(self, case_id: str) -> Head:
        stored = self.heads.get(case_id.encode())
        return Head.model_validate(stored) if stored else Head()

    async def react(
        self, react: React, name: str, value: bytes, topic: str, partition: int, offset: int
    ) -> None:
        """Answer one event of another stream with commands; a bad record is dead-lettered."""
        try:
            raw, env = parse_record(value)
            if chain_hash(raw) != raw.get("hash"):
                raise ValueError("hash does not match the record's content")
            payload = REGISTRY.read(env)
            commands = react(env, payload)
        except (ValidationError, ValueError, LookupError) as exc:
            await self.dead_letter(
                f"{topic}.dlq", value, topic, partition, offset, f"{name}: {exc}"
            )
            return
        for stream, meta in commands:
            await self.send_command(meta, stream)
            log.info(
                "reaction.sent",
                reactor=name,
                case_id=meta.case_id,
                command_type=meta.command_type,
                command_id=meta.command_id,
                cause=str(env.event_id),
            )

    async def react_tracked(
        self,
        react: TrackedReact,
        name: str,
        cases: Any,
        opened_by: Collection[str],
        record: tuple[bytes, str, int, int],
    ) -> None:
        """Answer one event of a followed case; remember the chain only once the answer is sent."""
        value, topic, partition, offset = record
        case_id: str | None = None
        try:
            raw, env = parse_record(value)
            case_id = env.case_id
            if chain_hash(raw) != raw.get("hash"):
                raise ValueError("hash does not match the record's content")
            payload = REGISTRY.read(env)
            stored = cases.get(env.case_id.encode())
            source = follow_chain(
                SourceCase.model_validate(stored) if stored else None, env, payload, opened_by
            )
            if source is None:
                log.info("reaction.repeat", reactor=name, case_id=case_id, offset=offset)
                return
            commands = react(env, payload, source)
        except (ValidationError, ValueError, LookupError) as exc:
            await self.dead_letter(
                f"{topic}.dlq", value, topic, partition, offset, f"{name}: {exc}", case_id=case_id
            )
            return
        for stream, meta in commands:
            await self.send_command(meta, stream)
            log.info(
                "reaction.sent",
                reactor=name,
                case_id=meta.case_id,
                command_type=meta.command_type,
                command_id=meta.command_id,
                cause=str(env.event_id),
            )
        cases[env.case_id.encode()] = source.model_dump(mode="json")

    async def append(self, events: list[Envelope]) -> list[tuple[int, int]]:
        """Write events in order and wait until every in-sync replica has them."""
        if not events:
            return []
        producer = await self.producer()
        while True:
            try:
                futures = [
                    await producer.send(
                        self.events_topic,
                        key=env.case_id.encode(),
                        value=env.to_bytes(),
                        headers=[("event_type", env.event_type.encode())],
                    )
                    for env in events
                ]
                done: list[RecordMetadata] = [await f for f in futures]
                return [(m.partition, m.offset) for m in done]
            except KafkaError as exc:
                # Re-sending is safe: the events are byte-identical and readers drop repeats.
                log.warning("append.retry", error=str(exc), case_id=events[0].case_id)
                await asyncio.sleep(1.0)

    async def send_replies(self, replies: list[tuple[CommandEnvelope, Reply]]) -> None:
        """Answer the callers waiting on the replies topic."""
        producer = await self.producer()
        futures = [
            await producer.send(
                self.replies_topic,
                key=meta.command_id.encode(),
                value=reply.model_dump_json().encode(),
            )
            for meta, reply in replies
        ]
        for future in futures:
            await future

    async def send_command(self, meta: CommandEnvelope, stream: str | None = None) -> None:
        """Send a command to a decider (this one, or another service's for reactors)."""
        topic = self.settings.topic(f"{stream or self.kind.stream}.commands")
        await (await self.producer()).send_and_wait(
            topic, key=meta.case_id.encode(), value=meta.model_dump_json().encode()
        )

    async def dead_letter(
        self,
        dlq: str,
        value: bytes,
        topic: str,
        partition: int,
        offset: int,
        reason: str,
        *,
        case_id: str | None = None,
    ) -> None:
        """Park a record nobody can process, with where it came from and why."""
        log.error(
            "record.dead_lettered",
            case_id=case_id,
            topic=topic,
            partition=partition,
            offset=offset,
            dlq=dlq,
            reason=reason[:500],
        )
        headers = [
            ("source_topic", topic.encode()),
            ("source_partition", str(partition).encode()),
            ("source_offset", str(offset).encode()),
            ("reason", reason[:1000].encode()),
        ]
        await (await self.producer()).send_and_wait(dlq, value=value, headers=headers)

    async def _tick(self) -> None:
        now = self.clock()
        for key, stored in list(self.heads.items()):
            case_id = key.decode()
            head = Head.model_validate(stored)
            if head.state is None:
                continue
            kind = self.kind.of(case_id)
            state = kind.state.model_validate(head.state)
            for command_type, payload in kind.due(state, now):
                key = json.dumps(payload, sort_keys=True)
                meta = CommandEnvelope(
                    command_id=timer_command_id(case_id, command_type, key),
                    command_type=command_type,
                    case_id=case_id,
                    actor=system_actor(getattr(state, "unit", "system")),
                    issued_at=now,
                    occurred_at=now,
                    correlation_id=case_id,
                    causation_id=f"timer:{command_type}",
                    payload=payload,
                    reply=False,
                )
                await self.send_command(meta)

    def declare_changelogs(self) -> list[str]:
        """Create the tables' changelog topics up front with the configured partitions.

        A changelog the stream processor creates on its own first start can show no
        partitions for a while, and a table write in that window fails the agent.
        """
        specs = [
            kafka_kit.TopicSpec(table.changelog_topic_name, {"cleanup.policy": "compact"})
            for table in self.app.tables.values()
        ]
        return kafka_kit.ensure_topics(self.settings, specs)

    def run(self) -> None:
        """Run the worker until it is told to stop."""
        self.declare_changelogs()
        faust.Worker(
            self.app, loglevel="WARNING", redirect_stdouts=False, quiet=True
        ).execute_from_commandline()
