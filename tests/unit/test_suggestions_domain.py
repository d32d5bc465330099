"""Democratic-management rules as stories: groups, votes at their boundaries, vetoes, queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from contracts.envelope import Actor
from services.common.decider import Outcome
from services.suggestions import domain
from services.suggestions.service import GROUP_KIND, KIND, QUERY_KIND
from tests.unit.stories import T0, Story

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


# --- groups --------------------------------------------------------------------


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


# --- suggestions ---------------------------------------------------------------


def submission(**over: Any) -> dict[str, Any]:
    body = {
        "unit": UNIT,
        "kind": "suggestion",
        "topic": "welfare",
        "title": "食堂菜品有待改善",
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
    ok(story.when("record_leadership_response", {"response": "下周起每周两次面食"}, actor=CHAIR))
    ok(story.when("implement", {"note": "已增加面食和时令蔬菜"}, actor=CHAIR))
    assert story.state().status == "implemented"
    assert story.state().implementation == "已增加面食和时令蔬菜"
    assert [e.case_version for e in story.events] == list(range(1, 12))


def test_adopted_suggestion_may_be_implemented_at_once() -> None:
    story = voted(under_review(), FOUR_FOR)
    ok(story.when("close_vote", actor=CHAIR))
    ok(story.when("implement", {"note": "当场解决"}, actor=member("m2")))
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
    status, _ = story.refusal(story.when("implement", {"note": "x"}, actor=CHAIR))
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


# --- management proposals and the veto -------------------------------------------


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
    status, detail = story.refusal(story.when("implement", {"note": "照发"}, actor=CHAIR))
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
    ok(story.when("implement", {"note": "按新方案发放"}, actor=CHAIR))
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


ILLEGAL = [
    ("submitted", "cast_vote", {"member": "m2", "vote": "for"}),
    ("submitted", "close_vote", {}),
    ("submitted", "implement", {"note": "x"}),
    ("submitted", "record_leadership_response", {"response": "x"}),
    ("under_review", "open_review", {"group_id": GROUP_ID, "meeting": "m", "members": MEMBERS}),
    ("under_review", "implement", {"note": "x"}),
    ("under_review", "refer_to_leadership", {"owner": "lead", "due": "2099-01-01"}),
    ("adopted", "close_vote", {}),
    ("adopted", "record_leadership_response", {"response": "x"}),
    ("adopted", "open_review", {"group_id": GROUP_ID, "meeting": "m", "members": MEMBERS}),
    ("implemented", "implement", {"note": "x"}),
    ("implemented", "refer_to_leadership", {"owner": "lead", "due": "2099-01-01"}),
]


def reach(status: str) -> Story[domain.Suggestion]:
    if status == "submitted":
        return submitted()
    story = under_review()
    if status == "under_review":
        return story
    voted(story, FOUR_FOR)
    ok(story.when("close_vote", actor=CHAIR))
    if status == "implemented":
        ok(story.when("implement", {"note": "done"}, actor=CHAIR))
    return story


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


# --- queries (质询) ----------------------------------------------------------------


def raised() -> Story[domain.Query]:
    story = Story(QUERY_KIND, "QRY-TEST00000001")
    body = {
        "unit": UNIT,
        "area": "safety",
        "question": "脚手架验收为何推迟？",
        "addressed_to": "项目经理",
    }
    ok(story.when("raise", body, actor=member("m2")))
    return story


def test_query_raised_answered_rejected_answered_again_and_accepted() -> None:
    story = raised()
    ok(story.when("answer", {"answer": "材料未到"}, actor=CHAIR))
    ok(story.when("reject_answer", {"reason": "未给出时间表"}, actor=member("m3")))
    assert story.state().status == "answer_rejected"
    ok(story.when("answer", {"answer": "周五前验收"}, actor=CHAIR))
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
    bodies = {"answer": {"answer": "a"}, "accept_answer": {}, "reject_answer": {"reason": "r"}}
    for step in path:
        ok(story.when(step, bodies[step], actor=CHAIR))
    assert story.refusal(story.when(command_type, bodies[command_type], actor=CHAIR))[0] == 409


def test_queries_are_raised_by_the_group_on_listed_areas() -> None:
    story = Story(QUERY_KIND, "QRY-TEST00000002")
    body = {"unit": UNIT, "area": "safety", "question": "q", "addressed_to": "经理"}
    assert story.refusal(story.when("raise", body, actor=REP))[0] == 403
    outcome = story.when("raise", {**body, "area": "canteen"}, actor=CHAIR)
    assert story.refusal(outcome)[0] == 422


def test_replay_uses_the_kind_of_each_case() -> None:
    group_story, query_story, suggestion_story = group(), raised(), reach("adopted")
    assert isinstance(KIND.replay(group_story.events), domain.Group)
    assert isinstance(KIND.replay(query_story.events), domain.Query)
    replayed = KIND.replay(suggestion_story.events)
    assert isinstance(replayed, domain.Suggestion) and replayed.status == "adopted"
