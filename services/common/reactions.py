"""What a policy needs to answer another case's events with commands: pure, no broker."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from pydantic import BaseModel

from contracts.commands import CommandEnvelope
from contracts.envelope import GENESIS_HASH, Actor, Envelope
from contracts.registry import EventPayload
from services.common.ids import reaction_command_id

# Each command goes to the named stream's decider.
Commands = list[tuple[str, CommandEnvelope]]


class SourceCase(BaseModel):
    """What a reactor knows of the case an event belongs to: its chain so far and its unit."""

    case_id: str
    unit: str | None = None
    hashes: list[str] = []
    # The version each event id was read at (not known for what was read before they were kept).
    ids: dict[str, int] = {}

    @property
    def version(self) -> int:
        """The last version read."""
        return len(self.hashes)


class Stray(ValueError):
    """An event that does not belong to its case as followed so far: forged, skipped or doubled.

    It is set aside alone; the case's own chain goes on being answered.
    """


class NeverOpened(Stray, LookupError):
    """An event of a case that was never opened by one of the events that open one."""


# A policy answering an event of a case whose chain it follows, or one answering events alone.
React = Callable[[Envelope, EventPayload, SourceCase], Commands]
ReactAlone = Callable[[Envelope, EventPayload], Commands]


def system_actor(unit: str) -> Actor:
    """The actor recorded on commands the system itself issues (timers, reactors)."""
    return Actor(user_id="system", role="system", unit=unit)


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


def follow_chain(
    stored: SourceCase | None, env: Envelope, payload: EventPayload, opened_by: Collection[str]
) -> SourceCase | None:
    """Return the source case after this event, None for a repeat; raise if it does not belong."""
    source = stored or SourceCase(case_id=env.case_id)
    if env.case_version <= source.version:
        if source.hashes[env.case_version - 1] == env.hash:
            return None
        raise Stray(f"{env.case_id} version {env.case_version} differs from the one read before")
    first = source.ids.get(str(env.event_id))
    if first is not None:
        raise Stray(
            f"{env.case_id} repeats event {env.event_id} of version {first} with another hash"
        )
    if source.version == 0 and (env.case_version != 1 or env.event_type not in opened_by):
        raise NeverOpened(f"{env.event_type} names {env.case_id}, a case that was never opened")
    head = source.hashes[-1] if source.hashes else GENESIS_HASH
    if env.case_version != source.version + 1 or env.prev_hash != head:
        raise Stray(
            f"{env.case_id} version {env.case_version} does not follow version {source.version}"
        )
    unit = source.unit if source.version else getattr(payload, "unit", None)
    hashes, ids = [*source.hashes, env.hash], {**source.ids, str(env.event_id): env.case_version}
    return source.model_copy(update={"unit": unit, "hashes": hashes, "ids": ids})
