"""Democratic-management cases told as stories: the people, a group, a suggestion under review."""

from __future__ import annotations

from typing import Any

from contracts.envelope import Actor
from services.common.decider import Outcome
from services.suggestions import domain
from services.suggestions.service import GROUP_KIND, KIND
from tests.unit.stories import Story

SEALED = {"kid": "PER-0123456789abcdef0123", "nonce": "AAAAAAAAAAAAAAAA", "ct": "c2VhbGVk"}
WORKER = {"person_id": "PER-0123456789abcdef0123", "name": SEALED, "phone": None}
UNIT = "demo/co/p01"
CHAIR = Actor(user_id="chair-p01", role="union_chair", unit=UNIT)
REP = Actor(user_id="rep-p01", role="worker_rep", unit=UNIT)
MEMBERS = ["chair-p01", "m2", "m3", "m4", "m5", "m6", "m7"]
GROUP_ID = "GRP-TEST00000001"


def member(user: str) -> Actor:
    role = "union_chair" if user == "chair-p01" else "group_member"
    return Actor(user_id=user, role=role, unit=UNIT)


def ok(outcome: Outcome) -> Outcome:
    assert outcome.reply.ok, outcome.reply
    return outcome


def form(members: list[str] | None = None, **over: Any) -> dict[str, Any]:
    body = {
        "unit": UNIT,
        "members": members if members is not None else MEMBERS,
        "leader": "chair-p01",
        "congress_session": "第二届职工代表大会第三次会议",
        "min_size": 5,
        "max_size": 7,
    }
    return {**body, **over}


def group(members: list[str] | None = None) -> Story[domain.Group]:
    story = Story(GROUP_KIND, GROUP_ID)
    ok(story.when("form", form(members), actor=CHAIR))
    return story


def submission(**over: Any) -> dict[str, Any]:
    body = {
        "unit": UNIT,
        "kind": "suggestion",
        "topic": "welfare",
        "title": SEALED,
        "content": SEALED,
        "worker": WORKER,
    }
    return {**body, **over}


def submitted(**over: Any) -> Story[domain.Suggestion]:
    story = Story(KIND, "SUG-TEST00000001")
    ok(story.when("submit", submission(**over), actor=REP))
    return story


def under_review(members: list[str] | None = None, **over: Any) -> Story[domain.Suggestion]:
    story = submitted(**over)
    review = {
        "group_id": GROUP_ID,
        "meeting": "11月民主管理小组例会",
        "members": members or MEMBERS,
    }
    ok(story.when("open_review", review, actor=CHAIR))
    return story


def vote(story: Story[domain.Suggestion], user: str, choice: str) -> Outcome:
    return story.when("cast_vote", {"member": user, "vote": choice}, actor=member(user))


def tally_of(story: Story[domain.Suggestion]) -> domain.Tally:
    tally = story.state().tally
    assert tally is not None, "no review is open"
    return tally


def voted(story: Story[domain.Suggestion], ballots: dict[str, str]) -> Story[domain.Suggestion]:
    for user, choice in ballots.items():
        ok(vote(story, user, choice))
    return story


FOUR_FOR = {"chair-p01": "for", "m2": "for", "m3": "for", "m4": "for", "m5": "abstain"}


def reach(status: str) -> Story[domain.Suggestion]:
    if status == "submitted":
        return submitted()
    story = under_review()
    if status == "under_review":
        return story
    voted(story, FOUR_FOR)
    ok(story.when("close_vote", actor=CHAIR))
    if status == "implemented":
        ok(story.when("implement", {"note": SEALED}, actor=CHAIR))
    return story
