"""Follow-up rules as stories: scheduling, call-backs, checks, overdue and the statistics."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts import followup as f
from contracts.envelope import Actor
from services.common.calendar import end_of_day
from services.followup import domain
from services.followup.service import KIND
from tests.unit.stories import Story

FUP = "FUP-TEST00000001"
GRV = "GRV-TEST00000001"
DSP = "DSP-TEST00000001"
UNIT = "demo/co/p01"
SYSTEM = Actor(user_id="system", role="system", unit=UNIT)
OFFICER = Actor(user_id="fup-p01", role="followup_officer", unit=UNIT)
OWNER = Actor(user_id="lead-p01", role="worker_rep", unit=UNIT)
OTHER_REP = Actor(user_id="rep-9", role="worker_rep", unit=UNIT)
SEALED = {"kid": f"CASE-{GRV}", "nonce": "AAAAAAAAAAAAAAAA", "ct": "c2VhbGVk"}


def shanghai(day: date, hour: int = 9) -> datetime:
    """A moment on a day in China, as UTC."""
    return datetime(day.year, day.month, day.day, hour - 8, 0, tzinfo=UTC)


def schedule(kind: f.FollowupKind = "callback", **over: Any) -> Story[domain.Followup]:
    story = Story(KIND, FUP)
    body: dict[str, Any] = {
        "kind": kind,
        "unit": UNIT,
        "source_case_id": GRV,
        "source_event_id": str(uuid.uuid4()),
        **over,
    }
    outcome = story.when("schedule", body, actor=SYSTEM)
    assert outcome.reply.ok, outcome.reply
    return story


# --- scheduling ---------------------------------------------------------------


def test_call_back_is_due_three_working_days_after_the_resolution() -> None:
    story = schedule()
    assert story.state().status == "open" and story.state().kind == "callback"
    # Monday 23 Nov 2026 + 3 working days.
    assert story.state().due == date(2026, 11, 26)
    assert story.events[0].actor.role == "system"


def test_call_back_days_follow_the_unit_setting_and_skip_the_weekend() -> None:
    story = schedule(working_days=5)
    assert story.state().due == date(2026, 11, 30)


def test_progress_tracking_keeps_the_named_owner_and_the_given_date() -> None:
    story = schedule("progress", owner="lead-p01", due="2026-12-04")
    assert story.state().owner == "lead-p01" and story.state().due == date(2026, 12, 4)


def test_progress_tracking_needs_an_owner_and_a_due_date() -> None:
    story = Story(KIND, FUP)
    body = {"kind": "progress", "unit": UNIT, "source_case_id": GRV, "source_event_id": "x"}
    assert story.refusal(story.when("schedule", body, actor=SYSTEM))[0] == 422
    with_due = {**body, "due": "2026-12-04"}
    status, detail = story.refusal(story.when("schedule", with_due, actor=SYSTEM))
    assert status == 422 and "owner" in detail


def test_limitation_reminder_is_due_a_month_before_the_date_or_at_once() -> None:
    story = schedule("limitation_reminder", source_case_id=DSP, limitation_date="2027-12-01")
    assert story.state().due == date(2027, 11, 1)
    soon = schedule("limitation_reminder", source_case_id=DSP, limitation_date="2026-12-01")
    assert soon.state().due == date(2026, 11, 23)


def test_only_the_system_schedules_and_only_once() -> None:
    story = Story(KIND, FUP)
    body = {"kind": "callback", "unit": UNIT, "source_case_id": GRV, "source_event_id": "x"}
    assert story.refusal(story.when("schedule", body, actor=OFFICER))[0] == 403
    again = schedule()
    status, detail = again.refusal(again.when("schedule", body, actor=SYSTEM))
    assert status == 409 and "already scheduled" in detail


def test_a_redelivered_schedule_is_answered_not_decided_again() -> None:
    story = Story(KIND, FUP)
    body = {"kind": "callback", "unit": UNIT, "source_case_id": GRV, "source_event_id": "x"}
    first = story.when("schedule", body, actor=SYSTEM, command_id="reaction-1")
    second = story.when("schedule", body, actor=SYSTEM, command_id="reaction-1")
    assert second.events == [] and second.reply == first.reply
    assert story.head.version == 1


# --- call-backs -----------------------------------------------------------------


def test_call_back_records_satisfaction_and_completes_on_time() -> None:
    story = schedule()
    outcome = story.when(
        "contact", {"satisfaction": "unsatisfied", "comment": SEALED}, actor=OFFICER
    )
    assert story.then_types(outcome) == ["followup.contacted", "followup.completed"]
    assert story.state().status == "completed" and story.state().on_time is True
    assert story.state().satisfaction == "unsatisfied"


def test_call_back_after_its_due_date_is_late() -> None:
    story = schedule()
    late = shanghai(date(2026, 11, 27))
    story.when("contact", {"satisfaction": "satisfied"}, actor=OFFICER, at=late)
    assert story.state().on_time is False


@pytest.mark.parametrize("satisfaction", ["happy", "", "SATISFIED"])
def test_satisfaction_outside_the_scale_is_invalid(satisfaction: str) -> None:
    story = schedule()
    status, _ = story.refusal(story.when("contact", {"satisfaction": satisfaction}, actor=OFFICER))
    assert status == 422 and story.head.version == 1


def test_no_call_back_on_a_completed_follow_up() -> None:
    story = schedule()
    story.when("contact", {"satisfaction": "satisfied"}, actor=OFFICER)
    status, detail = story.refusal(
        story.when("contact", {"satisfaction": "unsatisfied"}, actor=OFFICER)
    )
    assert status == 409 and "already completed" in detail


def test_a_call_back_is_completed_by_the_call_and_only_a_call_back_records_one() -> None:
    story = schedule()
    status, detail = story.refusal(story.when("complete", {}, actor=OFFICER))
    assert status == 409 and "contact" in detail
    tracking = schedule("progress", owner="lead-p01", due="2026-12-04")
    outcome = tracking.when("contact", {"satisfaction": "satisfied"}, actor=OFFICER)
    assert tracking.refusal(outcome)[0] == 422


def test_the_owner_or_an_officer_works_on_it_and_no_one_else() -> None:
    story = schedule("progress", owner="lead-p01", due="2026-12-04")
    assert story.when("note_progress", {"note": SEALED}, actor=OWNER).reply.ok
    assert story.state().status == "in_progress" and story.state().progress_notes == 1
    status, _ = story.refusal(story.when("note_progress", {"note": SEALED}, actor=OTHER_REP))
    assert status == 403
    assert story.when("complete", {"note": SEALED}, actor=OFFICER).reply.ok
    assert story.state().status == "completed"


def test_an_officer_of_another_unit_finds_nothing() -> None:
    story = schedule()
    stranger = Actor(user_id="fup-p02", role="followup_officer", unit="demo/co/p02")
    outcome = story.when("contact", {"satisfaction": "satisfied"}, actor=stranger)
    assert story.refusal(outcome)[0] == 404


# --- performance checks -----------------------------------------------------------


def test_performance_check_finds_the_agreement_performed_or_breached() -> None:
    story = schedule("performance_check", source_case_id=DSP, due="2026-12-10")
    assert story.refusal(story.when("complete", {}, actor=OFFICER))[0] == 422
    no_reason = story.when("complete", {"agreement": "breached"}, actor=OFFICER)
    assert "breach_reason" in story.refusal(no_reason)[1]
    body = {"agreement": "breached", "breach_reason": SEALED}
    assert story.when("complete", body, actor=OFFICER).reply.ok
    assert story.state().agreement == "breached"


def test_only_a_performance_check_finds_an_agreement() -> None:
    story = schedule("progress", owner="lead-p01", due="2026-12-04")
    outcome = story.when("complete", {"agreement": "performed"}, actor=OFFICER)
    assert story.refusal(outcome)[0] == 422


# --- overdue ------------------------------------------------------------------------


def test_overdue_once_the_due_day_has_ended_and_only_once() -> None:
    story = schedule("progress", owner="lead-p01", due="2026-11-24")
    assert domain.due(story.state(), end_of_day(date(2026, 11, 24)) - timedelta(seconds=1)) == []
    after = end_of_day(date(2026, 11, 24))
    assert domain.due(story.state(), after) == [("mark_overdue", {})]
    outcome = story.when("mark_overdue", {}, actor=SYSTEM, at=after)
    assert story.then_types(outcome) == ["followup.overdue"]
    assert story.state().overdue == (date(2026, 11, 24),)
    assert domain.due(story.state(), after + timedelta(days=3)) == []
    again = story.when("mark_overdue", {}, actor=SYSTEM, at=after + timedelta(minutes=5))
    assert story.refusal(again)[0] == 409


def test_early_overdue_is_refused_and_a_completed_one_never_turns_overdue() -> None:
    story = schedule("progress", owner="lead-p01", due="2026-11-24")
    assert story.refusal(story.when("mark_overdue", {}, actor=SYSTEM))[0] == 409
    story.when("complete", {}, actor=OFFICER)
    assert domain.due(story.state(), end_of_day(date(2026, 12, 24))) == []


# --- statistics -------------------------------------------------------------------------


def test_statistics_give_closure_on_time_and_satisfaction_rates() -> None:
    happy, cross, late, open_ = schedule(), schedule(), schedule(), schedule()
    happy.when("contact", {"satisfaction": "satisfied"}, actor=OFFICER)
    cross.when("contact", {"satisfaction": "unsatisfied"}, actor=OFFICER)
    late.when(
        "contact",
        {"satisfaction": "basically_satisfied"},
        actor=OFFICER,
        at=shanghai(date(2026, 12, 1)),
    )
    stats = domain.statistics([s.state() for s in (happy, cross, late, open_)])
    assert stats["followups"] == 4 and stats["completed"] == 3 and stats["open"] == 1
    assert stats["closure_rate"] == 0.75
    assert stats["on_time_rate"] == round(2 / 3, 4)
    assert stats["satisfaction_rate"] == round(2 / 3, 4)
    assert domain.statistics([])["closure_rate"] is None
