"""What follow-ups other cases' events open, the chains they follow, and the lineage they leave."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from contracts import dispute as d
from contracts import followup as f
from contracts import grievance as g
from contracts import suggestion as s
from contracts.envelope import GENESIS_HASH, Actor, Envelope, seal_envelope
from contracts.registry import REGISTRY, EventPayload, payload_dict
from services.audit.lineage import lineage
from services.audit.records import LogRecord, Position
from services.common.reactions import SourceCase, follow_chain
from services.followup import policies
from tests.unit.stories import T0

FUP = "FUP-TEST00000001"
GRV = "GRV-TEST00000001"
DSP = "DSP-TEST00000001"
UNIT = "demo/co/p01"
REP = Actor(user_id="rep-9", role="worker_rep", unit=UNIT)
SOURCE = SourceCase(case_id=GRV, unit=UNIT, hashes=["a" * 64])


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
        actor=REP,
        correlation_id=case_id,
        causation_id="test",
        payload=payload_dict(payload),
        prev_hash=prev,
        event_id=uuid.uuid4(),
    )


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
