"""Notification rules: pure decide/evolve over one message's life, and a user's preferences."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts import notification as n
from contracts.envelope import Envelope
from contracts.personal import Sealed
from contracts.registry import EventPayload
from services.common.domain import (
    Command,
    Forbidden,
    Invalid,
    NotFound,
    Refused,
    check_occurred_at,
    require_role,
)

Status = Literal["planned", "sent", "failed", "acknowledged", "cancelled"]

CASE_PREFIX = "NTF"
PREFERENCES_PREFIX = "NPF"
# A message is tried this often before its address counts as failing for good.
MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)
HUMANS = (
    "worker_rep",
    "union_chair",
    "mediator",
    "followup_officer",
    "group_member",
    "auditor",
)
ROLES: dict[str, tuple[str, ...]] = {
    "plan": ("system",),
    "record_sent": ("system",),
    "record_failure": ("system",),
    "cancel": ("system",),
    "acknowledge": HUMANS,
    "set_preferences": HUMANS,
}


class Notification(BaseModel):
    """One message as it stands after its events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    unit: str
    audience: n.Audience
    recipient: str
    template: str
    language: n.Language
    params: dict[str, str]
    address: Sealed | None = None
    send_at: datetime
    deadline: date | None = None
    source_case_id: str
    status: Status = "planned"
    attempts: int = 0
    retry_at: datetime | None = None
    channel: n.Channel | None = None
    sent_at: datetime | None = None
    acknowledged_at: datetime | None = None
    cancel_reason: n.CancelReason | None = None
    # The code of the last failure; a string, as heads and rows kept before codes may hold text.
    last_failure: str | None = None
    last_event_at: datetime

    @property
    def next_try(self) -> datetime:
        """When the message may be tried next."""
        return self.retry_at or self.send_at


class Preferences(BaseModel):
    """A user's choice of channels, quiet hours and language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    unit: str
    user: str
    channels: tuple[n.Channel, ...]
    quiet_from: int
    quiet_to: int
    language: n.Language
    last_event_at: datetime


def backoff(attempt: int) -> timedelta:
    """How long to wait after the `attempt`-th failed try: doubling, within bounds."""
    wait: timedelta = FIRST_RETRY * 2 ** max(0, min(attempt, 20) - 1)
    return min(wait, LAST_RETRY)


def decide(state: Notification | None, cmd: Command[object]) -> list[EventPayload]:
    """Turn a command into the events it causes, or refuse it."""
    kind = cmd.meta.command_type
    require_role(cmd, ROLES.get(kind, ()), f"{kind.replace('_', ' ')} a notification")
    p = cmd.payload
    if isinstance(p, n.Plan):
        if state is not None:
            raise Refused(f"notification {cmd.meta.case_id} is already planned")
        check_occurred_at(cmd, None)
        return [n.NotificationPlanned(**p.model_dump())]
    if state is None:
        raise NotFound(f"notification {cmd.meta.case_id} does not exist")
    check_occurred_at(cmd, state.last_event_at)
    match p:
        case n.RecordSent(channel=channel, attempt=attempt):
            _require_try(state, attempt)
            return [n.NotificationSent(channel=channel, attempt=attempt)]
        case n.RecordFailure(channel=channel, attempt=attempt, permanent=final):
            _require_try(state, attempt)
            final = final or attempt >= MAX_ATTEMPTS
            retry = None if final else cmd.occurred_at + backoff(attempt)
            return [
                n.NotificationFailed(
                    channel=channel,
                    attempt=attempt,
                    code=p.code,
                    status=p.status,
                    permanent=final,
                    retry_at=retry,
                )
            ]
        case n.Cancel(reason=reason):
            if state.status != "planned":
                raise Refused(f"notification {state.case_id} is {state.status}, not planned")
            return [n.NotificationCancelled(reason=reason)]
        case n.Acknowledge():
            if cmd.meta.actor.user_id != state.recipient:
                raise Forbidden(f"only {state.recipient} acknowledges {state.case_id}")
            if state.status != "sent":
                raise Refused(f"notification {state.case_id} is {state.status}, not sent")
            return [n.NotificationAcknowledged(by=cmd.meta.actor.user_id)]
    raise Invalid(f"unknown notification command {kind!r}")


def _require_try(state: Notification, attempt: int) -> None:
    if state.status != "planned":
        raise Refused(f"notification {state.case_id} is {state.status}, not waiting to be sent")
    if attempt != state.attempts + 1:
        raise Refused(f"notification {state.case_id} expects try {state.attempts + 1}")


def evolve(state: Notification | None, env: Envelope, event: EventPayload) -> Notification:
    """Apply one event to the notification."""
    at = env.occurred_at
    if isinstance(event, n.NotificationPlanned):
        fields = event.model_dump(exclude={"source_event_id"})
        return Notification(case_id=env.case_id, last_event_at=at, **fields)
    if state is None:
        raise ValueError(f"{env.event_type} before notification.planned in {env.case_id}")
    s = state.model_copy(update={"last_event_at": at})
    match event:
        case n.NotificationSent(channel=channel, attempt=attempt):
            return s.model_copy(
                update={"status": "sent", "channel": channel, "attempts": attempt, "sent_at": at}
            )
        case n.NotificationFailed(channel=channel, attempt=attempt, code=code):
            status: Status = "failed" if event.permanent else "planned"
            return s.model_copy(
                update={
                    "status": status,
                    "channel": channel,
                    "attempts": attempt,
                    "retry_at": event.retry_at,
                    "last_failure": code,
                }
            )
        case n.NotificationAcknowledged():
            return s.model_copy(update={"status": "acknowledged", "acknowledged_at": at})
        case n.NotificationCancelled(reason=reason):
            return s.model_copy(update={"status": "cancelled", "cancel_reason": reason})
    raise ValueError(f"notification cannot apply {env.event_type}")


def decide_preferences(state: Preferences | None, cmd: Command[object]) -> list[EventPayload]:
    """Record a user's own choice of channels and quiet hours."""
    require_role(cmd, ROLES["set_preferences"], "set notification preferences")
    p = cmd.payload
    if not isinstance(p, n.SetPreferences):
        raise Invalid(f"unknown preferences command {cmd.meta.command_type!r}")
    actor = cmd.meta.actor
    if state is not None and state.user != actor.user_id:
        raise Forbidden(f"{cmd.meta.case_id} holds another user's preferences")
    check_occurred_at(cmd, state.last_event_at if state else None)
    channels = tuple(dict.fromkeys(p.channels))
    return [
        n.NotificationPreferencesSet(
            user=actor.user_id,
            unit=actor.unit,
            channels=channels,
            quiet_from=p.quiet_from,
            quiet_to=p.quiet_to,
            language=p.language,
        )
    ]


def evolve_preferences(
    state: Preferences | None, env: Envelope, event: EventPayload
) -> Preferences:
    """Apply a preferences event: the latest choice wins."""
    if not isinstance(event, n.NotificationPreferencesSet):
        raise ValueError(f"preferences cannot apply {env.event_type}")
    return Preferences(case_id=env.case_id, last_event_at=env.occurred_at, **event.model_dump())
