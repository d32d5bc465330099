"""Grievance rules as stories: given events, when a command, then events or a refusal."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from contracts.envelope import Actor
from contracts.personal import Sealed
from services.intake import domain
from services.intake.service import KIND
from tests.unit.stories import T0, Story

Step = tuple[str, dict[str, Any]]
SEALED = {"kid": "PER-0123456789abcdef0123", "nonce": "AAAAAAAAAAAAAAAA", "ct": "c2VhbGVk"}
PERSON = {"person_id": "PER-0123456789abcdef0123", "name": SEALED, "phone": SEALED}
CHAIR = Actor(user_id="chair-co", role="union_chair", unit="demo/co")
AUDITOR = Actor(user_id="aud", role="auditor", unit="demo")
OTHER_REP = Actor(user_id="rep-p02", role="worker_rep", unit="demo/co/p02")
SYSTEM = Actor(user_id="system", role="system", unit="demo/co/p01")


def log_payload(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "unit": "demo/co/p01",
        "category": "canteen",
        "summary": SEALED,
        "details": SEALED,
        "channel": "in_person",
        "anonymous": False,
        "complainant": PERSON,
    }
    return {**body, **over}


def logged() -> Story[domain.Grievance]:
    story = Story(KIND, "GRV-TEST00000001")
    assert story.when("log", log_payload()).reply.ok
    return story


def at(story: Story[domain.Grievance], *statuses_path: Step) -> Story[domain.Grievance]:
    for command_type, payload in statuses_path:
        outcome = story.when(command_type, payload)
        assert outcome.reply.ok, outcome.reply
    return story


ACK: Step = ("acknowledge", {})
RESOLVE: Step = ("resolve", {"how": "on_site", "resolution": SEALED})
ESCALATE: Step = ("escalate", {"owner": "lead-1", "due": "2026-12-10"})
DECIDE: Step = ("record_decision", {"decision": SEALED})
REFER: Step = ("refer_to_mediation", {"dispute_category": "remuneration"})
CLOSE: Step = ("close", {})
REOPEN: Step = ("reopen", {"reason": SEALED})
WITHDRAW: Step = ("withdraw", {})
FEEDBACK: Step = ("give_feedback", {"note": SEALED})


def test_logging_a_grievance_records_its_service_level_due_dates() -> None:
    story = Story(KIND, "GRV-TEST00000001")
    outcome = story.when("log", log_payload())
    assert story.then_types(outcome) == ["grievance.logged"]
    payload = outcome.events[0].payload
    # Logged on Monday 23 Nov 2026: acknowledge by Tuesday, answer by Thursday.
    assert payload["ack_due"] == "2026-11-24"
    assert payload["answer_due"] == "2026-11-26"
    assert story.state().status == "logged"
    assert outcome.events[0].case_version == 1


def test_anonymous_grievance_carries_no_person() -> None:
    story = Story(KIND, "GRV-TEST00000002")
    outcome = story.when("log", log_payload(anonymous=True, complainant=None))
    assert outcome.reply.ok
    assert story.state().person_id is None and story.state().anonymous


def test_both_complainant_and_anonymous_is_refused() -> None:
    story = Story(KIND, "GRV-TEST00000003")
    status, detail = story.refusal(story.when("log", log_payload(anonymous=True)))
    assert status == 422 and "either a complainant or anonymous" in detail


def test_logging_twice_is_refused() -> None:
    story = logged()
    status, detail = story.refusal(story.when("log", log_payload()))
    assert status == 409 and "already exists" in detail


def test_the_canteen_complaint_is_acknowledged_resolved_and_closed() -> None:
    story = at(logged(), ACK, RESOLVE)
    assert story.state().status == "resolved" and story.state().resolved_how == "on_site"
    outcome = story.when(*CLOSE)
    assert story.then_types(outcome) == ["grievance.closed"]
    assert story.state().status == "closed"
    assert [e.case_version for e in story.events] == [1, 2, 3, 4]


def test_escalation_then_decision_then_resolution() -> None:
    story = at(logged(), ACK, ESCALATE, DECIDE, RESOLVE)
    assert story.state().escalation_owner == "lead-1"
    assert story.state().decision == Sealed.model_validate(SEALED)
    assert story.state().status == "resolved"


def test_referred_grievance_is_resolved_by_mediation_only() -> None:
    story = at(logged(), ACK, REFER)
    status, detail = story.refusal(story.when(*RESOLVE))
    assert status == 422 and "resolved by mediation" in detail
    assert story.when("resolve", {"how": "mediation", "resolution": SEALED}).reply.ok


def test_reopen_after_close_goes_back_to_work() -> None:
    story = at(logged(), ACK, RESOLVE, CLOSE, REOPEN)
    assert story.state().status == "reopened" and story.state().reopen_count == 1
    assert story.when(*RESOLVE).reply.ok


def test_feedback_counts_and_keeps_status() -> None:
    story = at(logged(), ACK, FEEDBACK)
    assert story.state().feedback_count == 1 and story.state().status == "acknowledged"


def test_withdrawn_is_final() -> None:
    story = at(logged(), WITHDRAW)
    for command in (ACK, RESOLVE, ESCALATE, REOPEN, CLOSE, FEEDBACK):
        status, _ = story.refusal(story.when(*command))
        assert status == 409


# Every command from every status it may not start from is refused with 409.
PATHS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "logged": [],
    "acknowledged": [ACK],
    "escalated": [ACK, ESCALATE],
    "decided": [ACK, ESCALATE, DECIDE],
    "referred_to_mediation": [ACK, REFER],
    "resolved": [ACK, RESOLVE],
    "reopened": [ACK, RESOLVE, REOPEN],
    "closed": [ACK, RESOLVE, CLOSE],
    "withdrawn": [WITHDRAW],
}
COMMANDS = {
    "acknowledge": ACK,
    "resolve": RESOLVE,
    "escalate": ESCALATE,
    "record_decision": DECIDE,
    "refer_to_mediation": REFER,
    "give_feedback": FEEDBACK,
    "close": CLOSE,
    "reopen": REOPEN,
    "withdraw": WITHDRAW,
}
ILLEGAL = [
    (status, name)
    for status in PATHS
    for name in COMMANDS
    if status not in domain.ALLOWED_FROM[name]
]
LEGAL = [
    (status, name) for status in PATHS for name in COMMANDS if status in domain.ALLOWED_FROM[name]
]


@pytest.mark.parametrize(("status", "command"), ILLEGAL)
def test_illegal_transition_is_refused(status: str, command: str) -> None:
    story = at(logged(), *PATHS[status])
    assert story.state().status == status
    command_type, payload = COMMANDS[command]
    if command == "resolve" and status == "referred_to_mediation":
        payload = {"how": "mediation", "resolution": SEALED}
    refused, detail = story.refusal(story.when(command_type, payload))
    assert refused == 409
    assert f"it is {status.replace('_', ' ')}" in detail


@pytest.mark.parametrize(("status", "command"), LEGAL)
def test_legal_transition_appends_one_event(status: str, command: str) -> None:
    story = at(logged(), *PATHS[status])
    command_type, payload = COMMANDS[command]
    if command == "resolve" and status == "referred_to_mediation":
        payload = {"how": "mediation", "resolution": SEALED}
    outcome = story.when(command_type, payload)
    assert outcome.reply.ok, outcome.reply
    assert len(outcome.events) == 1


def test_auditor_changes_nothing() -> None:
    story = logged()
    status, detail = story.refusal(story.when("acknowledge", actor=AUDITOR))
    assert status == 403 and "auditor" in detail


def test_rep_of_another_unit_cannot_act() -> None:
    story = logged()
    status, _ = story.refusal(story.when("acknowledge", actor=OTHER_REP))
    assert status == 404


def test_rep_cannot_log_outside_their_unit() -> None:
    story = Story(KIND, "GRV-TEST00000009")
    status, _ = story.refusal(story.when("log", log_payload(unit="demo/co/p02")))
    assert status == 403


def test_chair_of_the_company_acts_on_a_project_case() -> None:
    story = logged()
    assert story.when("acknowledge", actor=CHAIR).reply.ok


def test_unknown_case_is_not_found() -> None:
    story = Story(KIND, "GRV-TEST0000000A")
    status, _ = story.refusal(story.when(*ACK))
    assert status == 404


def test_occurred_at_in_the_future_is_refused() -> None:
    story = Story(KIND, "GRV-TEST0000000B")
    cmd_at = T0 + timedelta(hours=1)
    from services.common.decider import process
    from tests.unit.stories import command

    meta = command(story.case_id, "log", log_payload(), at=cmd_at)
    meta = meta.model_copy(update={"occurred_at": cmd_at + timedelta(hours=1)})
    outcome = process(KIND, story.head, meta)
    assert outcome.reply.refusal is not None
    assert outcome.reply.refusal.status == 422 and "future" in outcome.reply.refusal.detail


def test_occurred_at_before_the_last_event_is_refused() -> None:
    story = logged()
    status, detail = story.refusal(story.when("acknowledge", at=T0 - timedelta(days=1)))
    assert status == 422 and "before the case's last event" in detail


def test_escalation_due_in_the_past_is_refused() -> None:
    story = at(logged(), ACK)
    status, _ = story.refusal(story.when("escalate", {"owner": "lead", "due": "2026-01-01"}))
    assert status == 422


def test_service_levels_fall_due_after_their_day_ends_in_china() -> None:
    story = logged()
    state = story.state()
    assert state.ack_due == date(2026, 11, 24)
    # 23:59 on the due day in Shanghai is still in time; midnight is not.
    assert domain.due_stages(state, T0.replace(hour=15, minute=59)) == []
    assert domain.due_stages(state, T0.replace(hour=16) + timedelta(days=1)) == ["acknowledge"]
    late = T0 + timedelta(days=5)
    assert domain.due_stages(state, late) == ["acknowledge", "answer"]


def test_overdue_is_recorded_once_per_stage_by_the_system_only() -> None:
    story = logged()
    late = T0 + timedelta(days=2)
    status, _ = story.refusal(story.when("mark_overdue", {"stage": "acknowledge"}, at=late))
    assert status == 403
    outcome = story.when("mark_overdue", {"stage": "acknowledge"}, actor=SYSTEM, at=late)
    assert story.then_types(outcome) == ["grievance.overdue"]
    again = story.when("mark_overdue", {"stage": "acknowledge"}, actor=SYSTEM, at=late)
    assert story.refusal(again)[0] == 409
    assert domain.due(story.state(), late) == []


def test_acknowledged_grievance_is_not_overdue_for_acknowledgement() -> None:
    story = at(logged(), ACK)
    assert "acknowledge" not in domain.due_stages(story.state(), T0 + timedelta(days=2))
