"""The case library (以案说法) and the 护薪 volunteer teams: their events and commands."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from contracts.envelope import Frozen
from contracts.personal import Sealed, SealedPerson, SealedText, as_written
from contracts.registry import REGISTRY, EventPayload

SourceCase = Field(pattern=r"^(GRV|DSP)-[0-9A-Z]{4,40}$")
LibraryCase = Field(pattern=r"^TYP-[0-9A-Z]{4,40}$")
UserId = Field(min_length=1, max_length=128)
Text = Field(min_length=1, max_length=20000)
Short = Field(min_length=1, max_length=200)
Tag = Field(min_length=1, max_length=40)
# An article cited as legal basis: 《劳动合同法》第八十二条, or "LCL art. 82".
Article = Field(min_length=1, max_length=120)
VolunteerKind = Literal["union_cadre", "worker_volunteer", "lawyer_volunteer"]
Skill = Literal["wages", "social_insurance", "work_injury", "contracts"]
HelpAction = Literal["accompany", "check_pay_records", "legal_advice", "other"]
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


# --- volunteers (VOL) ------------------------------------------------------


@REGISTRY.register
class VolunteerRegistered(EventPayload):
    """The chair registered a volunteer in a team; their name and phone are sealed."""

    event_type = "library.volunteer_registered"

    unit: str
    team: str = Short
    user_id: str = UserId
    kind: VolunteerKind
    person: SealedPerson
    skills: tuple[Skill, ...] = Field(min_length=1, max_length=4)
    languages: tuple[str, ...] = Field(default=(), max_length=10)
    availability: str = Short


@REGISTRY.register
class VolunteerAvailabilityChanged(EventPayload):
    """The volunteer's availability changed."""

    event_type = "library.volunteer_availability_changed"

    availability: str = Short


@REGISTRY.register
class VolunteerRetired(EventPayload):
    """The volunteer left the team."""

    event_type = "library.volunteer_retired"


class RegisterVolunteer(Frozen):
    """Register a volunteer; the person arrives already sealed."""

    unit: str
    team: str = Short
    user_id: str = UserId
    kind: VolunteerKind
    person: SealedPerson
    skills: tuple[Skill, ...] = Field(min_length=1, max_length=4)
    languages: tuple[str, ...] = Field(default=(), max_length=10)
    availability: str = Short


class ChangeAvailability(Frozen):
    """Change the volunteer's availability."""

    availability: str = Short


class Retire(Frozen):
    """Retire the volunteer."""


VOLUNTEER_COMMANDS: dict[str, type[Frozen]] = {
    "register": RegisterVolunteer,
    "change_availability": ChangeAvailability,
    "retire": Retire,
}


# --- help on a case (HLP) --------------------------------------------------


@REGISTRY.register
class HelpRequested(EventPayload):
    """A mediator or rep asked a volunteer to help on a dispute or grievance."""

    event_type = "library.help_requested"

    unit: str
    source_case_id: str = SourceCase
    volunteer: str = UserId
    volunteer_case_id: str = Field(pattern=r"^VOL-[0-9A-Z]{4,40}$")
    requester: str = UserId
    # What the volunteer needs to know, sealed under the key of the case's worker.
    brief: Sealed


@REGISTRY.register
class HelpAccepted(EventPayload):
    """The volunteer accepted."""

    event_type = "library.help_accepted"


@REGISTRY.register
class HelpDeclined(EventPayload):
    """The volunteer declined; v2 seals the reason under the key of the case's worker."""

    event_type = "library.help_declined"
    schema_version = 2

    reason: SealedText | None = None


REGISTRY.upcaster("library.help_declined", 1)(as_written)


@REGISTRY.register
class HelpGiven(EventPayload):
    """The volunteer recorded what they did and how long it took; v2 seals the note."""

    event_type = "library.help_given"
    schema_version = 2

    hours: float = Field(gt=0, le=24)
    actions: tuple[HelpAction, ...] = Field(min_length=1, max_length=4)
    note: SealedText | None = None


REGISTRY.upcaster("library.help_given", 1)(as_written)


@REGISTRY.register
class HelpEnded(EventPayload):
    """The help ended; v2 seals the note."""

    event_type = "library.help_ended"
    schema_version = 2

    note: SealedText | None = None


REGISTRY.upcaster("library.help_ended", 1)(as_written)


class RequestHelp(Frozen):
    """Ask a registered volunteer to help on a case; the brief arrives already sealed."""

    unit: str
    source_case_id: str = SourceCase
    volunteer: str = UserId
    volunteer_case_id: str = Field(pattern=r"^VOL-[0-9A-Z]{4,40}$")
    brief: Sealed


class Accept(Frozen):
    """Accept the request."""


class Decline(Frozen):
    """Decline the request; the reason arrives sealed."""

    reason: Sealed | None = None


class RecordHelp(Frozen):
    """Record help given; the note arrives sealed."""

    hours: float = Field(gt=0, le=24)
    actions: tuple[HelpAction, ...] = Field(min_length=1, max_length=4)
    note: Sealed | None = None


class EndHelp(Frozen):
    """End the help; the note arrives sealed."""

    note: Sealed | None = None


HELP_COMMANDS: dict[str, type[Frozen]] = {
    "request": RequestHelp,
    "accept": Accept,
    "decline": Decline,
    "record": RecordHelp,
    "end": EndHelp,
}
