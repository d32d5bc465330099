"""Timers: deadlines found in the case heads become commands to the cases' own decider."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from contracts.commands import CommandEnvelope
from services.common.calendar import END_OF_TIME, end_of_day
from services.common.decider import CaseKind, Head
from services.common.ids import timer_command_id
from services.common.isolation import UNREADABLE, reason_of
from services.common.reactions import system_actor


@dataclass(frozen=True)
class Stalled:
    """A case whose deadlines could not be worked out from its head, and why."""

    case_id: str
    # The head's hash (or a stand-in when the head cannot be read): the case is tried again
    # once this changes, that is once the case has a new event.
    mark: str
    version: int | None
    reason: str


@dataclass(frozen=True)
class Sweep:
    """One tick's outcome: the commands due, the cases that failed afresh, the ones set aside."""

    commands: list[CommandEnvelope] = field(default_factory=list)
    failed: list[Stalled] = field(default_factory=list)
    # Every case set aside after this tick, by head mark: the next tick skips them.
    held: dict[str, str] = field(default_factory=dict)


def sweep(
    stream_kind: CaseKind[Any],
    heads: Iterable[tuple[bytes, Any]],
    now: datetime,
    held: Mapping[str, str] | None = None,
) -> Sweep:
    """Return the commands the cases' deadlines call for at `now`, identical on every tick.

    A case whose head cannot be read, or whose deadline rule fails, is reported once and then
    skipped on every tick until its head changes; every other case is still served.
    """
    held = held or {}
    out = Sweep()
    for key, stored in heads:
        case_id = key.decode(errors="replace")
        mark = _mark(stored)
        if held.get(case_id) == mark:
            out.held[case_id] = mark
            continue
        try:
            out.commands.extend(_due(stream_kind, case_id, stored, now))
        except Exception as exc:  # one case's bad head or rule must not stop the others' timers
            version = stored.get("version") if isinstance(stored, dict) else None
            out.failed.append(
                Stalled(
                    case_id, mark, version if isinstance(version, int) else None, reason_of(exc)
                )
            )
            out.held[case_id] = mark
    return out


def _mark(stored: Any) -> str:
    if isinstance(stored, dict) and isinstance(stored.get("hash"), str):
        return str(stored["hash"])
    return repr(stored)[:128]


def _due(
    stream_kind: CaseKind[Any], case_id: str, stored: Any, now: datetime
) -> list[CommandEnvelope]:
    if isinstance(stored, dict) and UNREADABLE in stored:
        raise ValueError(f"the head is kept as unreadable: {stored[UNREADABLE]}")
    head = Head.model_validate(stored)
    if head.state is None:
        return []
    kind = stream_kind.of(case_id)
    state = kind.state.model_validate(head.state)
    return [
        CommandEnvelope(
            command_id=timer_command_id(case_id, command_type, json.dumps(payload, sort_keys=True)),
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
        for command_type, payload in kind.due(state, now)
    ]


# When a case must be looked at on the next tick: its head or its rules fail, to be reported.
AT_ONCE = datetime.min.replace(tzinfo=UTC)


def wake(stream_kind: CaseKind[Any], case_id: str, stored: Any) -> datetime | None:
    """Return the first moment the case's deadlines call for a command, None if they never do.

    Deadlines pass at the end of a day the state records (or at a time it records), so the
    moments worth asking are those; the case's own rules are asked at each, in order. A
    case whose rules call for a command at some later time but at none of those moments is
    looked at on every tick, as is one whose head or rules fail, so that it is reported.
    """
    try:
        if isinstance(stored, dict) and UNREADABLE in stored:
            return AT_ONCE
        head = Head.model_validate(stored)
        if head.state is None:
            return None
        kind = stream_kind.of(case_id)
        state = kind.state.model_validate(head.state)
        if not kind.due(state, END_OF_TIME):
            return None
        for moment in sorted(set(_moments(state))):
            if kind.due(state, moment):
                return moment
    except Exception:  # reported by the sweep, which meets the same failure
        return AT_ONCE
    return AT_ONCE


def _moments(state: BaseModel) -> Iterator[datetime]:
    """Every moment a deadline recorded in the state could pass."""
    for value in state.__dict__.values():
        for item in value if isinstance(value, tuple | list) else (value,):
            if isinstance(item, datetime):
                yield item if item.tzinfo is not None else item.replace(tzinfo=UTC)
            elif isinstance(item, date):
                yield end_of_day(item)
