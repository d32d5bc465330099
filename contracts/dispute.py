"""Labour-dispute mediation (劳动争议调解): the events of a dispute case and their commands."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Frozen
from contracts.personal import Sealed, SealedPerson, SealedText, as_written
from contracts.receipt import (
    AddWorkerNote,
    ReceiptIssued,
    ReceiptRecord,
    ReissueReceipt,
    WorkerNoted,
)
from contracts.registry import REGISTRY, EventPayload
from contracts.scope import DisputeCategory

Form = Literal["written", "oral", "referral"]
Party = Literal["applicant", "respondent"]
Signatory = Literal["applicant", "respondent", "mediator"]
Relation = Literal["none", "applicant", "respondent", "respondent_management", "relative_of_party"]
DeclineCode = Literal["out_of_scope", "missing_facts", "pending_arbitration_or_litigation", "other"]
# Ten million yuan in fen: no claim a union mediates comes near it, so more is a typing error.
MAX_FEN = 1_000_000_000
UserId = Field(min_length=1, max_length=128)


class Claim(Frozen):
    """One thing the worker asks for, sealed; money claims carry the amount in fen (CNY cents)."""

    description: SealedText
    amount_fen: int | None = Field(default=None, ge=1, le=MAX_FEN)


class Respondent(Frozen):
    """The employer, and the user ids of its management (who may not mediate the case)."""

    employer: str = Field(min_length=1, max_length=200)
    management: tuple[str, ...] = Field(default=(), max_length=50)


# --- events ---------------------------------------------------------------


@REGISTRY.register
class DisputeApplied(EventPayload):
    """A worker applied for mediation; due dates and limitation fixed here; v2 seals claims."""

    event_type = "dispute.applied"
    schema_version = 2

    unit: str
    form: Form
    applicant: SealedPerson | None = None
    respondent: Respondent | None = None
    category: DisputeCategory
    matters: Sealed | None = None
    reasons: Sealed | None = None
    oral_recorded_at: AwareDatetime | None = None
    claims: tuple[Claim, ...] = ()
    claimed_fen: int = Field(default=0, ge=0)
    known_since: date | None = None
    acceptance_due: date
    limitation_date: date | None = None
    grievance_id: str | None = None
    # The worker agreed, when applying, to progress messages at their phone.
    progress_messages: bool | None = None
    # The worker's receipt, where one was given (the PIN only as its keyed slow hash).
    receipt: ReceiptRecord | None = None


REGISTRY.upcaster("dispute.applied", 1)(as_written)


@REGISTRY.register
class DisputeDeclined(EventPayload):
    """The committee declined the application, with a reason the worker can read; v2 seals it."""

    event_type = "dispute.declined"
    schema_version = 2

    code: DeclineCode
    reason: SealedText


REGISTRY.upcaster("dispute.declined", 1)(as_written)


@REGISTRY.register
class DisputeAcceptanceOverdue(EventPayload):
    """Three working days passed without a decision on the application."""

    event_type = "dispute.acceptance_overdue"

    due: date


@REGISTRY.register
class DisputeAccepted(EventPayload):
    """The committee accepted the application: the 15-day mediation clock starts."""

    event_type = "dispute.accepted"

    accepted_on: date
    mediation_deadline: date
    known_since: date | None = None
    limitation_date: date | None = None


@REGISTRY.register
class DisputeMediatorAssigned(EventPayload):
    """A mediator with no tie to either party took the case."""

    event_type = "dispute.mediator_assigned"

    mediator: str = UserId


@REGISTRY.register
class DisputeSessionHeld(EventPayload):
    """A mediation session took place; its minutes are sealed."""

    event_type = "dispute.session_held"

    held_on: date
    attendees: tuple[str, ...] = Field(min_length=1, max_length=30)
    minutes: Sealed


@REGISTRY.register
class DisputeExtended(EventPayload):
    """Both parties agreed to the one extension the rules allow."""

    event_type = "dispute.extended"

    days: int = Field(ge=1, le=15)
    consent: tuple[Party, ...]
    mediation_deadline: date


@REGISTRY.register
class DisputeAgreementReached(EventPayload):
    """A mediation agreement signed by both parties and the mediator; v2 seals its terms."""

    event_type = "dispute.agreement_reached"
    schema_version = 2

    terms: SealedText
    amount_fen: int = Field(ge=0, le=MAX_FEN)
    perform_by: date
    signed_by: tuple[Signatory, ...]


REGISTRY.upcaster("dispute.agreement_reached", 1)(as_written)


@REGISTRY.register
class DisputePerformed(EventPayload):
    """The agreement was carried out."""

    event_type = "dispute.performed"


@REGISTRY.register
class DisputeBreached(EventPayload):
    """The agreement was not kept: arbitration is open, for money owed a court order; v2 seals."""

    event_type = "dispute.breached"
    schema_version = 2

    reason: SealedText
    limitation_date: date
    payment_order_available: bool


REGISTRY.upcaster("dispute.breached", 1)(as_written)


@REGISTRY.register
class DisputeFailed(EventPayload):
    """Mediation ended without agreement: arbitration is open; v2 seals the reason."""

    event_type = "dispute.failed"
    schema_version = 2

    reason: SealedText
    limitation_date: date


REGISTRY.upcaster("dispute.failed", 1)(as_written)


@REGISTRY.register
class DisputeDeadlinePassed(EventPayload):
    """The mediation period ran out with no agreement: arbitration is open."""

    event_type = "dispute.deadline_passed"

    deadline: date
    limitation_date: date


@REGISTRY.register
class DisputeReferredToArbitration(EventPayload):
    """The worker took the dispute to the labour-dispute arbitration commission."""

    event_type = "dispute.referred_to_arbitration"

    commission: str | None = Field(default=None, max_length=200)


@REGISTRY.register
class DisputeReceiptIssued(ReceiptIssued):
    """The worker was given a new PIN (or a first receipt) to follow the application."""

    event_type = "dispute.receipt_issued"


@REGISTRY.register
class DisputeWorkerNoted(WorkerNoted):
    """The worker added a note, or said they were not contacted, through the receipt page."""

    event_type = "dispute.worker_noted"


# --- commands -------------------------------------------------------------


class Apply(Frozen):
    """Open a dispute from an application; personal data arrives already sealed."""

    unit: str
    form: Literal["written", "oral"]
    applicant: SealedPerson
    respondent: Respondent
    category: DisputeCategory
    matters: Sealed | None = None
    reasons: Sealed | None = None
    oral_recorded_at: AwareDatetime | None = None
    claims: tuple[Claim, ...] = Field(default=(), max_length=50)
    known_since: date | None = None
    accept_on_receipt: bool = False
    progress_messages: bool | None = None
    receipt: ReceiptRecord | None = None


class OpenFromGrievance(Frozen):
    """Open a dispute for a grievance referred to mediation (sent by the referral reactor)."""

    grievance_id: str
    unit: str
    category: DisputeCategory


class Decline(Frozen):
    """Decline the application; the reason arrives sealed."""

    code: DeclineCode
    reason: Sealed


class Accept(Frozen):
    """Accept the application; a referred one is completed with the facts it lacked."""

    known_since: date | None = None


class MarkAcceptanceOverdue(Frozen):
    """Record that no decision came within three working days (sent by the timer)."""


class AssignMediator(Frozen):
    """Assign the mediator, who declares any tie to the parties."""

    mediator: str = UserId
    relation: Relation = "none"


class RecordSession(Frozen):
    """Record a mediation session."""

    held_on: date
    attendees: tuple[str, ...] = Field(min_length=1, max_length=30)
    minutes: Sealed


class Extend(Frozen):
    """Extend the mediation period with both parties' consent."""

    days: int = Field(ge=1, le=366)
    consent: tuple[Party, ...] = ()


class RecordAgreement(Frozen):
    """Record the signed mediation agreement; its terms arrive sealed."""

    terms: Sealed
    amount_fen: int = Field(ge=0, le=MAX_FEN)
    perform_by: date
    signed_by: tuple[Signatory, ...] = ()


class RecordPerformance(Frozen):
    """Record that the agreement was carried out."""


class RecordBreach(Frozen):
    """Record that the agreement was not carried out; a person's reason arrives sealed."""

    reason: SealedText


class Fail(Frozen):
    """End the mediation without agreement; the reason arrives sealed."""

    reason: Sealed


class MarkDeadlinePassed(Frozen):
    """Record that the mediation period ran out (sent by the timer)."""


class ReferToArbitration(Frozen):
    """Record that the dispute went to arbitration."""

    commission: str | None = Field(default=None, max_length=200)


COMMANDS: dict[str, type[Frozen]] = {
    "apply": Apply,
    "open_from_grievance": OpenFromGrievance,
    "decline": Decline,
    "accept": Accept,
    "mark_acceptance_overdue": MarkAcceptanceOverdue,
    "assign": AssignMediator,
    "record_session": RecordSession,
    "extend": Extend,
    "record_agreement": RecordAgreement,
    "record_performance": RecordPerformance,
    "record_breach": RecordBreach,
    "fail": Fail,
    "mark_deadline_passed": MarkDeadlinePassed,
    "refer_to_arbitration": ReferToArbitration,
    "reissue_receipt": ReissueReceipt,
    "add_worker_note": AddWorkerNote,
}
