"""Queries (质询) of the management as stories, and replay by the kind each case id names."""

from __future__ import annotations

import pytest

from services.suggestions import domain
from services.suggestions.service import KIND, QUERY_KIND
from tests.unit.stories import Story
from tests.unit.suggestion_stories import CHAIR, REP, SEALED, UNIT, group, member, ok, reach


def raised() -> Story[domain.Query]:
    story = Story(QUERY_KIND, "QRY-TEST00000001")
    body = {
        "unit": UNIT,
        "area": "safety",
        "question": SEALED,
        "addressed_to": "项目经理",
    }
    ok(story.when("raise", body, actor=member("m2")))
    return story


def test_query_raised_answered_rejected_answered_again_and_accepted() -> None:
    story = raised()
    ok(story.when("answer", {"answer": SEALED}, actor=CHAIR))
    ok(story.when("reject_answer", {"reason": SEALED}, actor=member("m3")))
    assert story.state().status == "answer_rejected"
    ok(story.when("answer", {"answer": SEALED}, actor=CHAIR))
    ok(story.when("accept_answer", actor=member("m3")))
    assert story.state().status == "answer_accepted" and story.state().answers == 2
    assert [e.event_type for e in story.events] == [
        "suggestion.query_raised",
        "suggestion.query_answered",
        "suggestion.query_answer_rejected",
        "suggestion.query_answered",
        "suggestion.query_answer_accepted",
    ]


@pytest.mark.parametrize(
    ("path", "command_type"),
    [
        ([], "accept_answer"),
        ([], "reject_answer"),
        (["answer"], "answer"),
        (["answer", "accept_answer"], "answer"),
        (["answer", "accept_answer"], "reject_answer"),
    ],
)
def test_illegal_query_transitions_are_409(path: list[str], command_type: str) -> None:
    story = raised()
    bodies = {
        "answer": {"answer": SEALED},
        "accept_answer": {},
        "reject_answer": {"reason": SEALED},
    }
    for step in path:
        ok(story.when(step, bodies[step], actor=CHAIR))
    assert story.refusal(story.when(command_type, bodies[command_type], actor=CHAIR))[0] == 409


def test_queries_are_raised_by_the_group_on_listed_areas() -> None:
    story = Story(QUERY_KIND, "QRY-TEST00000002")
    body = {"unit": UNIT, "area": "safety", "question": SEALED, "addressed_to": "经理"}
    assert story.refusal(story.when("raise", body, actor=REP))[0] == 403
    outcome = story.when("raise", {**body, "area": "canteen"}, actor=CHAIR)
    assert story.refusal(outcome)[0] == 422


def test_replay_uses_the_kind_of_each_case() -> None:
    group_story, query_story, suggestion_story = group(), raised(), reach("adopted")
    assert isinstance(KIND.replay(group_story.events), domain.Group)
    assert isinstance(KIND.replay(query_story.events), domain.Query)
    replayed = KIND.replay(suggestion_story.events)
    assert isinstance(replayed, domain.Suggestion) and replayed.status == "adopted"
