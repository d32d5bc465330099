"""Pure building blocks shared by every service's domain: typed commands, refusals, folds."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Generic, TypeVar

from pydantic import BaseModel

from contracts.commands import CommandEnvelope
from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.calendar import add_years
from services.common.units import within

P = TypeVar("P")
S = TypeVar("S")

# Clocks of different machines disagree a little; a command is not "in the future" within this.
CLOCK_SKEW = timedelta(minutes=2)
# How far from the case's own day a date a command names may lie: a due or performance date
# ahead of it, the day a session was held or a fact became known behind it.
HORIZON_YEARS = 5


@dataclass(frozen=True)
class Command(Generic[P]):
    """A command's metadata and its typed payload, as the decider sees it."""

    meta: CommandEnvelope
    payload: P

    @property
    def occurred_at(self) -> datetime:
        """When the thing happened in the world."""
        return self.meta.occurred_at


@dataclass(frozen=True)
class Forward:
    """A decision to hand the command on to another case of the stream, which answers it."""

    case_id: str
    command_type: str
    payload: BaseModel
    expected_version: int | None = None


class Refused(Exception):
    """A command the rules do not allow; it becomes a reply, never an event."""

    status = 409
    title = "Conflict"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(Refused):
    """The case does not exist (or is outside the caller's reach)."""

    status = 404
    title = "Not found"


class Invalid(Refused):
    """The command is well-formed but its content breaks a rule."""

    status = 422
    title = "Invalid command"


class Forbidden(Refused):
    """The caller's role may not do this."""

    status = 403
    title = "Forbidden"


def require_role(cmd: Command[object], allowed: Iterable[str], what: str) -> None:
    """Refuse unless the actor's role is one of `allowed`."""
    roles = tuple(allowed)
    if cmd.meta.actor.role not in roles:
        raise Forbidden(f"a {cmd.meta.actor.role} may not {what}; allowed: {', '.join(roles)}")


def check_not_future(moment: datetime, cmd: Command[object], what: str) -> None:
    """Refuse a time later than the command was sent, beyond the clocks' disagreement."""
    if moment > cmd.meta.issued_at + CLOCK_SKEW:
        raise Invalid(f"{what} is in the future")


def check_occurred_at(cmd: Command[object], last_event_at: datetime | None) -> None:
    """Refuse a back-dated time before the case's last event, or a time in the future."""
    check_not_future(cmd.meta.occurred_at, cmd, "occurred_at")
    if last_event_at is not None and cmd.meta.occurred_at < last_event_at:
        raise Invalid(
            f"occurred_at {cmd.meta.occurred_at.isoformat()} is before the case's last event"
            f" ({last_event_at.isoformat()})"
        )


def check_day(day: date, today: date, what: str, *, ahead: bool) -> None:
    """Refuse a date too far from the case's day `today`, saying which dates would do.

    `ahead`: a due or performance date, from `today` to HORIZON_YEARS after it; otherwise the
    date something happened, from HORIZON_YEARS before `today` to `today`.
    """
    if ahead:
        first, last = today, add_years(today, HORIZON_YEARS)
    else:
        first, last = add_years(today, -HORIZON_YEARS), today
    if first <= day <= last:
        return
    if day < first:
        why = "is already past" if ahead else f"is more than {HORIZON_YEARS} years back"
    else:
        why = f"is more than {HORIZON_YEARS} years ahead" if ahead else "is in the future"
    raise Invalid(f"{what} ({day}) {why}; give a date from {first} to {last}")


def check_opening(state: object | None, cmd: Command[object], unit: str, noun: str) -> None:
    """Refuse to open a case twice, at a time in the future, or outside the actor's unit."""
    if state is not None:
        raise Refused(f"{noun} {cmd.meta.case_id} already exists")
    check_occurred_at(cmd, None)
    if not within(cmd.meta.actor.unit, unit):
        raise Forbidden(f"unit {unit} is outside your unit {cmd.meta.actor.unit}")


def fold(
    evolve: Callable[[S | None, Envelope, EventPayload], S],
    state: S | None,
    events: Sequence[tuple[Envelope, EventPayload]],
) -> S | None:
    """Apply events in order to a state."""
    for env, payload in events:
        state = evolve(state, env, payload)
    return state
