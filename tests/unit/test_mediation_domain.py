"""Dispute mediation rules as stories: the mediator, sessions, outcomes, referral, refusals."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts.envelope import Actor
from contracts.personal import Sealed
from contracts.registry import REGISTRY
from services.common.decider import Head, process
from services.intake.domain import Grievance
from services.intake.service import KIND as GRIEVANCE
from services.mediation import domain
from services.mediation.policies import dispute_id_for_referral, open_from_grievance
from services.mediation.service import KIND
from tests.unit.dispute_stories import (
    AGREEMENT,
    CHAIR,
    MEDIATOR,
    OTHER_MEDIATOR,
    OTHER_REP,
    SEALED,
    SIGNED,
    SYSTEM,
    accepted,
    agreed,
    applied,
    mediating,
    shanghai,
)
from tests.unit.stories import Story

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


def test_another_mediator_is_refused_case_work_whatever_the_state() -> None:
    story = agreed()
    # The dispute has an agreement: its mediator hears the state, another mediator is refused.
    assert story.refusal(story.when("fail", {"reason": SEALED}, actor=MEDIATOR))[0] == 409
    other = story.when("fail", {"reason": SEALED}, actor=OTHER_MEDIATOR)
    assert story.refusal(other)[0] == 403


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
    outcome = story.when("fail", {"reason": SEALED}, actor=MEDIATOR)
    assert story.then_types(outcome) == ["dispute.failed"]
    assert outcome.events[0].payload["limitation_date"] == "2027-11-23"
    assert story.state().may_apply_for_arbitration and story.state().outcome_reason == Sealed(
        **SEALED
    )


def test_limitation_date_never_moves_earlier() -> None:
    story = mediating()
    story.when("fail", {"reason": SEALED}, actor=MEDIATOR)
    limitation = story.state().limitation_date
    assert limitation is not None and limitation >= date(2027, 11, 1)


def test_declined_with_a_reason_the_worker_can_read() -> None:
    story = applied()
    outcome = story.when("decline", {"code": "out_of_scope", "reason": SEALED}, actor=CHAIR)
    assert story.then_types(outcome) == ["dispute.declined"]
    assert story.state().outcome_reason == Sealed(**SEALED)
    assert story.refusal(story.when("accept", {}, actor=CHAIR))[0] == 409


@pytest.mark.parametrize(
    ("command_type", "payload"),
    [
        ("record_session", {"held_on": "2026-11-23", "attendees": ["x"], "minutes": SEALED}),
        ("record_agreement", {**AGREEMENT, "signed_by": SIGNED}),
        ("record_performance", {}),
        ("record_breach", {"reason": "x"}),
        ("fail", {"reason": SEALED}),
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
        "summary": SEALED,
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
