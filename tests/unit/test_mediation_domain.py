"""Dispute mediation rules as stories: the legal clocks at their boundaries, and every refusal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts.envelope import Actor
from contracts.registry import REGISTRY
from services.common.calendar import end_of_day
from services.common.decider import Head, process
from services.intake.domain import Grievance
from services.intake.service import KIND as GRIEVANCE
from services.mediation import domain
from services.mediation.policies import dispute_id_for_referral, open_from_grievance
from services.mediation.service import KIND
from tests.unit.stories import T0, Story, command

SEALED = {"kid": "PER-0123456789abcdef0123", "nonce": "AAAAAAAAAAAAAAAA", "ct": "c2VhbGVk"}
PERSON = {"person_id": "PER-0123456789abcdef0123", "name": SEALED, "phone": SEALED}
CHAIR = Actor(user_id="chair-co", role="union_chair", unit="demo/co")
MEDIATOR = Actor(user_id="med-1", role="mediator", unit="demo/co")
OTHER_MEDIATOR = Actor(user_id="med-2", role="mediator", unit="demo/co")
SYSTEM = Actor(user_id="system", role="system", unit="demo/co/p01")
OTHER_REP = Actor(user_id="rep-p02", role="worker_rep", unit="demo/co/p02")


def shanghai(day: date, hour: int = 9) -> datetime:
    """A moment on a day in China, as UTC."""
    return datetime(day.year, day.month, day.day, hour - 8, 0, tzinfo=UTC)


def application(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "unit": "demo/co/p01",
        "form": "written",
        "applicant": PERSON,
        "respondent": {"employer": "演示建设集团有限公司", "management": ["pm-p01"]},
        "category": "remuneration",
        "matters": SEALED,
        "reasons": SEALED,
        "claims": [{"description": "拖欠十月工资", "amount_fen": 1_250_000}],
        "known_since": "2026-10-31",
    }
    return {**body, **over}


def applied(on: date = date(2026, 11, 23), **over: Any) -> Story[domain.Dispute]:
    story = Story(KIND, "DSP-TEST00000001")
    story.clock = shanghai(on)
    outcome = story.when("apply", application(**over))
    assert outcome.reply.ok, outcome.reply
    return story


def accepted(on: date = date(2026, 11, 23)) -> Story[domain.Dispute]:
    story = applied(on)
    assert story.when("accept", {}, actor=CHAIR).reply.ok
    return story


def mediating(on: date = date(2026, 11, 23)) -> Story[domain.Dispute]:
    story = accepted(on)
    assert story.when("assign", {"mediator": "med-1"}, actor=CHAIR).reply.ok
    return story


SIGNED = ["applicant", "respondent", "mediator"]
AGREEMENT = {"terms": "公司支付工资", "amount_fen": 1_250_000, "perform_by": "2026-12-10"}


def agreed() -> Story[domain.Dispute]:
    story = mediating()
    outcome = story.when("record_agreement", {**AGREEMENT, "signed_by": SIGNED}, actor=MEDIATOR)
    assert outcome.reply.ok, outcome.reply
    return story


# --- the application and the 3-working-day acceptance clock ----------------


def test_application_records_acceptance_due_and_limitation_date() -> None:
    story = Story(KIND, "DSP-TEST00000001")
    outcome = story.when("apply", application())
    assert story.then_types(outcome) == ["dispute.applied"]
    payload = outcome.events[0].payload
    # Applied Monday 23 Nov 2026: 3 working days → Thursday 26 Nov.
    assert payload["acceptance_due"] == "2026-11-26"
    # Knew on 31 Oct 2026: one year → 31 Oct 2027 is a Sunday, so Monday 1 Nov 2027.
    assert payload["limitation_date"] == "2027-11-01"
    assert payload["claimed_fen"] == 1_250_000
    assert story.state().status == "applied" and story.state().deadline == date(2026, 11, 26)


def test_acceptance_due_skips_the_weekend() -> None:
    # Thursday 26 Nov + 3 working days: Fri 27, Mon 30, Tue 1 Dec.
    story = applied(date(2026, 11, 26))
    assert story.state().acceptance_due == date(2026, 12, 1)


def test_acceptance_due_skips_the_national_day_holiday() -> None:
    # Tuesday 29 Sep 2026 + 3 working days: 30 Sep, then 8 and 9 Oct after Golden Week.
    story = applied(date(2026, 9, 29), known_since="2026-09-01")
    assert story.state().acceptance_due == date(2026, 10, 9)


def test_acceptance_overdue_is_due_only_after_the_last_day_ends() -> None:
    story = applied()
    last_day = date(2026, 11, 26)
    assert KIND.due(story.state(), end_of_day(last_day) - timedelta(seconds=1)) == []
    assert KIND.due(story.state(), end_of_day(last_day)) == [("mark_acceptance_overdue", {})]


def test_timer_records_acceptance_overdue_once_and_opens_arbitration() -> None:
    story = applied()
    late = end_of_day(date(2026, 11, 26))
    outcome = story.when("mark_acceptance_overdue", {}, actor=SYSTEM, at=late)
    assert story.then_types(outcome) == ["dispute.acceptance_overdue"]
    assert story.state().acceptance_overdue and story.state().may_apply_for_arbitration
    assert KIND.due(story.state(), late + timedelta(days=3)) == []
    again = story.when("mark_acceptance_overdue", {}, actor=SYSTEM, at=late + timedelta(hours=1))
    assert story.refusal(again)[0] == 409


def test_acceptance_overdue_before_its_time_is_refused() -> None:
    story = applied()
    early = story.when("mark_acceptance_overdue", {}, actor=SYSTEM)
    assert story.refusal(early) == (409, "the acceptance of DSP-TEST00000001 is not overdue")


def test_oral_application_is_recorded_on_the_spot() -> None:
    story = Story(KIND, "DSP-TEST00000001")
    moment = T0 + timedelta(minutes=1)
    outcome = story.when("apply", application(form="oral", oral_recorded_at=moment.isoformat()))
    assert outcome.reply.ok
    assert outcome.events[0].payload["oral_recorded_at"] == "2026-11-23T01:01:00Z"


@pytest.mark.parametrize(
    ("label", "over", "status", "mentions"),
    [
        ("no matters", {"matters": None}, 422, "matters"),
        ("no claims", {"claims": []}, 422, "claim"),
        ("no known_since", {"known_since": None}, 422, "knew"),
        ("known_since in the future", {"known_since": "2026-11-24"}, 422, "future"),
        ("oral without a record time", {"form": "oral"}, 422, "on the spot"),
        (
            "oral recorded another day",
            {"form": "oral", "oral_recorded_at": "2026-11-20T01:00:00Z"},
            422,
            "on the day",
        ),
        (
            "written with an oral record time",
            {"oral_recorded_at": "2026-11-23T01:00:00Z"},
            422,
            "written",
        ),
        ("negative amount", {"claims": [{"description": "x", "amount_fen": -1}]}, 422, "amount"),
        (
            "absurd amount",
            {"claims": [{"description": "x", "amount_fen": 10**12}]},
            422,
            "amount",
        ),
        ("category outside Art. 2", {"category": "canteen"}, 422, "category"),
        ("unit outside the rep's", {"unit": "demo/co/p02"}, 403, "outside"),
        ("accepted on receipt by a rep", {"accept_on_receipt": True}, 403, "committee"),
    ],
)
def test_bad_applications_are_refused_and_write_nothing(
    label: str, over: dict[str, Any], status: int, mentions: str
) -> None:
    story = Story(KIND, "DSP-TEST00000001")
    outcome = story.when("apply", application(**over))
    code, detail = story.refusal(outcome)
    assert code == status and mentions in detail, detail
    assert outcome.events == [] and story.head.version == 0


def test_application_dated_in_the_future_is_refused() -> None:
    meta = command("DSP-TEST00000002", "apply", application(), at=T0).model_copy(
        update={"occurred_at": T0 + timedelta(days=1)}
    )
    future = process(KIND, Head(), meta)
    assert future.events == [] and future.reply.refusal is not None
    assert future.reply.refusal.status == 422 and "future" in future.reply.refusal.detail


def test_applying_twice_is_refused() -> None:
    story = applied()
    assert story.refusal(story.when("apply", application()))[0] == 409


def test_committee_accepts_on_receipt() -> None:
    story = Story(KIND, "DSP-TEST00000001")
    outcome = story.when("apply", application(accept_on_receipt=True), actor=CHAIR)
    assert story.then_types(outcome) == ["dispute.applied", "dispute.accepted"]
    assert story.state().status == "accepted" and story.state().deadline == date(2026, 12, 8)


# --- the 15-day mediation clock and its one extension -----------------------


def test_acceptance_starts_the_fifteen_day_clock() -> None:
    story = accepted()
    # Accepted Monday 23 Nov: day 15 is Tuesday 8 Dec, a working day.
    assert story.state().mediation_deadline == date(2026, 12, 8)
    assert story.state().deadline == date(2026, 12, 8)


def test_day_fifteen_on_a_rest_day_moves_to_the_next_working_day() -> None:
    # Accepted Friday 27 Nov: day 15 is Saturday 12 Dec → Monday 14 Dec.
    story = accepted(date(2026, 11, 27))
    assert story.state().mediation_deadline == date(2026, 12, 14)


def test_deadline_passed_is_due_only_after_day_fifteen_ends() -> None:
    story = mediating()
    assert KIND.due(story.state(), end_of_day(date(2026, 12, 8)) - timedelta(seconds=1)) == []
    assert KIND.due(story.state(), end_of_day(date(2026, 12, 8))) == [("mark_deadline_passed", {})]


def test_timer_records_deadline_passed_with_the_limitation_date() -> None:
    story = mediating()
    outcome = story.when("mark_deadline_passed", {}, actor=SYSTEM, at=end_of_day(date(2026, 12, 8)))
    assert story.then_types(outcome) == ["dispute.deadline_passed"]
    assert outcome.events[0].payload == {
        "deadline": "2026-12-08",
        # Interrupted by the application, the year is counted again from the deadline.
        "limitation_date": "2027-12-08",
    }
    assert story.state().status == "deadline_passed" and story.state().may_apply_for_arbitration
    assert story.state().deadline is None


def test_deadline_passed_before_its_time_is_refused() -> None:
    story = mediating()
    early = story.when("mark_deadline_passed", {}, actor=SYSTEM, at=shanghai(date(2026, 12, 8)))
    assert story.refusal(early)[0] == 409


def test_one_extension_of_at_most_fifteen_days_with_both_parties_consent() -> None:
    story = mediating()
    outcome = story.when(
        "extend", {"days": 15, "consent": ["applicant", "respondent"]}, actor=MEDIATOR
    )
    assert story.then_types(outcome) == ["dispute.extended"]
    # 30 days from Monday 23 Nov is Wednesday 23 Dec.
    assert outcome.events[0].payload["mediation_deadline"] == "2026-12-23"
    assert story.state().deadline == date(2026, 12, 23)
    second = story.when("extend", {"days": 1, "consent": ["applicant", "respondent"]}, actor=CHAIR)
    assert story.refusal(second) == (
        409,
        "the mediation period of DSP-TEST00000001 was already extended once",
    )


def test_extension_over_fifteen_days_is_a_conflict() -> None:
    story = mediating()
    outcome = story.when(
        "extend", {"days": 16, "consent": ["applicant", "respondent"]}, actor=MEDIATOR
    )
    assert story.refusal(outcome) == (409, "an extension is at most 15 days, not 16")


def test_extension_without_both_parties_is_refused() -> None:
    story = mediating()
    outcome = story.when("extend", {"days": 5, "consent": ["applicant"]}, actor=MEDIATOR)
    assert story.refusal(outcome) == (
        422,
        "an extension needs both parties' consent; missing: respondent",
    )


def test_extension_after_the_period_ended_is_refused() -> None:
    story = mediating()
    late = shanghai(date(2026, 12, 9))
    outcome = story.when(
        "extend", {"days": 5, "consent": ["applicant", "respondent"]}, actor=MEDIATOR, at=late
    )
    code, detail = story.refusal(outcome)
    assert code == 409 and "ended on 2026-12-08" in detail


# --- mediator, sessions, outcome --------------------------------------------


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"mediator": "pm-p01"}, "respondent's management"),
        ({"mediator": "med-9", "relation": "applicant"}, "applicant must step aside"),
        ({"mediator": "med-9", "relation": "respondent_management"}, "must step aside"),
    ],
)
def test_a_mediator_tied_to_a_party_is_refused(body: dict[str, Any], mentions: str) -> None:
    story = accepted()
    code, detail = story.refusal(story.when("assign", body, actor=CHAIR))
    assert code == 409 and mentions in detail


def test_only_the_chair_assigns() -> None:
    story = accepted()
    code, _ = story.refusal(story.when("assign", {"mediator": "med-1"}, actor=MEDIATOR))
    assert code == 403


def test_sessions_are_kept_by_the_assigned_mediator_only() -> None:
    story = mediating()
    session = {"held_on": "2026-11-24", "attendees": ["applicant", "respondent"], "minutes": SEALED}
    ok = story.when("record_session", session, actor=MEDIATOR, at=shanghai(date(2026, 11, 24)))
    assert ok.reply.ok
    assert story.state().sessions == 1
    other = story.when(
        "record_session", session, actor=OTHER_MEDIATOR, at=shanghai(date(2026, 11, 24), 10)
    )
    assert story.refusal(other)[0] == 403
    future = story.when(
        "record_session",
        {**session, "held_on": "2026-11-30"},
        actor=MEDIATOR,
        at=shanghai(date(2026, 11, 24), 11),
    )
    assert story.refusal(future)[0] == 422


def test_agreement_needs_every_signature() -> None:
    story = mediating()
    outcome = story.when(
        "record_agreement", {**AGREEMENT, "signed_by": ["applicant", "mediator"]}, actor=MEDIATOR
    )
    assert story.refusal(outcome) == (
        422,
        "an agreement binds only when signed by both parties and the mediator; missing: respondent",
    )


def test_agreement_with_a_past_performance_deadline_is_refused() -> None:
    story = mediating()
    outcome = story.when(
        "record_agreement",
        {**AGREEMENT, "perform_by": "2026-11-01", "signed_by": SIGNED},
        actor=MEDIATOR,
    )
    assert story.refusal(outcome)[0] == 422


def test_agreement_performed() -> None:
    story = agreed()
    assert story.state().status == "agreement_reached" and story.state().deadline is None
    outcome = story.when("record_performance", {})
    assert story.then_types(outcome) == ["dispute.performed"]
    assert story.state().status == "performed" and not story.state().may_apply_for_arbitration
    assert story.refusal(story.when("refer_to_arbitration", {}))[0] == 409


def test_breach_opens_arbitration_and_a_payment_order_for_wages() -> None:
    story = agreed()
    story.clock = shanghai(date(2026, 12, 11))
    outcome = story.when("record_breach", {"reason": "逾期未付"})
    assert outcome.events[0].payload == {
        "reason": "逾期未付",
        "limitation_date": "2027-12-13",  # 11 Dec 2027 is a Saturday
        "payment_order_available": True,
    }
    assert story.state().may_apply_for_arbitration
    assert story.then_types(story.when("refer_to_arbitration", {"commission": "盐田区仲裁委"})) == [
        "dispute.referred_to_arbitration"
    ]
    assert story.state().status == "referred_to_arbitration"


def test_failure_with_reason_opens_arbitration() -> None:
    story = mediating()
    outcome = story.when("fail", {"reason": "双方分歧过大"}, actor=MEDIATOR)
    assert story.then_types(outcome) == ["dispute.failed"]
    assert outcome.events[0].payload["limitation_date"] == "2027-11-23"
    assert (
        story.state().may_apply_for_arbitration and story.state().outcome_reason == "双方分歧过大"
    )


def test_limitation_date_never_moves_earlier() -> None:
    story = mediating()
    story.when("fail", {"reason": "x"}, actor=MEDIATOR)
    limitation = story.state().limitation_date
    assert limitation is not None and limitation >= date(2027, 11, 1)


def test_declined_with_a_reason_the_worker_can_read() -> None:
    story = applied()
    outcome = story.when(
        "decline", {"code": "out_of_scope", "reason": "该事项不属于劳动争议"}, actor=CHAIR
    )
    assert story.then_types(outcome) == ["dispute.declined"]
    assert story.state().outcome_reason == "该事项不属于劳动争议"
    assert story.refusal(story.when("accept", {}, actor=CHAIR))[0] == 409


@pytest.mark.parametrize(
    ("command_type", "payload"),
    [
        ("record_session", {"held_on": "2026-11-23", "attendees": ["x"], "minutes": SEALED}),
        ("record_agreement", {**AGREEMENT, "signed_by": SIGNED}),
        ("record_performance", {}),
        ("record_breach", {"reason": "x"}),
        ("fail", {"reason": "x"}),
        ("assign", {"mediator": "med-1"}),
        ("extend", {"days": 1, "consent": ["applicant", "respondent"]}),
    ],
)
def test_steps_out_of_order_are_conflicts(command_type: str, payload: dict[str, Any]) -> None:
    story = applied()
    code, detail = story.refusal(story.when(command_type, payload, actor=CHAIR))
    assert code == 409 and "it is applied" in detail


def test_refer_to_arbitration_waits_for_the_committee() -> None:
    story = applied()
    code, detail = story.refusal(story.when("refer_to_arbitration", {}))
    assert code == 409 and "awaits the committee's decision until 2026-11-26" in detail


def test_roles_are_enforced() -> None:
    story = applied()
    assert story.refusal(story.when("accept", {}))[0] == 403  # a rep does not accept
    assert story.refusal(story.when("mark_deadline_passed", {}, actor=CHAIR))[0] == 403


def test_other_units_cannot_touch_the_case() -> None:
    story = applied()
    assert story.refusal(story.when("refer_to_arbitration", {}, actor=OTHER_REP))[0] == 404


# --- from a grievance ---------------------------------------------------------


def referred_grievance() -> Story[Grievance]:
    story = Story(GRIEVANCE, "GRV-TEST00000001")
    log = {
        "unit": "demo/co/p01",
        "category": "wages",
        "summary": "工资拖欠",
        "channel": "in_person",
        "anonymous": True,
    }
    steps: list[tuple[str, dict[str, Any]]] = [
        ("log", log),
        ("acknowledge", {}),
        ("refer_to_mediation", {"dispute_category": "remuneration"}),
    ]
    for command_type, payload in steps:
        assert story.when(command_type, payload).reply.ok
    return story


def test_referral_opens_one_dispute_correlated_with_the_grievance() -> None:
    grievance = referred_grievance()
    referral = grievance.events[-1]
    assert referral.payload["unit"] == "demo/co/p01"
    commands = open_from_grievance(referral, REGISTRY.read(referral))
    assert len(commands) == 1
    stream, meta = commands[0]
    assert stream == "dispute" and meta.correlation_id == "GRV-TEST00000001"
    assert meta.case_id == dispute_id_for_referral(str(referral.event_id))
    assert open_from_grievance(referral, REGISTRY.read(referral))[0][1] == meta  # redelivery
    outcome = process(KIND, Head(), meta)
    assert [e.event_type for e in outcome.events] == ["dispute.applied"]
    assert outcome.events[0].correlation_id == "GRV-TEST00000001"
    state = KIND.replay(outcome.events)
    assert isinstance(state, domain.Dispute)
    assert state.form == "referral" and state.grievance_id == referral.case_id
    again = process(KIND, outcome.head, meta)
    assert again.events == [] and again.reply == outcome.reply


def test_referred_dispute_is_accepted_with_the_missing_date() -> None:
    story = Story(KIND, "DSP-TEST00000009")
    referral = {"grievance_id": "GRV-TEST00000001", "unit": "demo/co/p01", "category": "severance"}
    assert story.when("open_from_grievance", referral, actor=SYSTEM).reply.ok
    missing = story.when("accept", {}, actor=CHAIR)
    assert story.refusal(missing)[0] == 422
    outcome = story.when("accept", {"known_since": "2026-11-02"}, actor=CHAIR)
    assert outcome.events[0].payload["limitation_date"] == "2027-11-02"
    assert story.state().known_since == date(2026, 11, 2)


def test_grievance_names_its_dispute_once() -> None:
    story = referred_grievance()
    system = Actor(user_id="system", role="system", unit="demo/co/p01")
    first = story.when("link_dispute", {"dispute_id": "DSP-ABCDEF123456"}, actor=system)
    assert story.then_types(first) == ["grievance.dispute_linked"]
    assert story.state().dispute_id == "DSP-ABCDEF123456"
    assert story.state().status == "referred_to_mediation"
    second = story.when("link_dispute", {"dispute_id": "DSP-ZZZZZZ123456"}, actor=system)
    assert story.refusal(second)[0] == 409
    by_rep = Story(GRIEVANCE, "GRV-TEST00000001")
    by_rep.head = story.head
    assert by_rep.refusal(by_rep.when("link_dispute", {"dispute_id": "DSP-ABCDEF123456"}))[0] == 403


def test_one_year_after_handles_leap_day() -> None:
    # 29 Feb 2028 + 1 year → 28 Feb 2029 (a Wednesday).
    assert domain.one_year_after(date(2028, 2, 29)) == date(2029, 2, 28)
