"""Library rules as stories: typical cases reviewed by a second person, sessions, volunteers."""

from __future__ import annotations

from typing import Any

from contracts.envelope import Actor
from services.audit.kinds import kind_of
from services.library.domain.stats import dashboard
from services.library.service import CLASSROOM_KIND, HELP_KIND, KIND, VOLUNTEER_KIND
from tests.unit.stories import Story

UNIT = "demo/co"
MEDIATOR = Actor(user_id="med-1", role="mediator", unit=UNIT)
CHAIR = Actor(user_id="chair-co", role="union_chair", unit=UNIT)
REP = Actor(user_id="rep-p01", role="worker_rep", unit="demo/co/p01")
LAWYER = Actor(user_id="vol-law-1", role="volunteer", unit=UNIT)
OTHER = Actor(user_id="vol-w-2", role="volunteer", unit=UNIT)
SEALED = {"kid": "PER-test0001", "nonce": "AAAAAAAAAAAAAAAA", "ct": "c2VhbGVk"}
EDIT = {
    "title": "拖欠工资案",
    "text": "申请人（职工）被某用人单位拖欠工资一万元至五万元。",
    "lesson": "职工应保留考勤和工资条。",
    "articles": ["《劳动合同法》第三十条"],
    "tags": ["欠薪"],
}


def proposed() -> Story[Any]:
    story = Story(KIND, "TYP-TEST00000001")
    body = {
        "unit": UNIT,
        "source_case_id": "DSP-TEST00000001",
        "category": "remuneration",
        "title": "劳动报酬争议典型案例",
        "draft": "申请人（职工）与某用人单位发生争议。",
        "personal": [SEALED],
    }
    outcome = story.when("propose", body, actor=MEDIATOR)
    assert story.then_types(outcome) == ["library.proposed", "library.drafted"]
    return story


def edited(**over: Any) -> Story[Any]:
    story = proposed()
    outcome = story.when("edit", {**EDIT, **over}, actor=MEDIATOR)
    assert outcome.reply.ok, outcome.reply
    return story


def test_a_typical_case_is_published_after_a_second_persons_approval() -> None:
    story = edited()
    assert story.refusal(story.when("publish", {}, actor=MEDIATOR))[0] == 409
    assert story.when("approve", {}, actor=CHAIR).reply.ok
    assert story.when("publish", {}, actor=MEDIATOR).reply.ok
    state = story.state()
    assert state.status == "published" and state.reviewer == "chair-co"
    assert state.articles == ("《劳动合同法》第三十条",) and state.tags == ("欠薪",)
    assert story.refusal(story.when("edit", EDIT, actor=MEDIATOR))[0] == 409


def test_the_proposer_cannot_approve_their_own_case() -> None:
    story = Story(KIND, "TYP-TEST00000002")
    body = {
        "unit": UNIT,
        "source_case_id": "GRV-TEST00000001",
        "category": "wages",
        "title": "t",
        "draft": "d",
    }
    assert story.when("propose", body, actor=CHAIR).reply.ok
    assert story.when("edit", EDIT, actor=CHAIR).reply.ok
    status, detail = story.refusal(story.when("approve", {}, actor=CHAIR))
    assert status == 403 and "second person" in detail


def test_a_mediator_cannot_approve_and_only_the_proposer_edits() -> None:
    story = edited()
    assert story.refusal(story.when("approve", {}, actor=MEDIATOR))[0] == 403
    other = Actor(user_id="med-2", role="mediator", unit=UNIT)
    assert story.refusal(story.when("edit", EDIT, actor=other))[0] == 403


def test_a_draft_must_be_edited_with_lesson_and_basis_before_review() -> None:
    story = proposed()
    assert story.refusal(story.when("approve", {}, actor=CHAIR))[0] == 409
    outcome = story.when("edit", {**EDIT, "articles": []}, actor=MEDIATOR)
    assert story.refusal(outcome)[0] == 422


def test_a_text_with_a_phone_number_is_neither_approved_nor_published() -> None:
    story = edited(text="申请人（职工）电话 138-0013-8000，被拖欠工资。")
    status, detail = story.refusal(story.when("approve", {}, actor=CHAIR))
    assert status == 422 and "phone number" in detail
    assert "138" not in detail


def test_a_citizen_id_in_the_lesson_is_refused() -> None:
    story = edited(lesson="身份证号11010519491231002X的职工")
    status, detail = story.refusal(story.when("approve", {}, actor=CHAIR))
    assert status == 422 and "citizen ID" in detail


def test_a_returned_case_is_edited_again_and_the_approval_starts_over() -> None:
    story = edited()
    assert story.when("return", {"note": "补充法律依据"}, actor=CHAIR).reply.ok
    assert story.state().status == "returned"
    assert story.refusal(story.when("publish", {}, actor=MEDIATOR))[0] == 409
    assert story.when("edit", EDIT, actor=MEDIATOR).reply.ok
    assert story.state().reviewer is None
    assert story.when("approve", {"note": "可以"}, actor=CHAIR).reply.ok


def session(**over: Any) -> dict[str, Any]:
    return {
        "unit": UNIT,
        "held_on": "2026-11-20",
        "place": "公司工会活动室",
        "cases": ["TYP-TEST00000001"],
        "attendance": [{"role": "worker", "count": 30}, {"role": "management", "count": 5}],
        **over,
    }


def test_a_classroom_session_counts_its_attendees_by_role() -> None:
    story = Story(CLASSROOM_KIND, "CLS-TEST00000001")
    assert story.when("hold", session(), actor=CHAIR).reply.ok
    assert story.state().attendees == 35
    assert story.state().attendance == {"worker": 30, "management": 5}


def test_a_session_names_each_role_once_and_happened_already() -> None:
    story = Story(CLASSROOM_KIND, "CLS-TEST00000002")
    twice = [{"role": "worker", "count": 3}, {"role": "worker", "count": 4}]
    assert story.refusal(story.when("hold", session(attendance=twice), actor=CHAIR))[0] == 422
    ahead = session(held_on="2027-12-01")
    assert story.refusal(story.when("hold", ahead, actor=CHAIR))[0] == 422
    nobody = session(attendance=[{"role": "worker", "count": 0}])
    assert story.refusal(story.when("hold", nobody, actor=CHAIR))[0] == 422
    assert story.refusal(story.when("hold", session(), actor=REP))[0] == 403


def registered() -> Story[Any]:
    story = Story(VOLUNTEER_KIND, "VOL-TEST00000001")
    person = {"person_id": "PER-test0001", "name": SEALED, "phone": SEALED}
    body = {
        "unit": UNIT,
        "team": "第一护薪队",
        "user_id": "vol-law-1",
        "kind": "lawyer_volunteer",
        "person": person,
        "skills": ["wages", "contracts"],
        "languages": ["zh", "yue"],
        "availability": "周末",
    }
    assert story.when("register", body, actor=CHAIR).reply.ok
    return story


def test_the_chair_registers_volunteers_and_they_change_their_own_availability() -> None:
    story = registered()
    assert story.state().person_id == "PER-test0001" and story.state().kind == "lawyer_volunteer"
    assert story.when("change_availability", {"availability": "晚上"}, actor=LAWYER).reply.ok
    refused = story.when("change_availability", {"availability": "x"}, actor=OTHER)
    assert story.refusal(refused)[0] == 404
    assert story.when("retire", {}, actor=CHAIR).reply.ok
    assert story.refusal(story.when("retire", {}, actor=CHAIR))[0] == 409


def requested(source: str = "DSP-TEST00000001", actor: Actor = MEDIATOR) -> Story[Any]:
    story = Story(HELP_KIND, "HLP-TEST00000001")
    body = {
        "unit": actor.unit,
        "source_case_id": source,
        "volunteer": "vol-law-1",
        "volunteer_case_id": "VOL-TEST00000001",
        "brief": SEALED,
    }
    outcome = story.when("request", body, actor=actor)
    assert outcome.reply.ok, outcome.reply
    return story


def test_a_volunteer_accepts_records_hours_and_the_help_ends() -> None:
    story = requested()
    assert story.refusal(story.when("record", {"hours": 1, "actions": ["accompany"]}, actor=LAWYER))
    assert story.when("accept", {}, actor=LAWYER).reply.ok
    body = {"hours": 2.5, "actions": ["check_pay_records", "legal_advice"]}
    assert story.when("record", body, actor=LAWYER).reply.ok
    assert story.when("record", {"hours": 1, "actions": ["legal_advice"]}, actor=LAWYER).reply.ok
    assert story.when("end", {}, actor=MEDIATOR).reply.ok
    state = story.state()
    assert state.status == "ended" and state.hours == 3.5 and state.records == 2
    assert state.actions == ("check_pay_records", "legal_advice")


def test_another_volunteer_cannot_touch_the_request() -> None:
    story = requested()
    assert story.refusal(story.when("accept", {}, actor=OTHER))[0] == 404
    assert story.when("decline", {"reason": SEALED}, actor=LAWYER).reply.ok
    assert story.refusal(story.when("accept", {}, actor=LAWYER))[0] == 409


def test_a_rep_asks_on_a_grievance_but_not_on_a_dispute() -> None:
    assert requested("GRV-TEST00000001", REP).state().requester == "rep-p01"
    story = Story(HELP_KIND, "HLP-TEST00000002")
    body = {
        "unit": "demo/co/p01",
        "source_case_id": "DSP-TEST00000001",
        "volunteer": "vol-law-1",
        "volunteer_case_id": "VOL-TEST00000001",
        "brief": SEALED,
    }
    assert story.refusal(story.when("request", body, actor=REP))[0] == 403


def test_the_dashboard_counts_sessions_volunteers_help_hours_and_recovered_wages() -> None:
    classroom = Story(CLASSROOM_KIND, "CLS-TEST00000001")
    classroom.when("hold", session(), actor=CHAIR)
    volunteer = registered()
    helped = requested()
    helped.when("accept", {}, actor=LAWYER)
    helped.when("record", {"hours": 2, "actions": ["accompany"]}, actor=LAWYER)
    waiting = requested("DSP-TEST00000002")
    figures = dashboard(
        [classroom.state(), volunteer.state(), helped.state(), waiting.state()],
        {"DSP-TEST00000001": 1_500_000, "DSP-TEST00000002": 900_000},
    )
    assert figures["sessions"] == 1 and figures["attendees"] == 35
    assert figures["teams"] == 1 and figures["volunteers_by_kind"] == {"lawyer_volunteer": 1}
    assert figures["help_requests"] == 2 and figures["help_given"] == 1
    assert figures["hours"] == 2 and figures["recovered_fen"] == 1_500_000


def test_the_auditor_appoints_a_reviewer_who_then_approves() -> None:
    story = edited()
    reviewer = Actor(user_id="med-2", role="mediator", unit=UNIT)
    assert story.refusal(story.when("approve", {}, actor=reviewer))[0] == 403
    auditor = Actor(user_id="aud", role="auditor", unit="demo")
    appoint = {"reviewer": "med-1"}
    assert story.refusal(story.when("appoint_reviewer", appoint, actor=auditor))[0] == 422
    assert story.refusal(story.when("appoint_reviewer", {"reviewer": "med-2"}, actor=CHAIR))
    assert story.when("appoint_reviewer", {"reviewer": "med-2"}, actor=auditor).reply.ok
    assert story.when("approve", {}, actor=reviewer).reply.ok
    assert story.state().reviewer == "med-2"


def test_the_audit_replays_every_library_case_with_the_library_rules() -> None:
    story = edited()
    story.when("approve", {}, actor=CHAIR)
    helped = requested()
    helped.when("accept", {}, actor=LAWYER)
    for case in (story, helped, registered()):
        kind = kind_of(case.case_id)
        assert kind is KIND
        assert kind.replay(case.events) == case.state()
