"""The case library (以案说法): typical cases and classroom sessions, their events and commands."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from contracts.envelope import Frozen
from contracts.personal import Sealed
from contracts.registry import REGISTRY, EventPayload

# The volunteers' events and commands, read through this module as before they had their own.
from contracts.volunteers import HELP_COMMANDS as HELP_COMMANDS
from contracts.volunteers import VOLUNTEER_COMMANDS as VOLUNTEER_COMMANDS
from contracts.volunteers import Accept as Accept
from contracts.volunteers import ChangeAvailability as ChangeAvailability
from contracts.volunteers import Decline as Decline
from contracts.volunteers import EndHelp as EndHelp
from contracts.volunteers import HelpAccepted as HelpAccepted
from contracts.volunteers import HelpAction as HelpAction
from contracts.volunteers import HelpDeclined as HelpDeclined
from contracts.volunteers import HelpEnded as HelpEnded
from contracts.volunteers import HelpGiven as HelpGiven
from contracts.volunteers import HelpRequested as HelpRequested
from contracts.volunteers import RecordHelp as RecordHelp
from contracts.volunteers import RegisterVolunteer as RegisterVolunteer
from contracts.volunteers import RequestHelp as RequestHelp
from contracts.volunteers import Retire as Retire
from contracts.volunteers import Skill as Skill
from contracts.volunteers import VolunteerAvailabilityChanged as VolunteerAvailabilityChanged
from contracts.volunteers import VolunteerKind as VolunteerKind
from contracts.volunteers import VolunteerRegistered as VolunteerRegistered
from contracts.volunteers import VolunteerRetired as VolunteerRetired

SourceCase = Field(pattern=r"^(GRV|DSP)-[0-9A-Z]{4,40}$")
LibraryCase = Field(pattern=r"^TYP-[0-9A-Z]{4,40}$")
UserId = Field(min_length=1, max_length=128)
Text = Field(min_length=1, max_length=20000)
Short = Field(min_length=1, max_length=200)
Tag = Field(min_length=1, max_length=40)
# An article cited as legal basis: 《劳动合同法》第八十二条, or "LCL art. 82".
Article = Field(min_length=1, max_length=120)
AttendeeRole = Literal[
    "union_cadre", "management", "member_representative", "worker", "mediator", "other"
]


class Attendance(Frozen):
    """How many people of one kind attended a classroom session."""

    role: AttendeeRole
    count: int = Field(ge=0, le=100_000)


# --- typical cases (TYP) ---------------------------------------------------


@REGISTRY.register
class TypicalProposed(EventPayload):
    """A closed dispute or grievance was proposed as a typical case; its source is named here."""

    event_type = "library.proposed"

    unit: str
    source_case_id: str = SourceCase
    category: str = Short
    proposer: str = UserId
    # The source case's personal values, still sealed: a publication is checked against them.
    personal: tuple[Sealed, ...] = Field(default=(), max_length=50)


@REGISTRY.register
class TypicalDrafted(EventPayload):
    """The service drafted the anonymised text from the source case."""

    event_type = "library.drafted"

    title: str = Short
    text: str = Text


@REGISTRY.register
class TypicalEdited(EventPayload):
    """The proposer edited the text and added the lesson, the legal basis and tags."""

    event_type = "library.edited"

    title: str = Short
    text: str = Text
    lesson: str = Text
    articles: tuple[str, ...] = Field(max_length=20)
    tags: tuple[str, ...] = Field(default=(), max_length=20)


@REGISTRY.register
class TypicalApproved(EventPayload):
    """A second person approved the edited text for publication."""

    event_type = "library.approved"

    reviewer: str = UserId
    note: str | None = Field(default=None, max_length=2000)


@REGISTRY.register
class TypicalReturned(EventPayload):
    """The reviewer sent the text back to its proposer with what to change."""

    event_type = "library.returned"

    reviewer: str = UserId
    note: str = Field(min_length=1, max_length=2000)


@REGISTRY.register
class TypicalReviewerAppointed(EventPayload):
    """The auditor appointed a reviewer besides the unit's chair."""

    event_type = "library.reviewer_appointed"

    reviewer: str = UserId


@REGISTRY.register
class TypicalPublished(EventPayload):
    """The approved text was published to the unit's tree."""

    event_type = "library.published"


class Propose(Frozen):
    """Propose a closed case; the draft and the sealed personal values come with it."""

    unit: str
    source_case_id: str = SourceCase
    category: str = Short
    title: str = Short
    draft: str = Text
    personal: tuple[Sealed, ...] = Field(default=(), max_length=50)


class Edit(Frozen):
    """Edit the draft and add the lesson, legal basis and tags."""

    title: str = Short
    text: str = Text
    lesson: str = Text
    articles: tuple[str, ...] = Field(min_length=1, max_length=20)
    tags: tuple[str, ...] = Field(default=(), max_length=20)


class Approve(Frozen):
    """Approve the edited text."""

    note: str | None = Field(default=None, max_length=2000)


class Return(Frozen):
    """Send the text back to its proposer."""

    note: str = Field(min_length=1, max_length=2000)


class AppointReviewer(Frozen):
    """Appoint a reviewer of the typical case."""

    reviewer: str = UserId


class Publish(Frozen):
    """Publish the approved text; the service has checked it against the sealed values."""


TYPICAL_COMMANDS: dict[str, type[Frozen]] = {
    "propose": Propose,
    "edit": Edit,
    "approve": Approve,
    "return": Return,
    "appoint_reviewer": AppointReviewer,
    "publish": Publish,
}


# --- classroom sessions (CLS) ---------------------------------------------


@REGISTRY.register
class ClassroomHeld(EventPayload):
    """A classroom session took place: where, when, which typical cases, who came."""

    event_type = "library.classroom_held"

    unit: str
    held_on: date
    place: str = Short
    cases: tuple[str, ...] = Field(min_length=1, max_length=20)
    attendance: tuple[Attendance, ...] = Field(min_length=1, max_length=10)


class HoldClassroom(Frozen):
    """Record a classroom session."""

    unit: str
    held_on: date
    place: str = Short
    cases: tuple[str, ...] = Field(min_length=1, max_length=20)
    attendance: tuple[Attendance, ...] = Field(min_length=1, max_length=10)


CLASSROOM_COMMANDS: dict[str, type[Frozen]] = {"hold": HoldClassroom}
