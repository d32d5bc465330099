"""Follow-up rules as stories: scheduling, call-backs, checks, overdue, and closing the loop."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts import dispute as d
from contracts import followup as f
from contracts import grievance as g
from contracts import suggestion as s
from contracts.envelope import GENESIS_HASH, Actor, Envelope, seal_envelope
from contracts.registry import REGISTRY, EventPayload, payload_dict
from services.audit.ledger import LogRecord, Position, lineage
from services.common.calendar import end_of_day
from services.common.worker import SourceCase, follow_chain
from services.followup import domain, policies
from services.followup.service import KIND
from tests.unit.stories import T0, Story

FUP = "FUP-TEST00000001"
GRV = "GRV-TEST00000001"
DSP = "DSP-TEST00000001"
UNIT = "demo/co/p01"
SYSTEM = Actor(user_id="system", role="system", unit=UNIT)
OFFICER = Actor(user_id="fup-p01", role="followup_officer", unit=UNIT)
OWNER = Actor(user_id="lead-p01", role="worker_rep", unit=UNIT)
OTHER_REP = Actor(user_id="rep-9", role="worker_rep", unit=UNIT)
SEALED = {"kid": f"CASE-{GRV}", "nonce": "AAAAAAAAAAAAAAAA", "ct": "c2VhbGVk"}
SOURCE = SourceCase(case_id=GRV, unit=UNIT, hashes=["a" * 64])


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


def event(
    payload: EventPayload, case_id: str = GRV, version: int = 2, prev: str = "a" * 64
) -> Envelope:
    return seal_envelope(
        event_type=payload.event_type,
        schema_version=payload.schema_version,
        case_id=case_id,
        case_version=version,
        occurred_at=T0,
        recorded_at=T0,
        actor=OTHER_REP,
        correlation_id=case_id,
        causation_id="test",
        payload=payload_dict(payload),
        prev_hash=prev,
        event_id=uuid.uuid4(),
    )


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
    assert story.when("note_progress", {"note": "已研究"}, actor=OWNER).reply.ok
    assert story.state().status == "in_progress" and story.state().progress_notes == 1
    status, _ = story.refusal(story.when("note_progress", {"note": "x"}, actor=OTHER_REP))
    assert status == 403
    assert story.when("complete", {"note": "已落实"}, actor=OFFICER).reply.ok
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
    body = {"agreement": "breached", "breach_reason": "未按期支付"}
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


# --- policies -------------------------------------------------------------------------------


def test_resolution_schedules_a_call_back_correlated_with_the_grievance() -> None:
    env = event(g.GrievanceResolved(how="on_site", resolution="已整改"))
    [(stream, cmd)] = policies.from_grievance(env, REGISTRY.read(env), SOURCE)
    assert stream == "followup" and cmd.command_type == "schedule"
    assert cmd.case_id == policies.followup_id_for(str(env.event_id), "callback")
    assert cmd.correlation_id == GRV and cmd.causation_id == str(env.event_id)
    assert cmd.payload["unit"] == UNIT and cmd.payload["working_days"] == 3
    again = policies.from_grievance(env, REGISTRY.read(env), SOURCE)
    assert again[0][1] == cmd


def test_escalation_schedules_tracking_by_its_owner_and_other_events_nothing() -> None:
    env = event(g.GrievanceEscalated(owner="lead-p01", due=date(2026, 12, 4)))
    [(_, cmd)] = policies.from_grievance(env, REGISTRY.read(env), SOURCE, lambda _u: 5)
    assert cmd.payload["kind"] == "progress" and cmd.payload["owner"] == "lead-p01"
    ack = event(g.GrievanceAcknowledged())
    assert policies.from_grievance(ack, REGISTRY.read(ack), SOURCE) == []


def test_dispute_events_schedule_checks_and_reminders_correlated_with_the_dispute() -> None:
    source = SourceCase(case_id=DSP, unit=UNIT, hashes=["a" * 64])
    agreed = event(
        d.DisputeAgreementReached(
            terms="分期支付",
            amount_fen=100,
            perform_by=date(2026, 12, 10),
            signed_by=("applicant", "respondent", "mediator"),
        ),
        DSP,
    )
    [(_, check)] = policies.from_dispute(agreed, REGISTRY.read(agreed), source)
    assert check.payload["kind"] == "performance_check" and check.payload["due"] == "2026-12-10"
    assert check.correlation_id == DSP
    failed = event(d.DisputeFailed(reason="未达成", limitation_date=date(2027, 11, 23)), DSP)
    [(_, reminder)] = policies.from_dispute(failed, REGISTRY.read(failed), source)
    assert reminder.payload["kind"] == "limitation_reminder"
    assert reminder.payload["limitation_date"] == "2027-11-23"


def test_call_backs_reopen_or_close_and_a_breach_is_reported_to_mediation() -> None:
    fup_source = SourceCase(case_id=FUP, unit=UNIT, hashes=["a" * 64])
    unhappy = event(f.FollowupContacted(satisfaction="unsatisfied"), FUP)
    unhappy = unhappy.model_copy(update={"correlation_id": GRV})
    [(stream, cmd)] = policies.close_the_loop(unhappy, REGISTRY.read(unhappy), fup_source)
    assert stream == "grievance" and cmd.command_type == "reopen" and cmd.case_id == GRV
    assert cmd.causation_id == str(unhappy.event_id) and FUP in cmd.payload["reason"]
    happy = unhappy.model_copy(
        update={"event_id": uuid.uuid4(), "payload": {"satisfaction": "basically_satisfied"}}
    )
    [(_, close)] = policies.close_the_loop(happy, REGISTRY.read(happy), fup_source)
    assert close.command_type == "close"
    breach = event(
        f.FollowupCompleted(on_time=True, agreement="breached", breach_reason="未付款"), FUP
    ).model_copy(update={"correlation_id": DSP})
    [(stream, report)] = policies.close_the_loop(breach, REGISTRY.read(breach), fup_source)
    assert stream == "dispute" and report.command_type == "record_breach"
    assert report.payload == {"reason": "未付款"} and report.actor.role == "system"


# --- following a source case's chain -------------------------------------------------------


def test_a_source_chain_is_followed_and_repeats_are_skipped() -> None:
    logged = event(
        g.GrievanceLogged(
            unit=UNIT, category="canteen", summary="s", channel="app", anonymous=True
        ),
        version=1,
        prev=GENESIS_HASH,
    )
    opened = follow_chain(None, logged, REGISTRY.read(logged), {"grievance.logged"})
    assert opened is not None and opened.unit == UNIT and opened.version == 1
    acked = event(g.GrievanceAcknowledged(), version=2, prev=logged.hash)
    after = follow_chain(opened, acked, REGISTRY.read(acked), {"grievance.logged"})
    assert after is not None and after.version == 2
    assert follow_chain(after, acked, REGISTRY.read(acked), {"grievance.logged"}) is None


def test_an_event_of_a_case_never_opened_or_off_the_chain_is_refused() -> None:
    ghost = event(g.GrievanceResolved(how="on_site", resolution="x"), version=1, prev=GENESIS_HASH)
    with pytest.raises(LookupError, match="never opened"):
        follow_chain(None, ghost, REGISTRY.read(ghost), {"grievance.logged"})
    skipped = event(g.GrievanceAcknowledged(), version=3)
    with pytest.raises(ValueError, match="does not follow"):
        follow_chain(SOURCE, skipped, REGISTRY.read(skipped), {"grievance.logged"})
    different = event(g.GrievanceAcknowledged(), version=1, prev=GENESIS_HASH)
    with pytest.raises(ValueError, match="differs"):
        follow_chain(SOURCE, different, REGISTRY.read(different), {"grievance.logged"})


def test_a_suggestion_referred_to_leadership_is_tracked_by_its_owner() -> None:
    source = SourceCase(case_id="SUG-TEST00000001", unit=UNIT, hashes=["a" * 64])
    referred = event(
        s.SuggestionReferredToLeadership(owner="lead-p01", due=date(2026, 12, 18)),
        "SUG-TEST00000001",
    )
    [(_, cmd)] = policies.from_suggestion(referred, REGISTRY.read(referred), source)
    assert cmd.payload["kind"] == "progress" and cmd.payload["owner"] == "lead-p01"
    assert cmd.payload["due"] == "2026-12-18" and cmd.correlation_id == "SUG-TEST00000001"


def test_lineage_links_a_grievance_its_follow_ups_and_its_dispute() -> None:
    logged = event(
        g.GrievanceLogged(unit=UNIT, category="wages", summary="s", channel="app", anonymous=True),
        version=1,
        prev=GENESIS_HASH,
    )
    applied = event(
        d.DisputeApplied(
            unit=UNIT,
            form="referral",
            category="remuneration",
            acceptance_due=date(2026, 11, 26),
            grievance_id=GRV,
        ),
        DSP,
        version=1,
        prev=GENESIS_HASH,
    )
    check = event(
        f.FollowupScheduled(
            kind="performance_check",
            unit=UNIT,
            source_case_id=DSP,
            source_event_id="x",
            due=date(2026, 12, 10),
        ),
        FUP,
        version=1,
        prev=GENESIS_HASH,
    ).model_copy(update={"correlation_id": DSP})
    stranger = event(
        g.GrievanceLogged(unit=UNIT, category="wages", summary="s", channel="app", anonymous=True),
        "GRV-OTHER0000001",
        version=1,
        prev=GENESIS_HASH,
    )
    records = [
        LogRecord(Position("t", 0, i), env.case_id, env.to_bytes())
        for i, env in enumerate([logged, applied, check, stranger])
    ]
    assert list(lineage(records, GRV)) == [GRV, DSP, FUP]
    assert set(lineage(records, FUP)) == {GRV, DSP, FUP}
    assert list(lineage(records, "GRV-OTHER0000001")) == ["GRV-OTHER0000001"]
