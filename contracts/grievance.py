"""Grievance intake (诉求受理): the events of a worker's complaint and their commands."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

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

Category = Literal[
    "canteen",
    "wages",
    "safety",
    "working_hours",
    "accommodation",
    "welfare",
    "training",
    "contract",
    "other",
]
Channel = Literal["in_person", "phone", "hotline_12351", "app", "mailbox"]
ResolvedHow = Literal["on_site", "leadership", "mediation"]
Stage = Literal["acknowledge", "answer"]


# --- events ---------------------------------------------------------------


@REGISTRY.register
class GrievanceLogged(EventPayload):
    """A rep logged a worker's complaint; v2 made the anonymity explicit, v3 seals the summary."""

    event_type = "grievance.logged"
    schema_version = 3

    unit: str
    category: Category
    summary: SealedText
    details: Sealed | None = None
    channel: Channel
    anonymous: bool
    complainant: SealedPerson | None = None
    ack_due: date | None = None
    answer_due: date | None = None
    # The worker agreed, when the complaint was logged, to progress messages at their phone.
    progress_messages: bool | None = None
    # The worker's receipt, where one was given (the PIN only as its keyed slow hash).
    receipt: ReceiptRecord | None = None


@REGISTRY.upcaster("grievance.logged", 1)
def _logged_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 called the 12351 hotline `hotline` and implied anonymity by a missing complainant."""
    if payload.get("channel") == "hotline":
        payload["channel"] = "hotline_12351"
    payload["anonymous"] = payload.get("complainant") is None
    payload.setdefault("ack_due", None)
    payload.setdefault("answer_due", None)
    return payload


REGISTRY.upcaster("grievance.logged", 2)(as_written)


@REGISTRY.register
class GrievanceAcknowledged(EventPayload):
    """The union acknowledged receipt to the worker."""

    event_type = "grievance.acknowledged"


@REGISTRY.register
class GrievanceResolved(EventPayload):
    """The matter was resolved, and how; v2 seals the resolution."""

    event_type = "grievance.resolved"
    schema_version = 2

    how: ResolvedHow
    resolution: SealedText


REGISTRY.upcaster("grievance.resolved", 1)(as_written)


@REGISTRY.register
class GrievanceEscalated(EventPayload):
    """Escalated to the project leadership team with a named follow-up owner and a due date."""

    event_type = "grievance.escalated"

    to: Literal["leadership_team"] = "leadership_team"
    owner: str = Field(min_length=1, max_length=128)
    due: date


@REGISTRY.register
class GrievanceDecisionRecorded(EventPayload):
    """The leadership team's decision on an escalated grievance; v2 seals it."""

    event_type = "grievance.decision_recorded"
    schema_version = 2

    decision: SealedText


REGISTRY.upcaster("grievance.decision_recorded", 1)(as_written)


@REGISTRY.register
class GrievanceReferredToMediation(EventPayload):
    """Referred to labour-dispute mediation under a statutory dispute category."""

    event_type = "grievance.referred_to_mediation"

    dispute_category: DisputeCategory
    # The grievance's own unit, so mediation opens the dispute there; absent in early records.
    unit: str | None = None


@REGISTRY.register
class GrievanceFeedbackGiven(EventPayload):
    """The worker was told how the matter stands; the note is sealed like any personal text."""

    event_type = "grievance.feedback_given"

    note: Sealed


@REGISTRY.register
class GrievanceClosed(EventPayload):
    """The matter is really closed."""

    event_type = "grievance.closed"


@REGISTRY.register
class GrievanceReopened(EventPayload):
    """The grievance went back to work; v2 seals the reason."""

    event_type = "grievance.reopened"
    schema_version = 2

    reason: SealedText


REGISTRY.upcaster("grievance.reopened", 1)(as_written)


@REGISTRY.register
class GrievanceWithdrawn(EventPayload):
    """The worker withdrew the complaint; v2 seals the reason."""

    event_type = "grievance.withdrawn"
    schema_version = 2

    reason: SealedText | None = None


REGISTRY.upcaster("grievance.withdrawn", 1)(as_written)


@REGISTRY.register
class GrievanceDisputeLinked(EventPayload):
    """Mediation opened a dispute for this grievance; the grievance now names it."""

    event_type = "grievance.dispute_linked"

    dispute_id: str = Field(pattern=r"^DSP-[0-9A-Z]{4,40}$")


@REGISTRY.register
class GrievanceOverdue(EventPayload):
    """A service level passed without the required step."""

    event_type = "grievance.overdue"

    stage: Stage
    due: date


@REGISTRY.register
class GrievanceReceiptIssued(ReceiptIssued):
    """The worker was given a new PIN (or a first receipt) to follow the grievance."""

    event_type = "grievance.receipt_issued"


@REGISTRY.register
class GrievanceWorkerNoted(WorkerNoted):
    """The worker added a note, or said they were not contacted, through the receipt page."""

    event_type = "grievance.worker_noted"


# --- commands -------------------------------------------------------------


class LogGrievance(Frozen):
    """Open a grievance; personal data and the summary arrive already sealed."""

    unit: str
    category: Category
    summary: Sealed
    details: Sealed | None = None
    channel: Channel
    anonymous: bool
    complainant: SealedPerson | None = None
    ack_working_days: int = Field(default=1, ge=1, le=30)
    answer_working_days: int = Field(default=3, ge=1, le=60)
    progress_messages: bool | None = None
    receipt: ReceiptRecord | None = None


class Acknowledge(Frozen):
    """Acknowledge receipt."""


class Resolve(Frozen):
    """Resolve the matter; the resolution arrives sealed."""

    how: ResolvedHow
    resolution: Sealed


class Escalate(Frozen):
    """Escalate to the leadership team."""

    owner: str = Field(min_length=1, max_length=128)
    due: date


class RecordDecision(Frozen):
    """Record the leadership team's decision; it arrives sealed."""

    decision: Sealed


class ReferToMediation(Frozen):
    """Refer to labour-dispute mediation."""

    dispute_category: DisputeCategory


class GiveFeedback(Frozen):
    """Record feedback given to the worker."""

    note: Sealed


class Close(Frozen):
    """Close the grievance."""


class Reopen(Frozen):
    """Reopen the grievance; a person's reason arrives sealed, a call-back's is the ledger's own."""

    reason: SealedText


class Withdraw(Frozen):
    """Withdraw the grievance; the reason arrives sealed."""

    reason: Sealed | None = None


class LinkDispute(Frozen):
    """Name the dispute mediation opened for this grievance (sent by the dispute reactor)."""

    dispute_id: str = Field(pattern=r"^DSP-[0-9A-Z]{4,40}$")


class MarkOverdue(Frozen):
    """Record that a service level has passed (sent by the service-level timer)."""

    stage: Stage


COMMANDS: dict[str, type[Frozen]] = {
    "log": LogGrievance,
    "acknowledge": Acknowledge,
    "resolve": Resolve,
    "escalate": Escalate,
    "record_decision": RecordDecision,
    "refer_to_mediation": ReferToMediation,
    "give_feedback": GiveFeedback,
    "close": Close,
    "reopen": Reopen,
    "withdraw": Withdraw,
    "mark_overdue": MarkOverdue,
    "link_dispute": LinkDispute,
    "reissue_receipt": ReissueReceipt,
    "add_worker_note": AddWorkerNote,
}
