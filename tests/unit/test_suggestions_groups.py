"""A unit's democratic-management group as stories: who sits on it, and replacing members."""

from __future__ import annotations

from typing import Any

import pytest

from services.suggestions.service import GROUP_KIND
from tests.unit.stories import Story
from tests.unit.suggestion_stories import CHAIR, GROUP_ID, MEMBERS, REP, form, group, member, ok


def test_forming_a_group_seats_its_members() -> None:
    story = group()
    assert story.then_types(Story(GROUP_KIND, GROUP_ID).when("form", form(), actor=CHAIR)) == [
        "suggestion.group_formed"
    ]
    assert story.state().members == tuple(MEMBERS) and story.state().leader == "chair-p01"
    assert story.state().sitting_at(story.clock) == tuple(MEMBERS)


@pytest.mark.parametrize(
    ("members", "bounds", "mentions"),
    [
        (MEMBERS[:4], (5, 7), "5 to 7 members, not 4"),
        ([*MEMBERS, "m8"], (5, 7), "5 to 7 members, not 8"),
        (["chair-p01", "m2", "m2", "m4", "m5"], (5, 7), "listed twice"),
        (MEMBERS, (7, 5), "wrong way round"),
    ],
)
def test_group_size_and_composition_are_checked(
    members: list[str], bounds: tuple[int, int], mentions: str
) -> None:
    story = Story(GROUP_KIND, GROUP_ID)
    outcome = story.when("form", form(members, min_size=bounds[0], max_size=bounds[1]), actor=CHAIR)
    status, detail = story.refusal(outcome)
    assert status == 422 and mentions in detail
    assert story.events == []


def test_group_size_bounds_are_configurable_per_unit() -> None:
    story = Story(GROUP_KIND, GROUP_ID)
    ok(story.when("form", form(MEMBERS[:3], min_size=3, max_size=9), actor=CHAIR))
    assert story.state().min_size == 3 and len(story.state().members) == 3


def test_leader_must_be_a_member_and_only_the_chair_forms_groups() -> None:
    story = Story(GROUP_KIND, GROUP_ID)
    status, detail = story.refusal(story.when("form", form(leader="boss"), actor=CHAIR))
    assert status == 422 and "leader boss" in detail
    status, _ = story.refusal(story.when("form", form(), actor=member("m2")))
    assert status == 403
    status, _ = story.refusal(story.when("form", form(), actor=REP))
    assert status == 403


def test_a_unit_group_is_formed_once() -> None:
    story = group()
    status, detail = story.refusal(story.when("form", form(), actor=CHAIR))
    assert status == 409 and "already has its group" in detail


def test_group_outside_the_chairs_unit_is_refused() -> None:
    story = Story(GROUP_KIND, GROUP_ID)
    status, _ = story.refusal(story.when("form", form(unit="demo/co/p02"), actor=CHAIR))
    assert status == 403


def test_replacing_a_member_keeps_who_sat_when() -> None:
    story = group()
    before = story.clock
    replace = {"outgoing": "m7", "incoming": "m8", "congress_session": "补选"}
    outcome = ok(story.when("replace_member", replace, actor=CHAIR))
    assert story.then_types(outcome) == ["suggestion.group_member_replaced"]
    after = story.clock
    assert "m7" in story.state().sitting_at(before) and "m8" not in story.state().sitting_at(before)
    assert "m8" in story.state().sitting_at(after) and "m7" not in story.state().sitting_at(after)
    assert story.state().members == (*MEMBERS[:6], "m8")
    seats = {seat.member: seat for seat in story.state().seats}
    assert seats["m7"].until == after and seats["m8"].since == after


@pytest.mark.parametrize(
    ("replace", "mentions"),
    [
        ({"outgoing": "nobody", "incoming": "m8"}, "nobody is not a member"),
        ({"outgoing": "m7", "incoming": "m2"}, "m2 already sits"),
        ({"outgoing": "chair-p01", "incoming": "m8"}, "name the new leader"),
        ({"outgoing": "m7", "incoming": "m8", "leader": "m7"}, "name the new leader"),
    ],
)
def test_bad_replacements_are_refused(replace: dict[str, Any], mentions: str) -> None:
    story = group()
    outcome = story.when("replace_member", {**replace, "congress_session": "补选"}, actor=CHAIR)
    status, detail = story.refusal(outcome)
    assert status == 422 and mentions in detail
    assert len(story.events) == 1


def test_replacing_the_leader_names_a_new_one() -> None:
    story = group()
    replace = {
        "outgoing": "chair-p01",
        "incoming": "m8",
        "leader": "m2",
        "congress_session": "补选",
    }
    ok(story.when("replace_member", replace, actor=CHAIR))
    assert story.state().leader == "m2"


def test_replacing_a_member_of_an_unknown_group_is_404() -> None:
    story = Story(GROUP_KIND, GROUP_ID)
    replace = {"outgoing": "m7", "incoming": "m8", "congress_session": "补选"}
    status, _ = story.refusal(story.when("replace_member", replace, actor=CHAIR))
    assert status == 404
