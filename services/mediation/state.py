"""A dispute as it stands: its statuses and the facts its events leave."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts import dispute as d
from contracts.personal import SealedText
from contracts.scope import DisputeCategory

Status = Literal[
    "applied",
    "declined",
    "accepted",
    "mediating",
    "agreement_reached",
    "performed",
    "breached",
    "failed",
    "deadline_passed",
    "referred_to_arbitration",
]

RUNNING: tuple[Status, ...] = ("accepted", "mediating")


class Dispute(BaseModel):
    """A labour dispute as it stands after its events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    unit: str
    status: Status
    form: d.Form
    category: DisputeCategory
    person_id: str | None
    grievance_id: str | None
    employer: str | None
    management: tuple[str, ...] = ()
    claims: tuple[d.Claim, ...] = ()
    claimed_fen: int = 0
    known_since: date | None
    limitation_date: date | None
    opened_at: datetime
    last_event_at: datetime
    acceptance_due: date
    acceptance_overdue: bool = False
    accepted_on: date | None = None
    mediation_deadline: date | None = None
    extended_days: int | None = None
    deadline: date | None = None
    mediator: str | None = None
    sessions: int = 0
    agreement_terms: SealedText | None = None
    agreement_fen: int | None = None
    perform_by: date | None = None
    decline_code: d.DeclineCode | None = None
    outcome_reason: SealedText | None = None
    may_apply_for_arbitration: bool = False
    payment_order_available: bool = False
    ended_at: datetime | None = None
    receipt: str | None = None
    worker_notes: int = 0
    not_contacted_at: datetime | None = None
