"""Follow-up (跟踪回访): progress tracking, satisfaction call-backs, checks and reminders."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from contracts.envelope import Frozen
from contracts.personal import Sealed, SealedText, as_written
from contracts.registry import REGISTRY, EventPayload

# progress: an escalated grievance or a suggestion referred to leadership, tracked by its 专人;
# callback: the worker asked after a resolution; performance_check: a mediation agreement's
# deadline; limitation_reminder: the worker reminded of the arbitration limitation date.
FollowupKind = Literal["progress", "callback", "performance_check", "limitation_reminder"]
Satisfaction = Literal["satisfied", "basically_satisfied", "unsatisfied"]
AgreementFinding = Literal["performed", "breached"]
SourceCase = Field(pattern=r"^(GRV|SUG|DSP)-[0-9A-Z]{4,40}$")
UserId = Field(min_length=1, max_length=128)


# --- events ---------------------------------------------------------------


@REGISTRY.register
class FollowupScheduled(EventPayload):
    """A follow-up was scheduled in answer to another case's event, with its owner and due date."""

    event_type = "followup.scheduled"

    kind: FollowupKind
    unit: str
    source_case_id: str = SourceCase
    source_event_id: str
    owner: str | None = Field(default=None, min_length=1, max_length=128)
    due: date
    limitation_date: date | None = None


@REGISTRY.register
class FollowupProgressNoted(EventPayload):
    """The owner noted how the matter stands; v2 seals the note."""

    event_type = "followup.progress_noted"
    schema_version = 2

    note: SealedText


REGISTRY.upcaster("followup.progress_noted", 1)(as_written)


@REGISTRY.register
class FollowupContacted(EventPayload):
    """The worker was called back and said how satisfied they are; their words are sealed."""

    event_type = "followup.contacted"

    satisfaction: Satisfaction
    comment: Sealed | None = None


@REGISTRY.register
class FollowupCompleted(EventPayload):
    """The follow-up is done, on time or not; v2 seals the note and the breach reason."""

    event_type = "followup.completed"
    schema_version = 2

    on_time: bool
    note: SealedText | None = None
    agreement: AgreementFinding | None = None
    breach_reason: SealedText | None = None


REGISTRY.upcaster("followup.completed", 1)(as_written)


@REGISTRY.register
class FollowupOverdue(EventPayload):
    """The due date passed with the follow-up still open."""

    event_type = "followup.overdue"

    due: date


# --- commands -------------------------------------------------------------


class Schedule(Frozen):
    """Schedule a follow-up (sent by the reactors); the due date is fixed by the decider."""

    kind: FollowupKind
    unit: str
    source_case_id: str = SourceCase
    source_event_id: str
    owner: str | None = Field(default=None, min_length=1, max_length=128)
    due: date | None = None
    working_days: int | None = Field(default=None, ge=1, le=30)
    limitation_date: date | None = None


class NoteProgress(Frozen):
    """Note progress; the note arrives sealed."""

    note: Sealed


class Contact(Frozen):
    """Record the call-back; the comment arrives already sealed."""

    satisfaction: Satisfaction
    comment: Sealed | None = None


class Complete(Frozen):
    """Complete the follow-up; a performance check says whether the agreement was kept.

    The note and the breach reason arrive sealed.
    """

    note: Sealed | None = None
    agreement: AgreementFinding | None = None
    breach_reason: Sealed | None = None


class MarkOverdue(Frozen):
    """Record that the due date has passed (sent by the timer)."""


COMMANDS: dict[str, type[Frozen]] = {
    "schedule": Schedule,
    "note_progress": NoteProgress,
    "contact": Contact,
    "complete": Complete,
    "mark_overdue": MarkOverdue,
}
