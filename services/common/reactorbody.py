"""How an installed reactor handles its records: check, decide, send, then remember."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import faust

from contracts.commands import CommandEnvelope
from contracts.envelope import Envelope, chain_hash, parse_json
from contracts.registry import REGISTRY, EventPayload
from services.common import logging as logs
from services.common.batching import as_they_come
from services.common.deadletters import Record, broker_fault, dead_letter, record_of
from services.common.foreign import passed_over
from services.common.isolation import position, quarantine_mark, quarantined_since, reason_of
from services.common.reactions import Commands, Stray

if TYPE_CHECKING:
    from services.common.worker import DeciderWorker

log = logs.get(__name__)


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
