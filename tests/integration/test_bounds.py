"""Every service and the portal refuse dates, times and numbers out of bounds, recording nothing.

The killers first reported, then values just outside each window; the follow-up worker lives on,
even after an escalation due on the calendar's last day reached the log before any bound held.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from contracts.envelope import Actor
from services.common.calendar import local_date
from services.followup.policies import followup_id_for
from tests.integration.conftest import DUE, GRIEVANCE, Stack, warm_up
from tests.integration.history import signed_after
from tests.integration.polling import consistently, eventually
from tests.integration.reading import ok

pytestmark = pytest.mark.integration

UNIT = "demo/co/p01"
REP = {"user": "rep-p01", "role": "worker_rep", "unit": UNIT}
CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
MEDIATOR = {"user": "med-1", "role": "mediator", "unit": "demo/co"}
OFFICER = {"user": "fup-p01", "role": "followup_officer", "unit": UNIT}
AUDITOR = {"user": "aud", "role": "auditor", "unit": "demo"}
SERVICES = ("intake", "suggestions", "mediation", "followup", "audit")
HUGE = "1" * 30
FAR = {"offset": HUGE}
WINDOW = "give a date from 2000-01-01 to 2100-12-31"
TIME_WINDOW = "give a time from 2000-01-01 to the end of 2100"
# Times whose conversion to UTC would leave the calendar.
EDGE_OVERFLOWS = ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00")
TODAY = local_date(datetime.now(UTC))
SIX_YEARS_AHEAD = (TODAY + timedelta(days=366 * 6)).isoformat()


def long_ago(days: int = 4 * 365) -> str:
    """A time further back than the deployment lets a command be back-dated (1,095 days)."""
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


APPLICATION: dict[str, Any] = {
    "unit": UNIT,
    "form": "written",
    "applicant": {"name": "李建国", "phone": "13900000002"},
    "respondent": {"employer": "演示建设集团有限公司", "management": ["pm-p01"]},
    "category": "remuneration",
    "matters": "十月工资未按时足额发放",
    "claims": [{"description": "补发十月工资", "amount": "12500.00"}],
    "known_since": (TODAY - timedelta(days=60)).isoformat(),
}
SUGGESTION = {
    "unit": UNIT,
    "topic": "welfare",
    "title": "食堂",
    "content": "菜品单一",
    "anonymous": True,
}
SIGNED = ["applicant", "respondent", "mediator"]


def raw(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """Post JSON as any client may write it: NaN, or half a surrogate pair escaped."""
    content = json.dumps(body, allow_nan=True)
    return client.post(path, content=content, headers={"content-type": "application/json"})


def refused(response: httpx.Response, *words: str) -> None:
    """A 422 problem whose detail says what to fix."""
    assert response.status_code == 422, (response.request.url, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert all(w in detail for w in words), (words, detail)


def version(client: httpx.Client, path: str) -> int:
    return int(ok(client.get(path))["version"])


def total(client: httpx.Client, path: str) -> int:
    return int(ok(client.get(path, params={"unit": UNIT}))["total"])


def opened(client: httpx.Client, path: str, body: dict[str, Any], what: str) -> str:
    response = eventually(
        lambda: client.post(path, json=body),
        until=lambda r: r.status_code == 201,
        timeout=90,
        interval=1,
        what=what,
    )
    return str(response.json()["case_id"])


def call_back_scheduled(stack: Stack) -> None:
    """A newly resolved grievance still gets its call-back: the follow-up worker is alive."""
    with stack.client("intake", **REP) as rep, stack.client("followup", **OFFICER) as officer:
        gid = ok(rep.post("/grievances", json=GRIEVANCE), 201)["case_id"]
        ok(rep.post(f"/grievances/{gid}/acknowledge", json={}))
        ok(rep.post(f"/grievances/{gid}/resolve", json={"how": "on_site", "resolution": "已整改"}))
        resolved = ok(rep.get(f"/grievances/{gid}/history"))["events"][-1]
        fup = followup_id_for(resolved["event_id"], "callback")
        eventually(
            lambda: officer.get(f"/followups/{fup}").status_code,
            until=lambda status: status == 200,
            what=f"the call-back {fup} of a newly resolved grievance",
        )
    assert all(proc.poll() is None for proc in stack.procs.values()), stack.procs


@pytest.fixture(scope="module")
def bstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every service and the portal on their own topic prefix, for this module."""
    with Stack(bootstrap, tmp_path_factory.mktemp("bounds"), "bounds") as s:
        s.start("intake")
        warm_up(s)
        for service in ("followup", "mediation", "suggestions"):
            s.start(service)
        s.spawn("audit", "api")
        for service in SERVICES:
            s.env[f"TAIZHANG_{service.upper()}_URL"] = s.url(service)
        s.spawn("portal", "api")
        call_back_scheduled(s)
        yield s


@pytest.fixture(scope="module")
def grievance(bstack: Stack) -> str:
    """An acknowledged grievance, ready to be escalated."""
    with bstack.client("intake", **REP) as rep:
        gid = str(ok(rep.post("/grievances", json=GRIEVANCE), 201)["case_id"])
        ok(rep.post(f"/grievances/{gid}/acknowledge", json={}))
    return gid


@pytest.fixture(scope="module")
def dispute(bstack: Stack) -> str:
    """A dispute accepted on receipt, with its mediator assigned."""
    body = {**APPLICATION, "accept_on_receipt": True}
    with bstack.client("mediation", **CHAIR) as chair:
        dsp = opened(chair, "/disputes", body, "the mediation worker to open a dispute")
        ok(chair.post(f"/disputes/{dsp}/assign", json={"mediator": "med-1"}))
    return dsp


def test_the_reported_killers_are_refused_and_the_follow_up_worker_lives_on(
    bstack: Stack, grievance: str
) -> None:
    with bstack.client("intake", **REP) as rep:
        escalation = {"owner": "lead-p01", "due": "9999-12-31"}
        refused(rep.post(f"/grievances/{grievance}/escalate", json=escalation), "due: ", WINDOW)
        refused(rep.get("/stats", params={"from": "0001-01-01"}), "from: ", WINDOW)
        refused(rep.get("/grievances", params=FAR), "offset")
        assert version(rep, f"/grievances/{grievance}") == 2
    with bstack.client("mediation", **CHAIR) as chair:
        refused(chair.get("/disputes", params=FAR), "offset")
    with bstack.client("followup", **OFFICER) as officer:
        refused(officer.get("/followups", params=FAR), "offset")
    call_back_scheduled(bstack)


def test_intake_refuses_each_value_just_outside_its_window(bstack: Stack, grievance: str) -> None:
    case = f"/grievances/{grievance}"
    with bstack.client("intake", **REP) as rep:
        logged = total(rep, "/grievances")
        for at in (*EDGE_OVERFLOWS, "1999-12-31T23:59:59Z"):
            refused(rep.post("/grievances", json={**GRIEVANCE, "received_at": at}), TIME_WINDOW)
        too_far = {**GRIEVANCE, "received_at": long_ago()}
        refused(rep.post("/grievances", json=too_far), "TAIZHANG_MAX_BACKDATE_DAYS", "1095 days")
        refused(raw(rep, "/grievances", {**GRIEVANCE, "summary": "食堂\ud800"}), "Unicode")
        assert total(rep, "/grievances") == logged
        for due, words in (
            ("2000-01-01", "past"),
            ("2101-01-01", WINDOW),
            (SIX_YEARS_AHEAD, "years ahead"),
        ):
            refused(rep.post(f"{case}/escalate", json={"owner": "l", "due": due}), words)
        refused(rep.post(f"{case}/acknowledge", json={"expected_version": 10**30}), "less than")
        refused(rep.post(f"{case}/feedback", json={"note": "x", "occurred_at": long_ago()}), "back")
        assert version(rep, case) == 2
        for params in (
            {"opened_from": "9999-12-31"},
            {"opened_from": "2026-02-01", "opened_to": "2026-01-01"},
            {"limit": HUGE},
            {"offset": "-1"},
        ):
            assert rep.get("/grievances", params=params).status_code == 422, params
        refused(rep.get("/stats", params={"from": "2026-02-01", "to": "2026-01-01"}), "swap")
        ok(rep.post(f"{case}/escalate", json={"owner": "lead-p01", "due": DUE}))


def test_mediation_refuses_each_value_just_outside_its_window(bstack: Stack, dispute: str) -> None:
    case = f"/disputes/{dispute}"
    with (
        bstack.client("mediation", **CHAIR) as chair,
        bstack.client("mediation", **MEDIATOR) as mediator,
    ):
        before = version(chair, case)
        count = total(chair, "/disputes")
        knew_long_ago = (TODAY - timedelta(days=366 * 6)).isoformat()
        for body, words in (
            ({"known_since": "9999-12-31"}, WINDOW),
            ({"known_since": knew_long_ago}, "5 years back"),
            ({"received_at": EDGE_OVERFLOWS[0]}, TIME_WINDOW),
            ({"claims": [{"description": "x", "amount": "1e999999999"}]}, "amount"),
            ({"claims": [{"description": "x", "amount": float("nan")}]}, "finite"),
            ({"respondent": {"employer": "e", "management": ["m" * 129]}}, "management"),
        ):
            refused(raw(chair, "/disputes", {**APPLICATION, **body}), words)
        assert total(chair, "/disputes") == count
        session = {"attendees": ["med-1"], "minutes": "m"}
        # Two days on from the ledger's day as it is now, not when the module was read: the
        # day may have turned since, and a day on might be today by the time it is checked.
        ahead = (local_date(datetime.now(UTC)) + timedelta(days=2)).isoformat()
        for held_on, words in (
            ("9999-12-31", WINDOW),
            ("0001-01-01", WINDOW),
            (ahead, "future"),
        ):
            refused(mediator.post(f"{case}/sessions", json={**session, "held_on": held_on}), words)
        agreement = {"terms": "t", "amount": "1.00", "signed_by": SIGNED}
        for perform_by, words in (("9999-12-31", WINDOW), (SIX_YEARS_AHEAD, "5 years ahead")):
            sent = mediator.post(f"{case}/agreement", json={**agreement, "perform_by": perform_by})
            refused(sent, words)
        refused(chair.post(f"{case}/extend", json={"days": HUGE}), "days")
        refused(chair.post(f"{case}/fail", json={"reason": "r", "expected_version": 10**30}))
        refused(chair.get("/disputes", params={"deadline_before": "9999-12-31"}), WINDOW)
        assert version(chair, case) == before


def test_follow_up_refuses_each_value_just_outside_its_window(bstack: Stack) -> None:
    with bstack.client("followup", **OFFICER) as officer:
        fup = ok(officer.get("/followups", params={"unit": UNIT}))["items"][0]["case_id"]
        case = f"/followups/{fup}"
        before = version(officer, case)
        for at in EDGE_OVERFLOWS:
            sent = officer.post(f"{case}/progress", json={"note": "n", "occurred_at": at})
            refused(sent, TIME_WINDOW)
        refused(raw(officer, f"{case}/progress", {"note": "\udc00"}), "Unicode")
        refused(officer.post(f"{case}/progress", json={"note": "n", "expected_version": -1}))
        refused(officer.get("/followups", params={"due_before": "0001-01-01"}), WINDOW)
        refused(officer.get("/stats", params={"from": "0001-01-01"}), WINDOW)
        refused(officer.get("/stats", params={"from": "2026-02-01", "to": "2026-01-01"}), "swap")
        assert version(officer, case) == before


def test_democratic_management_refuses_each_value_just_outside_its_window(
    bstack: Stack,
) -> None:
    with bstack.client("suggestions", **REP) as rep, bstack.client("suggestions", **CHAIR) as chair:
        sug = opened(rep, "/suggestions", SUGGESTION, "the suggestions worker to take one")
        before = version(rep, f"/suggestions/{sug}")
        count = total(rep, "/suggestions")
        late = {**SUGGESTION, "submitted_at": "2101-01-01T00:00:00Z"}
        refused(rep.post("/suggestions", json=late), TIME_WINDOW)
        refused(rep.post("/suggestions", json={**SUGGESTION, "submitted_at": long_ago()}), "back")
        assert total(rep, "/suggestions") == count
        referral = {"owner": "lead", "due": "9999-12-31"}
        refused(chair.post(f"/suggestions/{sug}/refer-to-leadership", json=referral), WINDOW)
        meeting = {"meeting": "m", "occurred_at": EDGE_OVERFLOWS[1]}
        refused(chair.post(f"/suggestions/{sug}/open-review", json=meeting), TIME_WINDOW)
        assert version(rep, f"/suggestions/{sug}") == before
        group = {"unit": UNIT, "members": ["a"], "leader": "a", "congress_session": "一"}
        refused(chair.post("/groups", json={**group, "formed_at": EDGE_OVERFLOWS[0]}))
        query = {"unit": UNIT, "area": "welfare", "question": "q", "addressed_to": "m"}
        refused(chair.post("/queries", json={**query, "raised_at": long_ago(1096)}), "back")
        for path in ("/suggestions", "/groups", "/queries"):
            refused(chair.get(path, params=FAR), "offset")
        refused(chair.get("/stats", params={"unit": UNIT, "to": "9999-12-31"}), WINDOW)
        refused(chair.get("/stats", params={"from": "2026-02-01", "to": "2026-01-01"}), "swap")


def test_audit_refuses_moments_and_periods_out_of_bounds(bstack: Stack, grievance: str) -> None:
    with bstack.client("audit", **AUDITOR) as auditor:
        for at in EDGE_OVERFLOWS:
            refused(auditor.get(f"/audit/cases/{grievance}", params={"at": at}), TIME_WINDOW)
        for period, words in (
            ({"from": "0001-01-01"}, WINDOW),
            ({"from": "2026-02-01", "to": "2026-01-01"}, "swap"),
        ):
            refused(auditor.get("/audit/export", params={"unit": UNIT, **period}), words)


def test_the_portal_passes_on_out_of_bounds_forms_without_failing(
    bstack: Stack, dispute: str
) -> None:
    def portal(who: dict[str, str]) -> httpx.Client:
        cookies = {"tz_session": bstack.token(**who), "tz_lang": "en"}
        return httpx.Client(base_url=bstack.url("portal"), cookies=cookies, timeout=60)

    with portal(REP) as rep, bstack.client("intake", **REP) as intake:
        gid = ok(intake.post("/grievances", json=GRIEVANCE), 201)["case_id"]
        ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
        form = {"owner": "l", "due": "9999-12-31", "csrf": bstack.csrf(rep)}
        page = rep.post(f"/grievances/{gid}/escalate", data=form)
        assert page.status_code == 422 and "2100-12-31" in page.text
        assert version(intake, f"/grievances/{gid}") == 2
        dashboard = rep.get("/dashboard", params={"from_": "0001-01-01", "to": "9999-12-31"})
        assert dashboard.status_code == 200
    with portal(CHAIR) as chair, bstack.client("mediation", **CHAIR) as mediation:
        before = version(mediation, f"/disputes/{dispute}")
        token = bstack.csrf(chair)
        for days in ("²", HUGE * 200, "-1"):
            form = {"days": days, "consent": "on", "csrf": token}
            page = chair.post(f"/disputes/{dispute}/extend", data=form)
            assert page.status_code == 422, (days, page.text[-500:])
        assert version(mediation, f"/disputes/{dispute}") == before
    with portal(AUDITOR) as auditor:
        assert auditor.get(f"/audit/{gid}", params={"at": HUGE}).status_code == 200


def test_an_escalation_due_on_the_calendar_s_last_day_already_logged_stops_nothing(
    bstack: Stack,
) -> None:
    with bstack.client("intake", **REP) as rep:
        gid = ok(rep.post("/grievances", json=GRIEVANCE), 201)["case_id"]
        ok(rep.post(f"/grievances/{gid}/acknowledge", json={}))
        last = ok(rep.get(f"/grievances/{gid}/history"))["events"][-1]
    # Written as a decider did before the bounds held: the date is in the log for ever.
    escalated = signed_after(
        bstack.settings,
        last,
        "grievance.escalated",
        {"owner": "lead-p01", "due": "9999-12-31"},
        Actor(user_id=REP["user"], role=REP["role"], unit=UNIT),
        causation_id=str(uuid.uuid4()),
    )
    producer = KafkaProducer(bootstrap_servers=bstack.env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    producer.send(
        f"{bstack.prefix}grievance.events",
        key=gid.encode(),
        value=escalated.to_bytes(),
    ).get(timeout=10)
    producer.close()
    fup = followup_id_for(str(escalated.event_id), "progress")
    with bstack.client("followup", **OFFICER) as officer:
        tracked = eventually(
            lambda: officer.get(f"/followups/{fup}"),
            until=lambda response: response.status_code == 200,
            what="the escalation due on 9999-12-31 to be tracked",
        )
        assert tracked.json()["due"] == "9999-12-31"
        worker = bstack.procs["followup-worker"]
        # The timer ticks every second; several ticks pass over the case due at the end of time.
        consistently(
            lambda: worker.poll(), until=lambda code: code is None, during=4, what="no exit"
        )
        assert ok(officer.get(f"/followups/{fup}"))["overdue"] == []
    call_back_scheduled(bstack)
