"""Helpers that let domain tests read as stories: given events, when a command, then events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from contracts.commands import CommandEnvelope
from contracts.envelope import Actor, Envelope
from services.common.decider import CaseKind, Head, Outcome, process

S = TypeVar("S", bound=BaseModel)

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
REP = Actor(user_id="rep-p01", role="worker_rep", unit="demo/co/p01")


def command(
    case_id: str,
    command_type: str,
    payload: dict[str, Any] | None = None,
    *,
    actor: Actor = REP,
    at: datetime | None = None,
    expected_version: int | None = None,
    command_id: str | None = None,
    fingerprint: str = "",
) -> CommandEnvelope:
    """Build a command envelope as the HTTP layer would."""
    moment = at or T0
    return CommandEnvelope(
        command_id=command_id or str(uuid.uuid4()),
        command_type=command_type,
        case_id=case_id,
        actor=actor,
        issued_at=moment,
        occurred_at=moment,
        expected_version=expected_version,
        correlation_id=case_id,
        causation_id="test",
        payload=payload or {},
        fingerprint=fingerprint,
    )


class Story(Generic[S]):
    """A case told one command at a time through the real decider machinery."""

    def __init__(self, kind: CaseKind[S], case_id: str) -> None:
        assert kind.of(case_id) is kind, f"{case_id} is not a {kind.prefix} case"
        self.kind, self.case_id = kind, case_id
        self.head = Head()
        self.events: list[Envelope] = []
        self.clock = T0

    def when(self, command_type: str, payload: dict[str, Any] | None = None, **kw: Any) -> Outcome:
        """Send a command; keep its events if it succeeded."""
        self.clock += timedelta(minutes=1)
        kw.setdefault("at", self.clock)
        outcome = process(self.kind, self.head, command(self.case_id, command_type, payload, **kw))
        self.head = outcome.head
        self.events += outcome.events
        return outcome

    def then_types(self, outcome: Outcome) -> list[str]:
        """The event types a command produced."""
        return [e.event_type for e in outcome.events]

    def refusal(self, outcome: Outcome) -> tuple[int, str]:
        """The status and detail of a refused command."""
        assert not outcome.reply.ok, f"expected a refusal, got {self.then_types(outcome)}"
        assert outcome.reply.refusal is not None
        return outcome.reply.refusal.status, outcome.reply.refusal.detail

    def state(self) -> S:
        """The case state after the story so far (once a command has opened the case)."""
        assert self.head.state is not None, f"{self.case_id} has not been opened"
        return self.kind.state.model_validate(self.head.state)
