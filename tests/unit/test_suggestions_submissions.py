"""Who may submit what: suggestions, management proposals and the group's veto."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from contracts.envelope import Actor
from services.suggestions import domain
from services.suggestions.service import KIND
from tests.unit.stories import T0, Story
from tests.unit.suggestion_stories import (
    CHAIR,
    FOUR_FOR,
    GROUP_ID,
    MEMBERS,
    REP,
    SEALED,
    WORKER,
    member,
    ok,
    submission,
    submitted,
    voted,
)


def proposal() -> Story[domain.Suggestion]:
    story = Story(KIND, "SUG-TEST00000002")
    body = submission(kind="management_proposal", topic="wage_payment", worker=None)
    ok(story.when("submit", body, actor=CHAIR))
    review = {"group_id": GROUP_ID, "meeting": "工资发放方案审议", "members": MEMBERS}
    ok(story.when("open_review", review, actor=CHAIR))
    return story


def test_a_vetoed_proposal_cannot_be_implemented() -> None:
    story = voted(proposal(), {"chair-p01": "against", "m2": "against", "m3": "for", "m4": "for"})
    voted(story, {"m5": "against"})
    ok(story.when("close_vote", actor=CHAIR))
    assert story.state().status == "vetoed" and story.state().submitted_by == "management"
    status, detail = story.refusal(story.when("implement", {"note": SEALED}, actor=CHAIR))
    assert status == 409 and "vetoed" in detail
    due = (T0 + timedelta(days=7)).date().isoformat()
    status, _ = story.refusal(
        story.when("refer_to_leadership", {"owner": "lead", "due": due}, actor=CHAIR)
    )
    assert status == 409


def test_a_recommended_proposal_is_implemented() -> None:
    story = voted(proposal(), FOUR_FOR)
    ok(story.when("close_vote", actor=CHAIR))
    assert story.state().status == "recommended"
    ok(story.when("implement", {"note": SEALED}, actor=CHAIR))
    assert story.state().status == "implemented"


@pytest.mark.parametrize(
    ("over", "actor", "status", "mentions"),
    [
        ({"topic": "wage_payment"}, REP, 422, "a suggestion concerns one of"),
        ({"kind": "management_proposal", "worker": None}, CHAIR, 422, "management proposal"),
        (
            {"kind": "management_proposal", "topic": "award", "worker": None},
            REP,
            422,
            "come from management",
        ),
        ({"worker": None}, REP, 422, "give the worker or anonymous"),
        ({"anonymous": True}, REP, 422, "not both"),
        ({"unit": "demo/co/p02"}, REP, 403, "outside your unit"),
        ({"topic": "canteen"}, REP, 422, "topic"),
    ],
)
def test_bad_submissions_are_refused(
    over: dict[str, Any], actor: Actor, status: int, mentions: str
) -> None:
    story = Story(KIND, "SUG-TEST00000003")
    got, detail = story.refusal(story.when("submit", submission(**over), actor=actor))
    assert got == status and mentions in detail
    assert story.events == []


def test_who_submitted_is_recorded_without_a_name() -> None:
    assert submitted().state().submitted_by == "worker"
    assert submitted().state().person_id == WORKER["person_id"]
    anon = submitted(worker=None, anonymous=True).state()
    assert anon.submitted_by == "anonymous_worker" and anon.person_id is None
    story = Story(KIND, "SUG-TEST00000004")
    ok(story.when("submit", submission(worker=None), actor=member("m2")))
    assert story.state().submitted_by == "member"
