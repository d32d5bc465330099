"""The 护薪 volunteer teams and the help they give on cases: their events and commands."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.envelope import Frozen
from contracts.personal import Sealed, SealedPerson, SealedText, as_written
from contracts.registry import REGISTRY, EventPayload

SourceCase = Field(pattern=r"^(GRV|DSP)-[0-9A-Z]{4,40}$")
UserId = Field(min_length=1, max_length=128)
Short = Field(min_length=1, max_length=200)
VolunteerKind = Literal["union_cadre", "worker_volunteer", "lawyer_volunteer"]
Skill = Literal["wages", "social_insurance", "work_injury", "contracts"]
HelpAction = Literal["accompany", "check_pay_records", "legal_advice", "other"]


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
