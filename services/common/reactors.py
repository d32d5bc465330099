"""Reactors: policies that consume a stream's events and answer with commands, one body for all.

This module installs them; `reactorbody` is how each handles its records.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.foreign import type_names
from services.common.reactions import (
    Commands,
    React,
    ReactAlone,
    SourceCase,
    follow_chain,
)
from services.common.reactorbody import Answer, ReactorBody, Step

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
