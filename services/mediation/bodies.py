"""Request bodies of dispute mediation, as a person fills them in: amounts in yuan."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts import dispute as d
from contracts.scope import DisputeCategory
from services.common.bodies import Body, Day, Imported, Moment, Name, Transition

# Yuan with at most two decimals; the ceiling matches the contracts' bound in fen.
Yuan = Annotated[Decimal, Field(ge=0, le=Decimal(d.MAX_FEN) / 100, decimal_places=2)]
PositiveYuan = Annotated[Decimal, Field(gt=0, le=Decimal(d.MAX_FEN) / 100, decimal_places=2)]


def fen(amount: Decimal) -> int:
    """Convert yuan to fen."""
    return int(amount * 100)


class Applicant(Body):
    """The worker who applies; encrypted before it leaves this service."""

    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()-]{5,20}$")
    # Asked when the application is taken: may the union text the worker how it stands?
    progress_messages: bool = False

    @model_validator(mode="after")
    def _reachable(self) -> Applicant:
        if self.progress_messages and not self.phone:
            raise ValueError("progress messages need the worker's phone")
        return self


class ClaimBody(Body):
    """One claim; `amount` in yuan for money claims."""

    description: str = Field(min_length=1, max_length=500)
    amount: PositiveYuan | None = None


class RespondentBody(Body):
    """The employer and the user ids of its management."""

    employer: str = Field(min_length=1, max_length=200)
    management: list[Name] = Field(default_factory=list, max_length=50)


class ApplyBody(Body):
    """An application for mediation, written or taken down orally on the spot."""

    unit: str = Field(min_length=1, max_length=256)
    form: Literal["written", "oral"]
    applicant: Applicant
    respondent: RespondentBody
    category: DisputeCategory
    matters: str = Field(min_length=1, max_length=4000)
    reasons: str | None = Field(default=None, max_length=4000)
    claims: list[ClaimBody] = Field(min_length=1, max_length=50)
    known_since: Day
    oral_recorded_at: Moment | None = None
    received_at: Moment | None = None
    imported: Imported | None = None
    accept_on_receipt: bool = False


class AcceptBody(Transition):
    known_since: Day | None = None


class DeclineBody(Transition):
    code: d.DeclineCode
    reason: str = Field(min_length=1, max_length=2000)


class AssignBody(Transition):
    mediator: str = Field(min_length=1, max_length=128)
    relation: d.Relation = "none"


class SessionBody(Transition):
    held_on: Day
    attendees: list[Name] = Field(min_length=1, max_length=30)
    minutes: str = Field(min_length=1, max_length=8000)


class ExtendBody(Transition):
    days: int = Field(ge=1, le=366)
    consent: list[d.Party] = Field(default_factory=list, max_length=2)


class AgreementBody(Transition):
    terms: str = Field(min_length=1, max_length=4000)
    amount: Yuan
    perform_by: Day
    signed_by: list[d.Signatory] = Field(default_factory=list, max_length=3)


class ReasonBody(Transition):
    reason: str = Field(min_length=1, max_length=2000)


class ArbitrationBody(Transition):
    commission: str | None = Field(default=None, max_length=200)
