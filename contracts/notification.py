"""Notifications (提醒与进度通知): each message planned, sent, failed, acknowledged or cancelled."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Frozen
from contracts.personal import Sealed
from contracts.registry import REGISTRY, EventPayload

Channel = Literal["email", "sms", "wecom"]
Language = Literal["zh", "en"]
# staff: a mediator, chair, owner or officer reached at their work address; worker: a
# worker reached at the phone they gave, only if they agreed to progress messages.
Audience = Literal["staff", "worker"]
CancelReason = Literal["deadline_met", "erased", "expired", "withdrawn"]
UserId = Field(min_length=1, max_length=128)
SourceCase = Field(pattern=r"^(GRV|SUG|DSP|FUP)-[0-9A-Z]{4,40}$")
Template = Field(pattern=r"^[a-z_]{3,40}$")
Params: Any = Field(default_factory=dict, max_length=8)
ParamName = Annotated[str, Field(pattern=r"^[a-z_]{1,16}$")]
ParamValue = Annotated[str, Field(max_length=64)]
# Why a send failed, from a closed set, so that nothing the far end said (which can quote an
# address) reaches the log: refused, the far end would not take it now (busy, throttled);
# bounced, it turned the message down for good; invalid_address, it knows no such recipient;
# no_address, there was nowhere to send it; unreachable, it could not be reached; timeout, it
# did not answer in time; other, anything else, and every failure recorded before the codes.
FailureCode = Literal[
    "refused", "bounced", "invalid_address", "no_address", "unreachable", "timeout", "other"
]
# The far end's numeric answer (an SMTP reply code or an HTTP status), where it gave one.
Status = Field(default=None, ge=100, le=599)


# --- events ---------------------------------------------------------------


@REGISTRY.register
class NotificationPlanned(EventPayload):
    """A message was planned for someone, to go out at `send_at`, in answer to a case's event."""

    event_type = "notification.planned"

    unit: str
    audience: Audience
    recipient: str = UserId
    template: str = Template
    language: Language = "zh"
    params: dict[ParamName, ParamValue] = Params
    # The worker's phone as sealed in the case; opened only when the message goes out.
    address: Sealed | None = None
    send_at: AwareDatetime
    # The date the message is about (a deadline, a session, a call-back), if any.
    deadline: date | None = None
    source_case_id: str = SourceCase
    source_event_id: str = Field(min_length=1, max_length=64)


@REGISTRY.register
class NotificationSent(EventPayload):
    """The message was handed to its channel, which accepted it."""

    event_type = "notification.sent"

    channel: Channel
    attempt: int = Field(ge=1, le=100)


@REGISTRY.register
class NotificationFailed(EventPayload):
    """A try to send failed, why as a code (v1 kept text); tried again at `retry_at` or never."""

    event_type = "notification.failed"
    schema_version = 2

    channel: Channel
    attempt: int = Field(ge=1, le=100)
    code: FailureCode
    status: int | None = Status
    permanent: bool
    retry_at: AwareDatetime | None = None


@REGISTRY.upcaster("notification.failed", 1)
def _failed_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 kept the error's text, which is dropped on reading: its code is `other`."""
    payload.pop("reason", None)
    payload["code"] = "other"
    payload["status"] = None
    return payload


@REGISTRY.register
class NotificationAcknowledged(EventPayload):
    """The recipient said they have seen the message."""

    event_type = "notification.acknowledged"

    by: str = UserId


@REGISTRY.register
class NotificationCancelled(EventPayload):
    """The message will not go out: its deadline was met, its person erased, or it came too late."""

    event_type = "notification.cancelled"

    reason: CancelReason


@REGISTRY.register
class NotificationPreferencesSet(EventPayload):
    """A user chose the channels they are told on, their quiet hours and their language."""

    event_type = "notification.preferences_set"

    user: str = UserId
    unit: str
    channels: tuple[Channel, ...] = Field(min_length=1, max_length=3)
    quiet_from: int = Field(ge=0, le=23)
    quiet_to: int = Field(ge=0, le=23)
    language: Language = "zh"


# --- commands -------------------------------------------------------------


class Plan(Frozen):
    """Plan a message (sent by the reactors); its id is derived from what caused it."""

    unit: str
    audience: Audience
    recipient: str = UserId
    template: str = Template
    language: Language = "zh"
    params: dict[ParamName, ParamValue] = Params
    address: Sealed | None = None
    send_at: AwareDatetime
    deadline: date | None = None
    source_case_id: str = SourceCase
    source_event_id: str = Field(min_length=1, max_length=64)


class RecordSent(Frozen):
    """Record that a try to send succeeded (sent by the dispatcher)."""

    channel: Channel
    attempt: int = Field(ge=1, le=100)


class RecordFailure(Frozen):
    """Record that a try to send failed (sent by the dispatcher)."""

    channel: Channel
    attempt: int = Field(ge=1, le=100)
    code: FailureCode
    status: int | None = Status
    permanent: bool = False


class Acknowledge(Frozen):
    """Say the message was seen."""


class Cancel(Frozen):
    """Cancel a message not sent yet."""

    reason: CancelReason


class SetPreferences(Frozen):
    """Choose channels, quiet hours (local hours, from..to) and language."""

    channels: tuple[Channel, ...] = Field(min_length=1, max_length=3)
    quiet_from: int = Field(default=22, ge=0, le=23)
    quiet_to: int = Field(default=8, ge=0, le=23)
    language: Language = "zh"


COMMANDS: dict[str, type[Frozen]] = {
    "plan": Plan,
    "record_sent": RecordSent,
    "record_failure": RecordFailure,
    "acknowledge": Acknowledge,
    "cancel": Cancel,
}
PREFERENCE_COMMANDS: dict[str, type[Frozen]] = {"set_preferences": SetPreferences}
