"""Voting on suggestions as stories: the rules at their boundaries, tallies, seats, transitions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from contracts.personal import Sealed
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
    member,
    ok,
    reach,
    submitted,
    tally_of,
    under_review,
    vote,
    voted,
)

# --- the voting rules, at their boundaries ------------------------------------

TALLIES = [
    # sitting, for, against, abstain, suggestion outcome, proposal outcome
    (7, 4, 0, 1, "adopted", "recommended"),  # exactly the quorum (5 of 7) and a bare majority
    (7, 4, 0, 0, "no_quorum", "no_quorum"),  # one voter short of the quorum
    (7, 3, 1, 3, "rejected", "vetoed"),  # one vote short of a majority of all
    (7, 4, 3, 0, "adopted", "recommended"),
    (7, 3, 0, 2, "rejected", "vetoed"),  # 3 of 5 voting is a majority of those voting only
    (6, 4, 0, 0, "adopted", "recommended"),  # exactly two thirds present
    (6, 3, 0, 0, "no_quorum", "no_quorum"),
    (6, 3, 3, 0, "rejected", "vetoed"),  # a tie is not a majority
    (5, 3, 1, 0, "adopted", "recommended"),
    (5, 3, 0, 0, "no_quorum", "no_quorum"),  # 3 of 5 is short of two thirds
    (5, 2, 0, 2, "rejected", "vetoed"),  # abstentions count for the quorum, not for adoption
    (5, 0, 0, 4, "rejected", "vetoed"),
]


@pytest.mark.parametrize(("sitting", "yes", "no", "abstain", "sug", "prop"), TALLIES)
def test_outcome_of_a_vote(
    sitting: int, yes: int, no: int, abstain: int, sug: str, prop: str
) -> None:
    tally = domain.Tally(sitting=sitting, votes_for=yes, votes_against=no, abstentions=abstain)
    assert domain.outcome("suggestion", tally) == sug
    assert domain.outcome("management_proposal", tally) == prop


def test_count_ignores_votes_from_seats_no_longer_sitting() -> None:
    tally = domain.count(["a", "b", "c"], {"a": "for", "b": "against", "x": "for"})
    assert (tally.sitting, tally.votes_for, tally.votes_against, tally.voted) == (3, 1, 1, 2)


def test_suggestion_from_submission_to_implementation_through_the_leadership() -> None:
    story = voted(under_review(), FOUR_FOR)
    closed = ok(story.when("close_vote", actor=CHAIR))
    assert story.then_types(closed) == ["suggestion.vote_closed"]
    assert closed.events[0].payload == {
        "outcome": "adopted",
        "sitting": 7,
        "votes_for": 4,
        "votes_against": 0,
        "abstentions": 1,
    }
    due = (T0 + timedelta(days=14)).date().isoformat()
    ok(story.when("refer_to_leadership", {"owner": "lead-p01", "due": due}, actor=CHAIR))
    assert story.state().status == "referred" and story.state().referral_owner == "lead-p01"
    response, note = {**SEALED, "ct": "cmVzcG9uc2U="}, {**SEALED, "ct": "bm90ZQ=="}
    ok(story.when("record_leadership_response", {"response": response}, actor=CHAIR))
    assert story.state().leadership_response == Sealed.model_validate(response)
    ok(story.when("implement", {"note": note}, actor=CHAIR))
    assert story.state().status == "implemented"
    assert story.state().implementation == Sealed.model_validate(note)
    assert [e.case_version for e in story.events] == list(range(1, 12))


def test_adopted_suggestion_may_be_implemented_at_once() -> None:
    story = voted(under_review(), FOUR_FOR)
    ok(story.when("close_vote", actor=CHAIR))
    ok(story.when("implement", {"note": SEALED}, actor=member("m2")))
    assert story.state().status == "implemented"


def test_the_tally_stands_as_of_every_vote() -> None:
    story = under_review()
    assert tally_of(story).voted == 0 and tally_of(story).sitting == 7
    ok(vote(story, "m2", "for"))
    ok(vote(story, "m3", "against"))
    assert (tally_of(story).votes_for, tally_of(story).votes_against) == (1, 1)
    ok(vote(story, "m4", "abstain"))
    assert tally_of(story).voted == 3 and story.state().votes == {
        "m2": "for",
        "m3": "against",
        "m4": "abstain",
    }


def test_a_second_vote_by_the_same_member_is_409() -> None:
    story = voted(under_review(), {"m2": "for"})
    status, detail = story.refusal(vote(story, "m2", "against"))
    assert status == 409 and "already voted" in detail
    assert story.state().votes == {"m2": "for"}


def test_a_non_member_may_not_vote() -> None:
    story = under_review()
    status, detail = story.refusal(vote(story, "m9", "for"))
    assert status == 403 and "does not sit" in detail


def test_members_vote_as_themselves() -> None:
    story = under_review()
    outcome = story.when("cast_vote", {"member": "m3", "vote": "for"}, actor=member("m2"))
    status, detail = story.refusal(outcome)
    assert status == 403 and "vote as themselves" in detail
    status, _ = story.refusal(story.when("cast_vote", {"member": "rep-p01", "vote": "for"}))
    assert status == 403


def test_votes_after_close_are_409() -> None:
    story = voted(under_review(), FOUR_FOR)
    ok(story.when("close_vote", actor=CHAIR))
    status, detail = story.refusal(vote(story, "m6", "for"))
    assert status == 409 and "it is adopted" in detail


def test_three_for_one_against_three_abstaining_is_rejected() -> None:
    ballots = {"chair-p01": "for", "m2": "for", "m3": "for", "m4": "against"}
    story = voted(under_review(), {**ballots, "m5": "abstain", "m6": "abstain", "m7": "abstain"})
    ok(story.when("close_vote", actor=CHAIR))
    assert story.state().status == "rejected" and story.state().outcome == "rejected"
    status, _ = story.refusal(story.when("implement", {"note": SEALED}, actor=CHAIR))
    assert status == 409


def test_no_quorum_may_be_reviewed_again_at_a_later_meeting() -> None:
    story = voted(under_review(), {"m2": "for", "m3": "for", "m4": "for", "m5": "for"})
    ok(story.when("close_vote", actor=CHAIR))
    assert story.state().status == "no_quorum"
    review = {"group_id": GROUP_ID, "meeting": "12月例会", "members": MEMBERS}
    ok(story.when("open_review", review, actor=CHAIR))
    assert story.state().reviews == 2 and story.state().votes == {} and tally_of(story).voted == 0
    voted(story, FOUR_FOR)
    ok(story.when("close_vote", actor=CHAIR))
    assert story.state().status == "adopted"


def test_a_seat_handed_over_during_the_review_carries_its_vote() -> None:
    story = voted(under_review(), {"m7": "for"})
    hand = {"group_id": GROUP_ID, "outgoing": "m7", "incoming": "m8"}
    outcome = ok(story.when("hand_over_seat", hand, actor=CHAIR))
    assert story.then_types(outcome) == ["suggestion.seat_handed_over"]
    assert story.state().votes == {"m8": "for"} and tally_of(story).votes_for == 1
    status, _ = story.refusal(vote(story, "m7", "against"))
    assert status == 403
    status, detail = story.refusal(vote(story, "m8", "against"))
    assert status == 409 and "already voted" in detail


def test_the_incoming_member_votes_from_an_unused_seat() -> None:
    story = under_review()
    hand = {"group_id": GROUP_ID, "outgoing": "m7", "incoming": "m8"}
    ok(story.when("hand_over_seat", hand, actor=CHAIR))
    ok(vote(story, "m8", "for"))
    assert tally_of(story).sitting == 7 and tally_of(story).votes_for == 1


@pytest.mark.parametrize(
    ("hand", "mentions"),
    [
        ({"group_id": "GRP-OTHER0000001", "outgoing": "m7", "incoming": "m8"}, "reviewed by"),
        ({"group_id": GROUP_ID, "outgoing": "m9", "incoming": "m8"}, "m9 does not sit"),
        ({"group_id": GROUP_ID, "outgoing": "m7", "incoming": "m2"}, "m2 already sits"),
    ],
)
def test_bad_seat_hand_overs_are_refused(hand: dict[str, Any], mentions: str) -> None:
    story = under_review()
    status, detail = story.refusal(story.when("hand_over_seat", hand, actor=CHAIR))
    assert status == 422 and mentions in detail


def test_a_seat_is_not_handed_over_after_the_vote_closed() -> None:
    story = voted(under_review(), FOUR_FOR)
    ok(story.when("close_vote", actor=CHAIR))
    hand = {"group_id": GROUP_ID, "outgoing": "m7", "incoming": "m8"}
    status, _ = story.refusal(story.when("hand_over_seat", hand, actor=CHAIR))
    assert status == 409


ILLEGAL = [
    ("submitted", "cast_vote", {"member": "m2", "vote": "for"}),
    ("submitted", "close_vote", {}),
    ("submitted", "implement", {"note": SEALED}),
    ("submitted", "record_leadership_response", {"response": SEALED}),
    ("under_review", "open_review", {"group_id": GROUP_ID, "meeting": "m", "members": MEMBERS}),
    ("under_review", "implement", {"note": SEALED}),
    ("under_review", "refer_to_leadership", {"owner": "lead", "due": "2099-01-01"}),
    ("adopted", "close_vote", {}),
    ("adopted", "record_leadership_response", {"response": SEALED}),
    ("adopted", "open_review", {"group_id": GROUP_ID, "meeting": "m", "members": MEMBERS}),
    ("implemented", "implement", {"note": SEALED}),
    ("implemented", "refer_to_leadership", {"owner": "lead", "due": "2099-01-01"}),
]


@pytest.mark.parametrize(("status", "command_type", "payload"), ILLEGAL)
def test_illegal_suggestion_transitions_are_409(
    status: str, command_type: str, payload: dict[str, Any]
) -> None:
    story = reach(status)
    assert story.state().status == status
    before = len(story.events)
    actor = member("m2") if command_type == "cast_vote" else CHAIR
    got, detail = story.refusal(story.when(command_type, payload, actor=actor))
    assert got == 409 and f"it is {status.replace('_', ' ')}" in detail
    assert len(story.events) == before


def test_referral_due_date_may_not_be_past() -> None:
    story = reach("adopted")
    due = (T0 - timedelta(days=1)).date().isoformat()
    outcome = story.when("refer_to_leadership", {"owner": "lead", "due": due}, actor=CHAIR)
    status, detail = story.refusal(outcome)
    assert status == 422 and "already past" in detail


def test_only_the_chair_refers_to_the_leadership() -> None:
    story = reach("adopted")
    outcome = story.when(
        "refer_to_leadership", {"owner": "lead", "due": "2099-01-01"}, actor=member("m2")
    )
    assert story.refusal(outcome)[0] == 403


def test_reps_do_not_run_reviews() -> None:
    story = submitted()
    review = {"group_id": GROUP_ID, "meeting": "m", "members": MEMBERS}
    assert story.refusal(story.when("open_review", review, actor=REP))[0] == 403


def test_commands_on_an_unknown_suggestion_are_404() -> None:
    story = Story(KIND, "SUG-TEST00000009")
    assert story.refusal(story.when("close_vote", actor=CHAIR))[0] == 404
