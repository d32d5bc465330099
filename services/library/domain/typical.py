"""Typical cases (典型案例): proposed, drafted, edited, approved by a second person, published."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts import library as lib
from contracts.envelope import Envelope
from contracts.personal import Sealed
from contracts.registry import EventPayload
from services.common.domain import (
    Command,
    Forbidden,
    Invalid,
    NotFound,
    Refused,
    check_occurred_at,
    check_opening,
    require_role,
)
from services.library.anonymise import shaped_leaks

TYPICAL_PREFIX = "TYP"
TypicalStatus = Literal["drafted", "edited", "returned", "approved", "published"]
PROPOSERS = ("mediator", "union_chair")
REVIEWERS = ("union_chair",)
# An auditor-appointed reviewer may hold any working role; the case's rules name them.
APPOINTABLE = ("union_chair", "mediator", "worker_rep", "group_member", "followup_officer")
ROLES: dict[str, tuple[str, ...]] = {
    "propose": PROPOSERS,
    "edit": PROPOSERS,
    "approve": APPOINTABLE,
    "return": APPOINTABLE,
    "appoint_reviewer": ("auditor",),
    "publish": PROPOSERS,
}
EDITABLE: frozenset[TypicalStatus] = frozenset({"drafted", "edited", "returned"})


class Typical(BaseModel):
    """A typical case as it stands after its events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_type: Literal["typical"] = "typical"
    case_id: str
    unit: str
    status: TypicalStatus
    source_case_id: str
    category: str
    proposer: str
    personal: tuple[Sealed, ...] = ()
    title: str
    text: str
    lesson: str | None = None
    articles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    reviewer: str | None = None
    review_note: str | None = None
    appointed_reviewer: str | None = None
    opened_at: datetime
    last_event_at: datetime
    published_at: datetime | None = None


def check_clean(*texts: str) -> None:
    """Refuse texts holding anything shaped like a phone number or a citizen ID."""
    for text in texts:
        leaks = shaped_leaks(text)
        if leaks:
            first = leaks[0]
            raise Invalid(
                f"the text still holds a {first.what} (at character {first.at}); replace it"
                " by a role before it can be approved or published"
            )


def decide_typical(state: Typical | None, cmd: Command[object]) -> list[EventPayload]:
    """Turn a command on a typical case into its events, or refuse it."""
    kind = cmd.meta.command_type
    require_role(cmd, ROLES.get(kind, ()), f"{kind} a typical case")
    p = cmd.payload
    actor = cmd.meta.actor
    if isinstance(p, lib.Propose):
        check_opening(state, cmd, p.unit, "typical case")
        return [
            lib.TypicalProposed(
                unit=p.unit,
                source_case_id=p.source_case_id,
                category=p.category,
                proposer=actor.user_id,
                personal=p.personal,
            ),
            lib.TypicalDrafted(title=p.title, text=p.draft),
        ]
    if state is None:
        raise NotFound(f"typical case {cmd.meta.case_id} does not exist")
    check_occurred_at(cmd, state.last_event_at)
    if state.status == "published":
        raise Refused(f"typical case {state.case_id} is already published")
    match p:
        case lib.Edit():
            if actor.user_id != state.proposer:
                raise Forbidden(f"only its proposer {state.proposer} edits {state.case_id}")
            return [
                lib.TypicalEdited(
                    title=p.title, text=p.text, lesson=p.lesson, articles=p.articles, tags=p.tags
                )
            ]
        case lib.AppointReviewer(reviewer=reviewer):
            if reviewer == state.proposer:
                raise Invalid(f"{reviewer} proposed {state.case_id}: appoint a second person")
            return [lib.TypicalReviewerAppointed(reviewer=reviewer)]
        case lib.Approve(note=note) | lib.Return(note=note):
            _check_reviewer(state, actor.role, actor.user_id)
            if state.status != "edited":
                raise Refused(
                    f"typical case {state.case_id} is {state.status}: its proposer adds the"
                    " lesson and legal basis (edit) before it is reviewed"
                )
            if isinstance(p, lib.Return):
                return [lib.TypicalReturned(reviewer=actor.user_id, note=p.note)]
            check_clean(state.title, state.text, state.lesson or "")
            return [lib.TypicalApproved(reviewer=actor.user_id, note=note)]
        case lib.Publish():
            if state.status != "approved":
                raise Refused(
                    f"typical case {state.case_id} is {state.status}; a second person approves"
                    " it before it is published"
                )
            check_clean(state.title, state.text, state.lesson or "")
            return [lib.TypicalPublished()]
    raise Invalid(f"unknown typical-case command {kind!r}")


def _check_reviewer(state: Typical, role: str, reviewer: str) -> None:
    if reviewer == state.proposer:
        raise Forbidden(f"{reviewer} proposed {state.case_id}: a second person reviews it")
    if role not in REVIEWERS and reviewer != state.appointed_reviewer:
        raise Forbidden(
            f"the unit's chair or the reviewer the auditor appointed reviews {state.case_id}"
        )


def evolve_typical(state: Typical | None, env: Envelope, event: EventPayload) -> Typical:
    """Apply one event to a typical case."""
    at = env.occurred_at
    if isinstance(event, lib.TypicalProposed):
        return Typical(
            case_id=env.case_id,
            unit=event.unit,
            status="drafted",
            source_case_id=event.source_case_id,
            category=event.category,
            proposer=event.proposer,
            personal=event.personal,
            title="",
            text="",
            opened_at=at,
            last_event_at=at,
        )
    if state is None:
        raise ValueError(f"{env.event_type} before library.proposed in {env.case_id}")
    s = state.model_copy(update={"last_event_at": at})
    match event:
        case lib.TypicalDrafted(title=title, text=text):
            return s.model_copy(update={"title": title, "text": text})
        case lib.TypicalEdited():
            return s.model_copy(
                update={
                    "status": "edited",
                    "title": event.title,
                    "text": event.text,
                    "lesson": event.lesson,
                    "articles": event.articles,
                    "tags": event.tags,
                    "reviewer": None,
                    "review_note": None,
                }
            )
        case lib.TypicalApproved(reviewer=reviewer, note=note):
            return s.model_copy(
                update={"status": "approved", "reviewer": reviewer, "review_note": note}
            )
        case lib.TypicalReturned(reviewer=reviewer, note=note):
            return s.model_copy(
                update={"status": "returned", "reviewer": reviewer, "review_note": note}
            )
        case lib.TypicalReviewerAppointed(reviewer=reviewer):
            return s.model_copy(update={"appointed_reviewer": reviewer})
        case lib.TypicalPublished():
            return s.model_copy(update={"status": "published", "published_at": at})
    raise ValueError(f"a typical case cannot apply {env.event_type}")
