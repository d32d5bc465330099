"""Commands sent to a case's decider, and the decider's reply."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field, field_validator

from contracts.envelope import Actor, Frozen, utc


class CommandEnvelope(Frozen):
    """A request to change one case, keyed by case id on the commands topic."""

    command_id: str = Field(min_length=8, max_length=64)
    command_type: str = Field(pattern=r"^[a-z_]+$")
    case_id: str
    actor: Actor
    issued_at: AwareDatetime
    occurred_at: AwareDatetime
    expected_version: int | None = None
    correlation_id: str
    causation_id: str
    payload: dict[str, Any]
    fingerprint: str = ""
    reply: bool = True

    @field_validator("issued_at", "occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return utc(value)


class Refusal(Frozen):
    """Why a command was not carried out; a reply, never an event."""

    status: int
    title: str
    detail: str


class Reply(Frozen):
    """The decider's answer to one command."""

    command_id: str
    case_id: str
    ok: bool
    version: int = 0
    event_ids: list[str] = Field(default_factory=list)
    positions: list[tuple[int, int]] = Field(default_factory=list)
    refusal: Refusal | None = None
