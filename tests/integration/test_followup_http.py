"""Follow-up over real HTTP on the real broker: the call-back loop, overdue timers, restart, DLQ."""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from kafka import KafkaProducer

from contracts.envelope import Actor, seal_envelope
from services.common.calendar import OFFICIAL, local_date
from services.common.store import schema_name
from services.followup.policies import followup_id_for
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.history import signed, signed_after
from tests.integration.polling import consistently, eventually
from tests.integration.reading import ok, read_topic, unread

pytestmark = pytest.mark.integration

UNIT = "demo/co/p05"
REP = {"user": "rep-p05", "role": "worker_rep", "unit": UNIT}
OFFICER = {"user": "fup-p05", "role": "followup_officer", "unit": UNIT}
CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
MEDIATOR = {"user": "med-1", "role": "mediator", "unit": "demo/co"}
STRANGER = {"user": "fup-p02", "role": "followup_officer", "unit": "demo/co/p02"}
AUDITOR = {"user": "aud", "role": "auditor", "unit": "demo"}


def log_grievance(intake: httpx.Client, **over: Any) -> str:
    body = {**GRIEVANCE, "unit": UNIT, **over}
    return str(ok(intake.post("/grievances", json=body), 201)["case_id"])


def last_event(intake: httpx.Client, gid: str) -> dict[str, Any]:
    event: dict[str, Any] = ok(intake.get(f"/grievances/{gid}/history"))["events"][-1]
    return event


def resolve(intake: httpx.Client, gid: str) -> str:
    """Resolve a grievance and return the id of the call-back it schedules."""
    ok(intake.post(f"/grievances/{gid}/resolve", json={"how": "on_site", "resolution": "已整改"}))
    resolved = last_event(intake, gid)
    assert resolved["event_type"] == "grievance.resolved"
    return followup_id_for(resolved["event_id"], "callback")


def status(client: httpx.Client, path: str) -> str:
    """The status a case's view shows now."""
    return str(ok(client.get(path))["status"])


def scheduled(officer: httpx.Client, fup: str) -> dict[str, Any]:
    found = eventually(
        lambda: officer.get(f"/followups/{fup}"),
        until=lambda response: response.status_code == 200,
        what=f"follow-up {fup} to be scheduled",
    )
    return ok(found)


@pytest.fixture(scope="module")
def fstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Intake and follow-up on their own topic prefix, for this module."""
    with Stack(bootstrap, tmp_path_factory.mktemp("followup"), "followup") as s:
        s.start("intake")
        warm_up(s)
        s.start("followup")
        s.start("mediation")
        with s.client("intake", **REP) as intake, s.client("followup", **OFFICER) as officer:
            gid = log_grievance(intake, anonymous=True, complainant=None)
            ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
            scheduled(officer, resolve(intake, gid))
        yield s


@pytest.fixture(scope="module")
def intake(fstack: Stack) -> Iterator[httpx.Client]:
    with fstack.client("intake", **REP) as client:
        yield client


@pytest.fixture(scope="module")
def officer(fstack: Stack) -> Iterator[httpx.Client]:
    with fstack.client("followup", **OFFICER) as client:
        yield client


def test_unsatisfied_call_back_reopens_and_satisfied_one_closes_the_grievance(
    fstack: Stack, intake: httpx.Client, officer: httpx.Client
) -> None:
    gid = log_grievance(intake)
    ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
    first = resolve(intake, gid)
    view = scheduled(officer, first)
    today = local_date(datetime.now(UTC))
    assert view["kind"] == "callback" and view["status"] == "open"
    assert view["source_case_id"] == gid and view["correlation_id"] == gid
    assert view["unit"] == UNIT and view["due"] == OFFICIAL.add_working_days(today, 3).isoformat()

    contacted = ok(
        officer.post(
            f"/followups/{first}/contact",
            json={"satisfaction": "unsatisfied", "comment": "饭菜还是老样子"},
        )
    )
    assert contacted["version"] == 3
    eventually(
        lambda: status(intake, f"/grievances/{gid}"),
        until=lambda now: now == "reopened",
        what="the grievance to be reopened",
    )
    reopened = last_event(intake, gid)
    assert reopened["event_type"] == "grievance.reopened"
    assert reopened["causation_id"] == contacted["event_ids"][0]
    assert reopened["correlation_id"] == gid and reopened["actor"]["role"] == "system"
    assert first in reopened["payload"]["reason"]

    second = resolve(intake, gid)
    assert second != first
    scheduled(officer, second)
    satisfied = ok(officer.post(f"/followups/{second}/contact", json={"satisfaction": "satisfied"}))
    eventually(
        lambda: status(intake, f"/grievances/{gid}"),
        until=lambda now: now == "closed",
        what="the grievance to be closed",
    )
    closed = last_event(intake, gid)
    assert closed["event_type"] == "grievance.closed"
    assert closed["causation_id"] == satisfied["event_ids"][0]
    history = ok(intake.get(f"/grievances/{gid}/history"))["events"]
    assert [e["event_type"] for e in history] == [
        "grievance.logged",
        "grievance.acknowledged",
        "grievance.resolved",
        "grievance.reopened",
        "grievance.resolved",
        "grievance.closed",
    ]

    mine = ok(officer.get("/followups", params={"source_case_id": gid}))
    assert mine["total"] == 2 and {i["case_id"] for i in mine["items"]} == {first, second}
    done = ok(officer.get(f"/followups/{first}"))
    assert done["status"] == "completed" and done["satisfaction"] == "unsatisfied"
    assert done["on_time"] is True and done["comment"] == "饭菜还是老样子"
    fup_history = ok(officer.get(f"/followups/{first}/history"))["events"]
    assert [e["event_type"] for e in fup_history] == [
        "followup.scheduled",
        "followup.contacted",
        "followup.completed",
    ]
    assert fup_history[0]["causation_id"] == history[2]["event_id"]
    assert "饭菜还是老样子" not in json.dumps(fup_history, ensure_ascii=False)
    # The worker's words are sealed under their own key, so erasing them erases these too.
    person = history[0]["payload"]["complainant"]["person_id"]
    assert fup_history[1]["payload"]["comment"]["kid"] == person
    with fstack.client("followup", **AUDITOR) as auditor:
        assert ok(auditor.get(f"/followups/{first}"))["comment"] == "[sealed]"

    replay = fstack.cli("audit", "replay", first, "--format", "json")
    assert replay.returncode == 0, replay.stderr
    assert json.loads(replay.stdout)["state"]["satisfaction"] == "unsatisfied"
    verify = fstack.cli("audit", "verify", first)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    lineage = fstack.cli("audit", "lineage", gid, "--format", "json")
    assert lineage.returncode == 0, lineage.stdout + lineage.stderr
    linked = {c["case_id"]: c for c in json.loads(lineage.stdout)["cases"]}
    assert set(linked) == {gid, first, second}
    assert linked[first]["status"] == "completed" and linked[gid]["status"] == "closed"


def test_escalation_is_tracked_by_its_owner_and_turns_overdue(
    fstack: Stack, intake: httpx.Client, officer: httpx.Client
) -> None:
    # Due on the day it was escalated, a day and some minutes ago: before today in China
    # however near midnight there the test runs.
    yesterday = datetime.now(UTC) - timedelta(days=1, minutes=5)
    gid = log_grievance(intake, received_at=yesterday.isoformat())
    at = yesterday + timedelta(minutes=1)
    ok(intake.post(f"/grievances/{gid}/acknowledge", json={"occurred_at": at.isoformat()}))
    escalated_at = at + timedelta(minutes=1)
    due = local_date(escalated_at).isoformat()
    ok(
        intake.post(
            f"/grievances/{gid}/escalate",
            json={"owner": "lead-p05", "due": due, "occurred_at": escalated_at.isoformat()},
        )
    )
    fup = followup_id_for(last_event(intake, gid)["event_id"], "progress")
    with fstack.client("followup", user="lead-p05", role="union_chair", unit=UNIT) as owner:
        queue = eventually(
            lambda: ok(owner.get("/followups", params={"owner": "lead-p05", "overdue": "true"})),
            until=lambda body: body["total"] > 0,
            what="the owner's overdue queue",
        )
        assert [i["case_id"] for i in queue["items"]] == [fup]
        view = queue["items"][0]
        assert view["kind"] == "progress" and view["due"] == due and view["overdue"] == [due]
        events = ok(owner.get(f"/followups/{fup}/history"))["events"]
        assert [e["event_type"] for e in events] == ["followup.scheduled", "followup.overdue"]
        assert events[1]["actor"]["role"] == "system" and events[1]["payload"]["due"] == due
        not_yet = ok(owner.get("/followups", params={"owner": "lead-p05", "overdue": "false"}))
        assert not_yet["total"] == 0

        ok(owner.post(f"/followups/{fup}/progress", json={"note": "领导班子已研究，下周落实"}))
        done = ok(owner.post(f"/followups/{fup}/complete", json={"note": "已落实"}))
        assert done["version"] == 4
        final = ok(owner.get(f"/followups/{fup}"))
        assert final["status"] == "completed" and final["on_time"] is False
    consistently(
        lambda: len(ok(officer.get(f"/followups/{fup}/history"))["events"]),
        until=lambda recorded: recorded == 4,
        during=2,
        what="timer ticks to record nothing more on a completed follow-up",
    )


def test_a_breach_found_at_the_performance_check_is_recorded_on_the_dispute(
    fstack: Stack, officer: httpx.Client
) -> None:
    today = local_date(datetime.now(UTC))
    application = {
        "unit": UNIT,
        "form": "written",
        "applicant": {"name": "李建国", "phone": "13900000002"},
        "respondent": {"employer": "演示建设集团有限公司", "management": ["pm-p05"]},
        "category": "remuneration",
        "matters": "十月工资未按时足额发放",
        "reasons": "公司称资金周转困难",
        "claims": [{"description": "补发十月工资", "amount": "12500.00"}],
        "known_since": (today - timedelta(days=60)).isoformat(),
        "accept_on_receipt": True,
    }
    with (
        fstack.client("mediation", **CHAIR) as chair,
        fstack.client("mediation", **MEDIATOR) as mediator,
    ):
        opened = eventually(
            lambda: chair.post("/disputes", json=application),
            until=lambda response: response.status_code == 201,
            timeout=90,
            what="the mediation worker to open a dispute",
        )
        dsp = ok(opened, 201)["case_id"]
        ok(chair.post(f"/disputes/{dsp}/assign", json={"mediator": "med-1"}))
        session = {"held_on": today.isoformat(), "attendees": ["med-1"], "minutes": "达成一致"}
        ok(mediator.post(f"/disputes/{dsp}/sessions", json=session))
        agreement = {
            "terms": "公司于月底前补发工资",
            "amount": "12500.00",
            "perform_by": today.isoformat(),
            "signed_by": ["applicant", "respondent", "mediator"],
        }
        agreed = ok(mediator.post(f"/disputes/{dsp}/agreement", json=agreement))
        fup = followup_id_for(agreed["event_ids"][0], "performance_check")
        check = scheduled(officer, fup)
        assert check["kind"] == "performance_check" and check["due"] == today.isoformat()
        assert check["correlation_id"] == dsp and check["source_case_id"] == dsp

        found = ok(
            officer.post(
                f"/followups/{fup}/complete",
                json={"agreement": "breached", "breach_reason": "到期未补发工资"},
            )
        )
        eventually(
            lambda: status(chair, f"/disputes/{dsp}"),
            until=lambda now: now == "breached",
            what="the dispute to record the breach",
        )
        breached = ok(chair.get(f"/disputes/{dsp}/history"))["events"][-1]
        assert breached["event_type"] == "dispute.breached"
        assert breached["causation_id"] == found["event_ids"][0]
        assert breached["actor"]["role"] == "system"
        # The officer's words go on sealed under the applicant's key, opened for the chair.
        assert breached["payload"]["reason"]["kid"].startswith("PER-")
        assert breached["opened"]["reason"] == "到期未补发工资"
        assert breached["payload"]["payment_order_available"] is True


def test_bad_input_is_refused_and_nothing_is_written(
    fstack: Stack, intake: httpx.Client, officer: httpx.Client
) -> None:
    gid = log_grievance(intake)
    ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
    fup = resolve(intake, gid)
    scheduled(officer, fup)

    out_of_scale = officer.post(f"/followups/{fup}/contact", json={"satisfaction": "thrilled"})
    assert out_of_scale.status_code == 422
    assert out_of_scale.headers["content-type"] == "application/problem+json"
    assert "satisfaction" in out_of_scale.json()["detail"]
    with fstack.client("followup", **STRANGER) as stranger:
        other_unit = stranger.post(f"/followups/{fup}/contact", json={"satisfaction": "satisfied"})
        assert other_unit.status_code == 404
        assert stranger.get(f"/followups/{fup}").status_code == 404
    with fstack.client("followup", **AUDITOR) as auditor:
        read_only = auditor.post(f"/followups/{fup}/contact", json={"satisfaction": "satisfied"})
        assert read_only.status_code == 403
    not_by_complete = officer.post(f"/followups/{fup}/complete", json={})
    assert not_by_complete.status_code == 409 and "contact" in not_by_complete.json()["detail"]
    assert ok(officer.get(f"/followups/{fup}"))["version"] == 1

    ok(officer.post(f"/followups/{fup}/contact", json={"satisfaction": "basically_satisfied"}))
    again = officer.post(f"/followups/{fup}/contact", json={"satisfaction": "unsatisfied"})
    assert again.status_code == 409 and "already completed" in again.json()["detail"]
    assert ok(officer.get(f"/followups/{fup}"))["version"] == 3
    eventually(
        lambda: status(intake, f"/grievances/{gid}"),
        until=lambda now: now == "closed",
        what="the grievance to be closed",
    )
    assert intake.get(f"/grievances/{gid}").json()["version"] == 4


def test_an_event_of_a_case_that_never_existed_is_dead_lettered_and_the_rest_flows_on(
    fstack: Stack, intake: httpx.Client, officer: httpx.Client
) -> None:
    topic = f"{fstack.prefix}grievance.events"
    ghost = "GRV-NOSUCHCASE01"
    at = datetime.now(UTC)
    forged = seal_envelope(
        event_type="grievance.resolved",
        schema_version=1,
        case_id=ghost,
        case_version=1,
        occurred_at=at,
        recorded_at=at,
        actor=Actor(user_id="rep-p05", role="worker_rep", unit=UNIT),
        correlation_id=ghost,
        causation_id="forged",
        payload={"how": "on_site", "resolution": "无中生有"},
        prev_hash="0" * 64,
        event_id=uuid.uuid4(),
    )
    producer = KafkaProducer(bootstrap_servers=fstack.env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    sent = producer.send(
        topic, key=ghost.encode(), value=signed(fstack.settings, forged).to_bytes()
    ).get(timeout=10)
    junk = producer.send(topic, key=b"GRV-JUNK00000001", value=b"{not json").get(timeout=10)
    producer.close()

    gid = log_grievance(intake)
    ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
    scheduled(officer, resolve(intake, gid))

    def parked_by_followup() -> set[int]:
        return {
            int(dict(r.headers)["source_offset"])
            for r in read_topic(fstack, f"{topic}.dlq")
            if b"followup-grievance" in dict(r.headers)["reason"]
        }

    eventually(
        parked_by_followup,
        until=lambda offsets: {sent.offset, junk.offset} <= offsets,
        what="the follow-up reactor to dead-letter both records",
    )
    ghost_fup = followup_id_for(str(forged.event_id), "callback")
    assert officer.get(f"/followups/{ghost_fup}").status_code == 404
    worker_log = fstack.log("followup", "worker")
    lines = [json.loads(line) for line in worker_log.splitlines() if "record.dead_lettered" in line]
    assert any(
        line["case_id"] == ghost
        and line["offset"] == sent.offset
        and line["partition"] == sent.partition
        and line["topic"] == topic
        and "never opened" in line["reason"]
        for line in lines
    )


def test_a_resolution_the_ledger_undid_schedules_no_call_back(
    fstack: Stack, intake: httpx.Client, officer: httpx.Client
) -> None:
    gid = log_grievance(intake)
    ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
    acknowledged = last_event(intake, gid)
    # The resolution a decider wrote and then aborted: signed, chained, and never recorded.
    undone = signed_after(
        fstack.settings,
        acknowledged,
        "grievance.resolved",
        {"how": "on_site", "resolution": "写了又撤回"},
        Actor(user_id="rep-p05", role="worker_rep", unit=UNIT),
        causation_id=acknowledged["event_id"],
    )
    producer = KafkaProducer(
        bootstrap_servers=fstack.env["KAFKA_BOOTSTRAP_SERVERS"],
        acks="all",
        enable_idempotence=True,
        transactional_id=f"{fstack.prefix}undone-{uuid.uuid4().hex[:8]}",
    )
    producer.init_transactions()
    producer.begin_transaction()
    producer.send(
        f"{fstack.prefix}grievance.events", key=gid.encode(), value=undone.to_bytes()
    ).get(timeout=10)
    producer.abort_transaction()
    producer.close()

    # The real resolution lies after the undone one in the case's partition: once its
    # call-back is scheduled, the reactor has read past the undone record.
    real = resolve(intake, gid)
    scheduled(officer, real)
    assert (
        officer.get(f"/followups/{followup_id_for(str(undone.event_id), 'callback')}").status_code
        == 404
    )
    mine = ok(officer.get("/followups", params={"source_case_id": gid}))
    assert [i["case_id"] for i in mine["items"]] == [real]
    history = ok(intake.get(f"/grievances/{gid}/history"))["events"]
    assert [e["event_type"] for e in history][-1] == "grievance.resolved"
    assert str(undone.event_id) not in {e["event_id"] for e in history}


def forget_read_model(stack: Stack, service: str) -> None:
    """Throw a stopped service's read model away wherever it is kept: its file or its schema."""
    for suffix in ("", "-wal", "-shm"):
        (stack.settings.data_dir / f"{service}.sqlite{suffix}").unlink(missing_ok=True)
    if stack.settings.database_url:
        with psycopg.connect(stack.settings.database_url, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{schema_name(stack.prefix, service)}" CASCADE')


def test_the_worker_keeps_its_place_past_every_transaction_it_has_answered(
    fstack: Stack, intake: httpx.Client
) -> None:
    """A worker restarted now would start where it stopped, not thousands of records back."""
    gid = log_grievance(intake)
    ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
    # Each answered on its own, so each is a transaction of its own, with its own marker.
    for n in range(20):
        ok(intake.post(f"/grievances/{gid}/feedback", json={"note": f"第{n}次回访"}))
    group = f"{fstack.prefix}taizhang-followup"
    topic = f"{fstack.prefix}grievance.events"
    # Commits come every few seconds; the place moving one transaction per commit would
    # need a minute for these alone.
    eventually(
        lambda: unread(fstack, group, topic),
        until=lambda behind: behind == 0,
        timeout=20,
        what="the follow-up worker's committed place to reach the end of the grievances",
    )


def test_restart_and_rebuild_from_offset_zero_schedule_nothing_twice(
    fstack: Stack, intake: httpx.Client
) -> None:
    events_topic = f"{fstack.prefix}followup.events"
    with fstack.client("followup", **AUDITOR) as auditor:
        caught_up(auditor, "the read model to catch up")
        cases_before = ok(auditor.get("/followups", params={"limit": 200}))["total"]
    records_before = len(read_topic(fstack, events_topic))
    assert cases_before >= 5

    for part in ("api", "worker"):
        fstack.kill("followup", part, signal.SIGTERM)
    forget_read_model(fstack, "followup")
    fstack.start("followup")
    consistently(
        lambda: len(read_topic(fstack, events_topic)),
        until=lambda records: records == records_before,
        during=5,
        what="the restarted worker's timers and reactors to write no event again",
    )

    with fstack.client("followup", **AUDITOR) as auditor:
        caught_up(auditor, "the rebuilt read model to catch up")
        assert ok(auditor.get("/followups", params={"limit": 200}))["total"] == cases_before
    assert len(read_topic(fstack, events_topic)) == records_before
    with fstack.client("followup", **OFFICER) as officer:
        gid = log_grievance(intake)
        ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
        assert scheduled(officer, resolve(intake, gid))["source_case_id"] == gid
        stats = ok(officer.get("/stats", params={"unit": UNIT}))
    assert stats["followups"] == cases_before + 1
    assert stats["closure_rate"] is not None and stats["satisfaction_rate"] is not None
    for fup in [i["case_id"] for i in ok(auditor_view(fstack))["items"]]:
        verify = fstack.cli("audit", "verify", fup)
        assert verify.returncode == 0, verify.stdout + verify.stderr


def caught_up(client: httpx.Client, what: str) -> None:
    eventually(lambda: ok(client.get("/health"))["lag"], until=lambda lag: lag == 0, what=what)


def auditor_view(stack: Stack) -> httpx.Response:
    with stack.client("followup", **AUDITOR) as auditor:
        return auditor.get("/followups", params={"limit": 3})
