"""The bases of request bodies and the answer every accepted command gets."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Transition(Body):
    """Fields every transition may carry."""

    expected_version: int | None = Field(default=None, ge=0)
    occurred_at: AwareDatetime | None = None


class CommandResult(BaseModel):
    """What a successful command returns."""

    case_id: str
    version: int
    event_ids: list[str]
