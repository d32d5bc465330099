"""Reactors: policies that consume a stream's events and answer with commands, one body for all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

import faust
from pydantic import BaseModel

from contracts.commands import CommandEnvelope
from contracts.envelope import Envelope, chain_hash, parse_json
from contracts.registry import REGISTRY, EventPayload
from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.batching import as_they_come
from services.common.deadletters import Record, broker_fault, dead_letter, record_of
from services.common.foreign import passed_over, type_names
from services.common.isolation import position, quarantine_mark, quarantined_since, reason_of
from services.common.reactions import (
    Commands,
    React,
    ReactAlone,
    SourceCase,
    Stray,
    follow_chain,
)

if TYPE_CHECKING:
    from services.common.worker import DeciderWorker, Extra

log = logs.get(__name__)
M = TypeVar("M", bound=BaseModel)
# Records passed on between the two passes of a gathering reactor are kept as long as commands.
GATHERED_RETENTION_MS = str(7 * 86_400_000)

# Given what is filed for the event's case so far: the key to file this event under (None:
# not needed), and what is filed for the case afterwards (None: nothing).
FileUnder = Callable[[str | None, Envelope, EventPayload], tuple[str | None, str | None]]
# Given what is remembered under a key, one event filed there and the worker's clock: what is
# remembered afterwards (None: nothing) and the commands to send.
Gathered = Callable[[M | None, Envelope, EventPayload, datetime], tuple[M | None, Commands]]


@dataclass(frozen=True)
class Answer:
    """What a reactor does about one event."""

    commands: Commands = field(default_factory=list)
    # What it keeps under the record's key afterwards; None forgets the key.
    memory: Any = None
    # The key the record is passed on under, to a reactor's second pass.
    file_under: str | None = None
    # An event already answered: nothing is sent and nothing remembered.
    repeat: bool = False


Step = Callable[[Any, Envelope, EventPayload], Answer]
# A batch is what arrived while the last one was answered, up to this many records.
REACT_BATCH = 200
# No caller waits on a reaction: a batch is held this long after its first record, so the
# events of a busy moment are answered, and their commands sent and decided, together.
REACT_WITHIN_S = 0.2


@dataclass(frozen=True)
class Outgoing:
    """One record a batch sends: a command to a stream's decider, or a record passed on."""

    # The stream a command goes to, or the topic a record is passed on to.
    where: str
    command: CommandEnvelope | None = None
    key: bytes = b""
    value: bytes = b""
    # The event a command answers.
    cause: str = ""


def read_event(raw: dict[str, Any]) -> tuple[Envelope, EventPayload]:
    """Read a parsed event record and check its hash against its content; raise if not sound."""
    env = Envelope.model_validate(raw)
    if chain_hash(raw) != raw.get("hash"):
        raise ValueError("hash does not match the record's content")
    return env, REGISTRY.read(env)


class ReactorBody:
    """How one installed reactor handles its records: check, decide, send, then remember.

    A record that cannot be read, or that does not belong to its case as followed so far,
    is dead-lettered beside its topic and the reactor moves on. One whose signature is not
    believed, or one the step fails on, for whatever reason, is dead-lettered too, and the
    case (or the key records were filed under) is quarantined: its later records are
    dead-lettered naming that first failure, never answered from a memory that missed an
    event. Records are taken in batches as they come: each is decided against what the
    ones before it left, their commands are sent together and waited on once, and what it
    remembers is written only once they are all stored, so a redelivered record is answered
    again, with the same command ids.
    """

    def __init__(
        self,
        worker: DeciderWorker[Any],
        name: str,
        step: Step,
        memory: Any = None,
        *,
        passes_to: str | None = None,
        by_filed_key: bool = False,
        reads: frozenset[str] = frozenset(),
    ) -> None:
        self.worker, self.name, self.step = worker, name, step
        self.memory, self.passes_to, self.by_filed_key = memory, passes_to, by_filed_key
        # The only event types answered, when the policy names them: others are passed over
        # before they are checked, as nothing is sent or remembered for them.
        self.reads = reads

    async def run(self, stream: faust.StreamT[bytes]) -> None:
        """Handle the agent's records in batches as they come, in partition order."""
        async for events in as_they_come(stream, REACT_BATCH, REACT_WITHIN_S):
            await self.handle_batch([record_of(e) for e in events])

    async def handle_batch(self, records: list[Record]) -> None:
        """Answer a batch of event records in order, store what they send, then remember."""
        sound: list[tuple[Record, Envelope, EventPayload]] = []
        for record in records:
            try:
                raw = parse_json(record.value)
                if passed_over(raw, self.reads):
                    continue
                env, payload = read_event(raw)
            except Exception as exc:  # whatever the record holds, the reactor goes on
                await self._park(record, reason_of(exc))
                continue
            sound.append((record, env, payload))
        if not sound:
            return
        disbeliefs = await self._disbeliefs(sound)
        # What each key remembers after the records before, kept until the sends are stored.
        changed: dict[bytes, Any] = {}
        outgoing: list[Outgoing] = []
        for (record, env, payload), disbelief in zip(sound, disbeliefs, strict=True):
            case_id = env.case_id
            key = record.key if self.by_filed_key else case_id.encode()
            stored = changed[key] if key in changed else self._remembered(key)
            if disbelief is not None:
                verdict = Verdict(parked=f"not believed: {disbelief}", quarantine=True)
            else:
                verdict = judge(self.step, key.decode(errors="replace"), stored, env, payload)
            if verdict.answer is None:
                quarantined = verdict.quarantine and self.memory is not None
                await self._park(record, verdict.parked, case_id, quarantined=quarantined)
                if quarantined:
                    where = position(record.topic, record.partition, record.offset)
                    changed[key] = quarantine_mark(verdict.parked, where)
                continue
            answer = verdict.answer
            if answer.repeat:
                log.info(
                    "reaction.repeat", reactor=self.name, case_id=case_id, offset=record.offset
                )
                continue
            cause = str(env.event_id)
            outgoing += [Outgoing(stream, meta, cause=cause) for stream, meta in answer.commands]
            if answer.file_under is not None and self.passes_to is not None:
                passed = Outgoing(
                    self.passes_to, key=answer.file_under.encode(), value=record.value
                )
                outgoing.append(passed)
            if self.memory is not None and answer.memory != stored:
                changed[key] = answer.memory
        await self._store(outgoing)
        for key, kept in changed.items():
            if kept is None:
                self.memory.pop(key, None)
            else:
                self.memory[key] = kept

    def _remembered(self, key: bytes) -> Any:
        return self.memory.get(key) if self.memory is not None else None

    async def _store(self, outgoing: list[Outgoing]) -> None:
        """Send every command and passed-on record, then wait until all are stored.

        A broker that fails them is waited for and everything is sent again: a command is
        answered once by its id, and a record passed on twice is read as a repeat.
        """
        sender = self.worker.sender
        while outgoing:
            try:
                pending = [
                    await (
                        sender.queue(o.where, o.key, o.value)
                        if o.command is None
                        else sender.queue_command(o.command, o.where)
                    )
                    for o in outgoing
                ]
                await asyncio.gather(*pending)
                break
            except Exception as exc:
                if not broker_fault(exc):
                    raise
                log.warning("reaction.retry", reactor=self.name, error=reason_of(exc))
                await asyncio.sleep(1.0)
        for o in outgoing:
            if o.command is not None:
                log.info(
                    "reaction.sent",
                    reactor=self.name,
                    case_id=o.command.case_id,
                    command_type=o.command.command_type,
                    command_id=o.command.command_id,
                    cause=o.cause,
                )

    async def _disbeliefs(
        self, sound: list[tuple[Record, Envelope, EventPayload]]
    ) -> list[str | None]:
        """Why each event must not be believed, or None; a passed-on record is judged as signed.

        A second pass reads records the first one believed and passed on, at places of its
        own topic, so only a signature can vouch for them there.
        """
        trust = self.worker.trust

        def judged() -> list[str | None]:
            return [
                trust.judge(
                    env, record.topic, record.partition, -1 if self.by_filed_key else record.offset
                )
                for record, env, _ in sound
            ]

        while True:
            try:
                return await asyncio.to_thread(judged)
            except Exception as exc:
                if not broker_fault(exc):
                    raise
                # The keys could not be read: the records wait, neither believed nor parked.
                log.warning("reaction.keys_unreadable", reactor=self.name, error=reason_of(exc))
                await asyncio.sleep(1.0)

    async def _park(
        self, record: Record, why: str, case_id: str | None = None, *, quarantined: bool = False
    ) -> None:
        reason = f"{self.name}: {why}"
        await dead_letter(
            self.worker.sender, record, reason, case_id=case_id, quarantined=quarantined
        )


@dataclass(frozen=True)
class Verdict:
    """What becomes of one sound record: its answer, or why it is parked instead."""

    answer: Answer | None = None
    parked: str = ""
    # The record's key is set aside from now on: the step failed on a record that belongs.
    quarantine: bool = False


def judge(step: Step, key: str, stored: Any, env: Envelope, payload: EventPayload) -> Verdict:
    """Run the step on a sound record, unless its key is quarantined; never raise.

    A record that does not belong to its case as followed is parked alone; any failure of
    the step on one that belongs quarantines the key, so no later record is answered from a
    memory that missed it.
    """
    held = quarantined_since(stored)
    if held is not None:
        return Verdict(parked=f"{key} {held}")
    try:
        return Verdict(answer=step(stored, env, payload))
    except Stray as exc:
        return Verdict(parked=str(exc))
    except Exception as exc:  # a failing policy sets this case aside, not the reactor
        return Verdict(parked=reason_of(exc), quarantine=True)


@overload
def reactor(
    source_stream: str,
    name: str,
    react: ReactAlone,
    *,
    reads: Collection[type[EventPayload]] = (),
) -> Extra: ...


@overload
def reactor(
    source_stream: str, name: str, react: React, *, opened_by: Collection[str]
) -> Extra: ...


def reactor(
    source_stream: str,
    name: str,
    react: React | ReactAlone,
    *,
    opened_by: Collection[str] | None = None,
    reads: Collection[type[EventPayload]] = (),
) -> Extra:
    """Install a policy that consumes a stream's events and sends commands.

    With `opened_by`, it follows each source case's hash chain and hands the policy the case
    as followed so far: an event of a case never opened by one of those event types, or one
    that breaks or contradicts the chain read so far, is dead-lettered instead of answered,
    and a repeat of an event answered is skipped. Without it, each event is answered alone,
    and `reads` may name the only event types the policy answers.
    """
    types = type_names(reads)

    def install(worker: DeciderWorker[Any]) -> None:
        topic = worker.raw_topic(worker.settings.topic(f"{source_stream}.events"))
        if opened_by is None:
            body = ReactorBody(worker, name, _alone(cast(ReactAlone, react)), reads=types)
        else:
            step = _following(cast(React, react), frozenset(opened_by))
            body = ReactorBody(worker, name, step, _table(worker, f"{name}-sources"))
        worker.app.agent(topic, name=f"{name}-reactor", concurrency=1)(body.run)

    return install


def gathering_reactor(
    source_stream: str | tuple[str, ...],
    name: str,
    *,
    file_under: FileUnder,
    memory: type[M],
    react: Gathered[M],
) -> Extra:
    """Install a policy that answers the events of several cases seen together under one key.

    A first pass files the events it needs under a key (a review's events under its group,
    say) by passing each record on, unchanged, to the topic `<name>.gathered` keyed so. A
    second pass reads that topic, where the events filed under one key share a partition and
    keep each case's order, and answers each with what it remembers under that key. Both
    memories are tables kept in the partition of their key, so several workers can share the
    partitions and each key still has one writer. Several source streams may be gathered
    under the same keys, each with its own first pass.
    """

    def install(worker: DeciderWorker[Any]) -> None:
        gathered = worker.settings.topic(f"{name}.gathered")
        worker.own_topics += [
            kafka_kit.TopicSpec(gathered, {"retention.ms": GATHERED_RETENTION_MS}),
            kafka_kit.TopicSpec(f"{gathered}.dlq", {"retention.ms": kafka_kit.FOREVER}),
        ]

        def file(stored: Any, env: Envelope, payload: EventPayload) -> Answer:
            key, filed = file_under(stored, env, payload)
            return Answer(memory=filed, file_under=key)

        def answer(stored: Any, env: Envelope, payload: EventPayload) -> Answer:
            kept, commands = react(
                memory.model_validate(stored) if stored else None, env, payload, worker.clock()
            )
            return Answer(commands, kept.model_dump(mode="json") if kept else None)

        sources = (source_stream,) if isinstance(source_stream, str) else source_stream
        filed = _table(worker, f"{name}-filed")
        filer = ReactorBody(worker, name, file, filed, passes_to=gathered)
        for i, stream in enumerate(sources):
            source = worker.raw_topic(worker.settings.topic(f"{stream}.events"))
            agent = f"{name}-filer" if i == 0 else f"{name}-{stream}-filer"
            worker.app.agent(source, name=agent, concurrency=1)(filer.run)
        memory_table = _table(worker, f"{name}-memory")
        body = ReactorBody(worker, name, answer, memory_table, by_filed_key=True)
        worker.app.agent(worker.raw_topic(gathered), name=f"{name}-reactor", concurrency=1)(
            body.run
        )

    return install


def _alone(react: ReactAlone) -> Step:
    def step(_stored: Any, env: Envelope, payload: EventPayload) -> Answer:
        return Answer(react(env, payload))

    return step


def _following(react: React, opened_by: frozenset[str]) -> Step:
    def step(stored: Any, env: Envelope, payload: EventPayload) -> Answer:
        known = SourceCase.model_validate(stored) if stored else None
        source = follow_chain(known, env, payload, opened_by)
        if source is None:
            return Answer(repeat=True)
        return Answer(react(env, payload, source), source.model_dump(mode="json"))

    return step


def _table(worker: DeciderWorker[Any], name: str) -> Any:
    # Keyed like the records it follows (case id, or the key they were filed under) and placed
    # by the producer's partitioner, as they are: so a changelog created at start-up, whose
    # partition count the consumer may not know yet, is never checked against the source
    # topic (PartitionsMismatch).
    return worker.app.Table(
        name,
        default=None,
        partitions=worker.settings.partitions,
        key_type=bytes,
        use_partitioner=True,
    )
