"""Who is told what, and when: reminders counted back in working days, met deadlines cancelled."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from contracts import dispute as d
from contracts import followup as f
from contracts import grievance as g
from contracts.envelope import Actor, Envelope, seal_envelope
from contracts.personal import Sealed, SealedPerson
from contracts.registry import REGISTRY, EventPayload, payload_dict
from services.common.calendar import OFFICIAL, SHANGHAI
from services.notify import policies
from services.notify.directory import Directory, Leads, Person
from services.notify.rules import Matter, Rules, Tell, Withdraw, reminder_id
from services.notify.timing import in_quiet_hours, quiet_until, reminder_at, working_days_before

UNIT = "demo/co/p01"
DSP = "DSP-TEST00000001"
GRV = "GRV-TEST00000001"
REP = Actor(user_id="rep-p01", role="worker_rep", unit=UNIT)
# Friday 26 September 2025, 10:00 in Shanghai: the National Day holiday runs 1-8 October.
FRIDAY = datetime(2025, 9, 26, 2, 0, tzinfo=UTC)
DIRECTORY = Directory(
    people=(
        Person(id="chair-p01", role="union_chair", unit=UNIT, email="c@union.example"),
        Person(id="chair-co", role="union_chair", unit="demo/co", email="cc@union.example"),
        Person(id="med-1", role="mediator", unit="demo/co", email="m@union.example"),
        Person(id="fup-1", role="followup_officer", unit="demo/co", language="en"),
    ),
    leads={"demo": Leads(acceptance=1, mediation=3, owner=2, callback=1)},
)
RULES = Rules(DIRECTORY)
PHONE = Sealed(kid="PER-worker0001", nonce="A" * 16, ct="phone")
WORKER = SealedPerson(
    person_id="PER-worker0001",
    name=Sealed(kid="PER-worker0001", nonce="B" * 16, ct="n"),
    phone=PHONE,
)


def event(payload: EventPayload, case_id: str = DSP, at: datetime = FRIDAY) -> Envelope:
    return seal_envelope(
        event_type=payload.event_type,
        schema_version=payload.schema_version,
        case_id=case_id,
        case_version=1,
        occurred_at=at,
        recorded_at=at,
        actor=REP,
        correlation_id=case_id,
        causation_id="test",
        payload=payload_dict(payload),
        prev_hash="0" * 64,
        event_id=uuid.uuid4(),
    )


def react(matter: Matter | None, payload: EventPayload, case_id: str = DSP, at: datetime = FRIDAY):  # type: ignore[no-untyped-def]
    env = event(payload, case_id, at)
    return RULES.react(matter, env, REGISTRY.read(env))


def applied(due: date) -> d.DisputeApplied:
    return d.DisputeApplied(unit=UNIT, form="oral", category="remuneration", acceptance_due=due)


def test_working_days_are_counted_back_over_the_holiday_and_the_working_sunday() -> None:
    assert working_days_before(date(2025, 10, 11), 3) == date(2025, 9, 30)
    assert working_days_before(date(2025, 10, 9), 1) == date(2025, 9, 30)
    assert working_days_before(date(2025, 9, 29), 1) == date(2025, 9, 28)  # a working Sunday
    assert working_days_before(date(2025, 10, 9), 0) == date(2025, 10, 9)


def test_a_dispute_accepted_on_the_friday_before_the_holiday_reminds_on_the_right_working_day() -> (
    None
):
    deadline = OFFICIAL.add_days(date(2025, 9, 26), 15)
    assert deadline == date(2025, 10, 11)  # a Saturday worked in lieu of the holiday
    matter = Matter(unit=UNIT, receipt=DSP, mediator="med-1")
    _, intents = react(
        matter, d.DisputeAccepted(accepted_on=date(2025, 9, 26), mediation_deadline=deadline)
    )
    tells = [i for i in intents if isinstance(i, Tell)]
    assert {t.plan.recipient for t in tells} == {"chair-p01", "med-1"}
    for tell in tells:
        assert tell.plan.template == "mediation_due" and tell.plan.deadline == deadline
        assert tell.plan.send_at == datetime(2025, 9, 30, 9, 0, tzinfo=SHANGHAI)
        assert tell.plan.params == {"receipt": DSP, "date": "2025-10-11"}
        assert tell.notification_id == reminder_id(DSP, "mediation", tell.plan.recipient, deadline)


def test_a_reminder_whose_day_is_past_goes_at_once_and_none_once_the_deadline_passed() -> None:
    late = datetime(2025, 10, 10, 6, 0, tzinfo=UTC)
    assert reminder_at(date(2025, 10, 11), 3, late) == late
    assert reminder_at(date(2025, 10, 11), 3, datetime(2025, 10, 11, 16, 0, tzinfo=UTC)) is None


def test_the_acceptance_reminder_goes_to_the_units_chair_and_is_cancelled_once_accepted() -> None:
    matter, intents = react(None, applied(date(2025, 10, 9)))
    [tell] = intents
    assert isinstance(tell, Tell) and tell.plan.recipient == "chair-p01"
    assert tell.plan.send_at == datetime(2025, 9, 30, 9, 0, tzinfo=SHANGHAI)
    _, repeat = RULES.react(None, event(applied(date(2025, 10, 9))), applied(date(2025, 10, 9)))
    assert [i.notification_id for i in repeat] == [tell.notification_id]
    matter, intents = react(
        matter,
        d.DisputeAccepted(accepted_on=date(2025, 9, 29), mediation_deadline=date(2025, 10, 14)),
    )
    withdrawn = [i for i in intents if isinstance(i, Withdraw)]
    assert withdrawn == [Withdraw(tell.notification_id, "deadline_met")]
    assert all(r.group == "mediation" for r in matter.reminders)


def test_the_mediation_reminders_are_cancelled_when_an_agreement_is_reached() -> None:
    matter, _ = react(
        Matter(unit=UNIT, receipt=DSP),
        d.DisputeAccepted(accepted_on=date(2025, 9, 26), mediation_deadline=date(2025, 10, 11)),
    )
    matter, planned = react(matter, d.DisputeMediatorAssigned(mediator="med-1"))
    assert [i.plan.recipient for i in planned if isinstance(i, Tell)] == ["med-1"]
    _, intents = react(
        matter,
        d.DisputeAgreementReached(
            terms="付清", amount_fen=100, perform_by=date(2025, 11, 1), signed_by=()
        ),
    )
    assert {i.notification_id for i in intents} == {
        reminder_id(DSP, "mediation", who, date(2025, 10, 11)) for who in ("chair-p01", "med-1")
    }
    assert all(isinstance(i, Withdraw) and i.reason == "deadline_met" for i in intents)


def test_an_escalation_reminds_its_owner_in_their_language_and_nobody_else() -> None:
    matter = Matter(unit=UNIT, receipt=GRV)
    _, intents = react(matter, g.GrievanceEscalated(owner="fup-1", due=date(2025, 10, 10)), GRV)
    [tell] = intents
    assert isinstance(tell, Tell) and tell.plan.recipient == "fup-1" and tell.plan.language == "en"
    assert tell.plan.send_at == datetime(2025, 9, 30, 9, 0, tzinfo=SHANGHAI)


def logged(agreed: bool | None) -> g.GrievanceLogged:
    return g.GrievanceLogged(
        unit=UNIT,
        category="wages",
        summary="欠薪",
        channel="in_person",
        anonymous=False,
        complainant=WORKER,
        answer_due=date(2025, 10, 9),
        progress_messages=agreed,
    )


def test_a_worker_who_agreed_is_told_each_step_with_the_receipt_number() -> None:
    matter, [tell] = react(None, logged(True), GRV)
    assert (
        isinstance(tell, Tell)
        and tell.plan.audience == "worker"
        and tell.plan.template == "received"
    )
    assert tell.plan.address == PHONE and tell.plan.recipient == PHONE.kid
    assert (
        tell.plan.params == {"receipt": GRV, "date": "2025-10-09"} and tell.plan.send_at == FRIDAY
    )
    _, [ack] = react(matter, g.GrievanceAcknowledged(), GRV)
    assert isinstance(ack, Tell) and ack.plan.template == "acknowledged"
    scheduled = f.FollowupScheduled(
        kind="callback", unit=UNIT, source_case_id=GRV, source_event_id="e", due=date(2025, 10, 9)
    )
    _, intents = react(matter, scheduled, "FUP-TEST00000001")
    assert [(i.plan.recipient, i.plan.template) for i in intents if isinstance(i, Tell)] == [
        ("fup-1", "callback_due"),
        (PHONE.kid, "callback"),
    ]


def test_a_worker_who_did_not_agree_hears_nothing() -> None:
    for agreed in (False, None):
        matter, intents = react(None, logged(agreed), GRV)
        assert intents == []
        assert react(matter, g.GrievanceResolved(how="on_site", resolution="ok"), GRV)[1] == []


def test_quiet_hours_hold_a_message_until_they_end_over_midnight() -> None:
    late = datetime(2025, 9, 26, 23, 30, tzinfo=SHANGHAI)
    assert in_quiet_hours(late, 22, 8) and not in_quiet_hours(late.replace(hour=12), 22, 8)
    assert quiet_until(late, 22, 8) == datetime(2025, 9, 27, 8, 0, tzinfo=SHANGHAI)
    assert quiet_until(late.replace(hour=3), 22, 8) == datetime(2025, 9, 26, 8, 0, tzinfo=SHANGHAI)
    assert not in_quiet_hours(late, 0, 0) and in_quiet_hours(late.replace(hour=13), 12, 14)


def test_a_dispute_or_call_back_is_filed_under_the_grievance_it_came_from() -> None:
    from_grievance = d.DisputeApplied(
        unit=UNIT,
        form="referral",
        category="remuneration",
        acceptance_due=date(2025, 10, 9),
        grievance_id=GRV,
    )
    assert policies.file_under(None, event(from_grievance), from_grievance) == (GRV, GRV)
    assert policies.file_under(
        GRV,
        event(d.DisputeDeclined(code="other", reason="x")),
        d.DisputeDeclined(code="other", reason="x"),
    ) == (GRV, GRV)
    alone = applied(date(2025, 10, 9))
    assert policies.file_under(None, event(alone), alone) == (DSP, DSP)
    callback = f.FollowupScheduled(
        kind="callback", unit=UNIT, source_case_id=GRV, source_event_id="e", due=date(2025, 10, 9)
    )
    check = callback.model_copy(update={"kind": "performance_check"})
    fup = "FUP-TEST00000001"
    assert policies.file_under(None, event(callback, fup), callback) == (GRV, GRV)
    assert policies.file_under(None, event(check, fup), check) == (None, None)
    ack = g.GrievanceAcknowledged()
    assert policies.file_under(None, event(ack, GRV), ack) == (GRV, None)


def test_the_policy_answers_with_commands_identical_on_every_redelivery() -> None:
    env = event(applied(date(2025, 10, 9)))
    matter, commands = policies.answer(RULES, None, env, REGISTRY.read(env), FRIDAY)
    [(stream, cmd)] = commands
    assert stream == "notification" and cmd.command_type == "plan"
    assert cmd.case_id == reminder_id(DSP, "acceptance", "chair-p01", date(2025, 10, 9))
    assert cmd.causation_id == str(env.event_id) and cmd.actor.role == "system"
    assert policies.answer(RULES, None, env, REGISTRY.read(env), FRIDAY)[1] == commands
    accepted = event(
        d.DisputeAccepted(accepted_on=date(2025, 9, 29), mediation_deadline=date(2025, 10, 14))
    )
    _, more = policies.answer(RULES, matter, accepted, REGISTRY.read(accepted), FRIDAY)
    cancel = next(c for _, c in more if c.command_type == "cancel")
    assert cancel.case_id == cmd.case_id and cancel.payload == {"reason": "deadline_met"}
    nowhere = g.GrievanceAcknowledged()
    assert policies.answer(RULES, None, event(nowhere, GRV), nowhere, FRIDAY) == (Matter(), [])


def test_a_worker_who_applied_and_agreed_is_told_the_application_was_received() -> None:
    agreed = applied(date(2025, 10, 9)).model_copy(
        update={"applicant": WORKER, "progress_messages": True}
    )
    _, intents = react(None, agreed)
    told = [i for i in intents if isinstance(i, Tell) and i.plan.audience == "worker"]
    assert [(t.plan.template, t.plan.params) for t in told] == [
        ("dispute_received", {"receipt": DSP, "date": "2025-10-09"})
    ]
    silent = agreed.model_copy(update={"progress_messages": None})
    assert all(i.plan.audience == "staff" for i in react(None, silent)[1] if isinstance(i, Tell))
