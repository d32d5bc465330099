"""The stream worker of a case service: a per-case serial decider, its timers, its reactors."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

import faust
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from faust.types import TP
from pydantic import BaseModel

from contracts.catalog import STREAMS
from contracts.commands import CommandEnvelope, Reply
from contracts.envelope import Envelope, now_utc
from services.common import command_signing, committed, heap, markers, rewind
from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.answering import Answer, encoded, failed, logged
from services.common.batching import as_they_come
from services.common.deadletters import Record, broker_fault, dead_letter, record_of
from services.common.deadlines import Deadlines
from services.common.decider import CaseKind, Head, Outcome, process
from services.common.isolation import UNREADABLE, reason_of
from services.common.keys import Trust, signer_for
from services.common.partitions import Claim, Fenced, Partitions
from services.common.producer import WorkerProducer
from services.common.settings import Settings

log = logs.get(__name__)
S = TypeVar("S", bound=BaseModel)
Extra = Callable[["DeciderWorker[Any]"], None]
Command = tuple[Record, CommandEnvelope]


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
        self.part = f"{name}-worker"
        self.clock = clock
        brokers = [f"kafka://{h}" for h in settings.kafka_bootstrap_servers.split(",")]
        self.app = faust.App(
            f"{settings.topic_prefix}taizhang-{name}",
            broker=brokers,
            broker_credentials=kafka_kit.stream_credentials(settings),
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
        # Held by the app, which stops it on shutdown after its agents and timers.
        signer = command_signing.sender(STREAMS[kind.stream].service, "worker")
        self.sender = WorkerProducer(settings, signer, keep=self.app.add_async_context)
        # Who may write this stream's commands: a command signed by anyone else is parked.
        self.writers = command_signing.writers(kind.stream)
        # Topics of the worker's own making besides the tables' changelogs (reactors add them).
        self.own_topics: list[kafka_kit.TopicSpec] = []
        self.commands_name = settings.topic(f"{kind.stream}.commands")
        self.commands_topic = self.raw_topic(self.commands_name)
        self.events_topic = settings.topic(f"{kind.stream}.events")
        self.replies_topic = settings.topic(f"{kind.stream}.replies")
        # A case's head lives in its command partition, in the topic the heads always had.
        heads_topic = f"{self.app.conf.id}-{kind.stream}-heads-changelog"
        self.own_topics.append(kafka_kit.TopicSpec(heads_topic, {"cleanup.policy": "compact"}))
        self.partitions = Partitions(
            settings,
            writer=f"{self.app.conf.id}-{kind.stream}-decider",
            events_topic=self.events_topic,
            heads_topic=heads_topic,
            signer=signer_for(settings, STREAMS[kind.stream].service),
        )
        # What the worker's reactors believe of the events they read.
        self.trust = Trust(settings)
        self._settling: asyncio.Task[None] | None = None
        self._settled = False
        self.app.on_partitions_assigned.connect(self._assigned)
        self.app.on_before_shutdown.connect(self._shutdown)
        self.app.on_rebalance_complete.connect(self._settle)
        self.app.agent(self.commands_topic, name=f"{kind.stream}-decider", concurrency=1)(
            self._decide_stream
        )
        self.deadlines = Deadlines(
            kind, self.partitions.held, clock, self.sender, self.commands_name
        )
        self.partitions.watches.append(self.deadlines)
        self.app.timer(interval=settings.timer_interval_s)(self.deadlines.tick)
        for extra in extras:
            extra(self)

    def raw_topic(self, name: str) -> faust.TopicT:
        """Return a topic of raw bytes, keys and values left as they are on the wire."""
        return self.app.topic(
            name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )

    async def producer(self) -> AIOKafkaProducer:
        """Return the durable producer (acks=all, idempotent), started on first use."""
        return await self.sender.get()

    async def _decide_stream(self, stream: faust.StreamT[bytes]) -> None:
        batches = as_they_come(stream, self.settings.decide_batch, self.settings.decide_window_s)
        async for events in batches:
            await self.handle_batch(
                [record_of(e, command_signing.header_of(e.message.headers)) for e in events]
            )

    async def _settle(self, _app: Any, /, *_args: Any, **_: Any) -> None:
        """Once the first partitions and their tables are taken, set the heap built aside."""
        # A collection stops the worker for up to a second: once, as it starts, not on
        # every rebalance of a running worker.
        if not self._settled:
            self._settled = True
            heap.settle(self.part)

    async def _assigned(self, _app: Any, /, *args: Any, signal: Any, **_: Any) -> None:
        """Claim the command partitions just assigned (fencing their last owner), release the rest.

        Claimed in the background, so the rebalance is not held up; a batch that needs a
        partition before its claim is done waits for it.
        """
        assigned: set[TP] = args[0]
        mine = {tp.partition for tp in assigned if tp.topic == self.commands_name}
        previous = self._settling

        async def settle() -> None:
            # One rebalance's claims after another's, never interleaved.
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await self.partitions.settle(mine)

        self._settling = asyncio.create_task(settle(), name="claims")

    async def _shutdown(self, _app: Any, /, *_args: Any, signal: Any, **_: Any) -> None:
        await self.partitions.close()

    async def handle_batch(self, records: list[Record]) -> None:
        """Decide a batch of command records in order, store all their events, then reply.

        Each command is decided against the head its case has after the commands before
        it, so a case stays serial. A case's commands all come from one partition; each
        partition's events are stored with its cases' new heads in one transaction of that
        partition's own writer, so the broker round trips are shared by the whole batch. A
        command handed on to another case is sent on after the events are stored, and that
        case replies to it.
        """
        laps = logs.Laps()
        by_partition: dict[int, list[Command]] = defaultdict(list)
        for record in records:
            meta = await self._command(record)
            if meta is not None:
                by_partition[record.partition].append((record, meta))
        laps.mark("read")
        answered = await asyncio.gather(
            *(self._decide_partition(p, commands) for p, commands in by_partition.items())
        )
        laps.mark("store")
        await self.sender.send_replies(
            self.replies_topic, [reply for replies in answered for reply in replies]
        )
        laps.mark("reply")
        log.info("batch.decided", commands=len(records), **laps.ms)

    async def _decide_partition(self, partition: int, commands: list[Command]) -> list[Answer]:
        """Decide one partition's commands from the heads it holds and store them, until stored.

        A writer fenced by a newer owner stored nothing. It claims the partition again,
        which reads the heads the newer owner left, and decides again: the commands are
        never dropped, since they may be marked consumed once this batch is over. Two
        instances that both think they hold the partition take turns this way, deciding
        from the latest heads each time, until the stale one hears that it lost it.
        """
        while True:
            try:
                claim = await self.partitions.claim(partition)
                return await self._decide_claimed(claim, commands)
            except Fenced as exc:
                log.warning(
                    "decider.fenced", partition=partition, commands=len(commands), reason=str(exc)
                )
            except KafkaError as exc:
                log.warning("append.retry", partition=partition, error=str(exc))
                await asyncio.sleep(1.0)

    async def _decide_claimed(self, claim: Claim, commands: list[Command]) -> list[Answer]:
        heads: dict[str, Head] = {}
        decided: list[tuple[CommandEnvelope, Record, Outcome]] = []
        for record, meta in commands:
            head = heads.get(meta.case_id) or await self._held_head(claim, meta, record)
            if head is None:
                decided.append((meta, record, failed(meta)))
                continue
            outcome = await self._decide(meta, head, record)
            heads[meta.case_id] = outcome.head
            decided.append((meta, record, outcome))
        events = [e for _, _, o in decided for e in o.events]
        stored: dict[str, Reply] = {}
        if events:
            async with self.partitions.transaction(claim) as txn:
                positions = await txn.append(events)
                for meta, _, outcome in decided:
                    if not outcome.events:
                        continue
                    count = len(outcome.events)
                    mine, positions = positions[:count], positions[count:]
                    reply = outcome.reply.model_copy(update={"positions": mine})
                    stored[meta.command_id] = reply
                    # The case's last head in this batch answers this command from now on.
                    heads[meta.case_id].answered[meta.command_id] = (
                        meta.fingerprint,
                        reply.model_dump(mode="json"),
                    )
                changed = {meta.case_id for meta, _, outcome in decided if outcome.events}
                # The callers' answers commit with the events, so none is read before they land.
                within = [
                    (meta, stored[meta.command_id])
                    for meta, _, outcome in decided
                    if meta.reply and outcome.forward is None and meta.command_id in stored
                ]
                await asyncio.gather(
                    txn.keep({c: heads[c].model_dump(mode="json") for c in changed}),
                    txn.answer(self.replies_topic, encoded(within)),
                )
        replies: list[Answer] = []
        for meta, record, outcome in decided:
            if outcome.forward is not None:
                if await self._forward(meta, record, outcome.forward):
                    continue
                outcome = failed(meta)
            reply = stored.get(meta.command_id, outcome.reply)
            logged(meta, outcome, reply)
            if meta.reply and not (outcome.forward is None and meta.command_id in stored):
                replies.append((meta, reply))
        return replies

    async def _command(self, record: Record) -> CommandEnvelope | None:
        """Read a command record; dead-letter it if unreadable, not this stream's or unsigned."""
        try:
            meta = CommandEnvelope.model_validate_json(record.value)
            if not self.kind.owns(meta.case_id):
                raise ValueError(
                    f"case {meta.case_id} is not a {'/'.join(self.kind.prefixes)} case"
                )
            command_signing.verify(self.settings, meta, record.signature, self.writers)
        except Exception as exc:  # whatever it holds, one record must not stop the others
            await dead_letter(self.sender, record, reason_of(exc))
            return None
        return meta

    async def _decide(self, meta: CommandEnvelope, head: Head, record: Record) -> Outcome:
        try:
            return process(self.kind, head, meta)
        except Exception as exc:  # a defect in a rule must not stop every other case
            reason = f"{meta.command_type} failed: {reason_of(exc)}"
            await dead_letter(self.sender, record, reason, case_id=meta.case_id)
            return Outcome(events=[], head=head, reply=failed(meta).reply)

    async def _forward(
        self, meta: CommandEnvelope, record: Record, forward: CommandEnvelope
    ) -> bool:
        """Hand a command on to the case that answers it; park it if it cannot be sent."""
        try:
            await self.sender.send_command(forward, self.kind.stream)
        except Exception as exc:
            if broker_fault(exc):
                raise
            reason = f"{meta.command_type} could not be handed on: {reason_of(exc)}"
            await dead_letter(self.sender, record, reason, case_id=meta.case_id)
            return False
        log.info(
            "command.forwarded",
            case_id=meta.case_id,
            command_id=meta.command_id,
            to=forward.case_id,
            command_type=forward.command_type,
        )
        return True

    async def _held_head(self, claim: Claim, meta: CommandEnvelope, record: Record) -> Head | None:
        """Return the case's held head; park the command if the head cannot be read."""
        try:
            stored = claim.heads.get(meta.case_id)
            if stored and UNREADABLE in stored:
                raise ValueError(stored[UNREADABLE])
            return Head.model_validate(stored) if stored else Head()
        except Exception as exc:  # every command of that case fails alike; the others go on
            reason = f"the head of {meta.case_id} cannot be read: {reason_of(exc)}"
            await dead_letter(self.sender, record, reason, case_id=meta.case_id)
            return None

    async def append(self, events: list[Envelope]) -> list[tuple[int, int]]:
        """Store events as the decider does: one transaction per partition, all at once."""
        by_partition: dict[int, list[Envelope]] = defaultdict(list)
        for env in events:
            by_partition[kafka_kit.key_partition(env.case_id, self.settings.partitions)].append(env)

        async def store(partition: int, part: list[Envelope]) -> list[tuple[int, int]]:
            async with self.partitions.transaction(await self.partitions.claim(partition)) as txn:
                return await txn.append(part)

        stored = await asyncio.gather(*(store(p, part) for p, part in by_partition.items()))
        return [position for positions in stored for position in positions]

    def declare_changelogs(self) -> list[str]:
        """Create the tables' changelog topics, and the worker's own topics, up front.

        A changelog the stream processor creates on its own first start can show no
        partitions for a while, and a table write in that window fails the agent.
        """
        specs = [
            kafka_kit.TopicSpec(table.changelog_topic_name, {"cleanup.policy": "compact"})
            for table in self.app.tables.values()
        ]
        return kafka_kit.ensure_topics(self.settings, [*specs, *self.own_topics])

    def run(self) -> None:
        """Run the worker until it is told to stop."""
        self.declare_changelogs()
        worker = faust.Worker(self.app, loglevel="WARNING", redirect_stdouts=False, quiet=True)
        committed.read_committed_only(self.app)
        markers.commit_past_markers(self.app)
        rewind.start_unplaced_from_the_beginning(self.app)
        worker.execute_from_commandline()
