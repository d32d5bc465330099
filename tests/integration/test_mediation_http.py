"""Dispute mediation over real HTTP on the real broker: referral lineage, timers, restart."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.common.calendar import local_date
from services.mediation.policies import dispute_id_for_referral
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.polling import consistently, eventually
from tests.integration.reading import ok

pytestmark = pytest.mark.integration

CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
MEDIATOR = {"user": "med-1", "role": "mediator", "unit": "demo/co"}
OTHER_MEDIATOR = {"user": "med-2", "role": "mediator", "unit": "demo/co"}
AUDITOR = {"user": "aud", "role": "auditor", "unit": "demo"}
SIGNED = ["applicant", "respondent", "mediator"]


def today() -> date:
    return local_date(datetime.now(UTC))


def application(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "unit": "demo/co/p01",
        "form": "written",
        "applicant": {"name": "李建国", "phone": "13900000002"},
        "respondent": {"employer": "演示建设集团有限公司", "management": ["pm-p01"]},
        "category": "remuneration",
        "matters": "十月工资未按时足额发放",
        "reasons": "公司称资金周转困难",
        "claims": [{"description": "补发十月工资", "amount": "12500.00"}],
        "known_since": (today() - timedelta(days=60)).isoformat(),
    }
    return {**body, **over}


@pytest.fixture(scope="module")
def mstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Intake and mediation on their own topic prefix, for this module."""
    with Stack(bootstrap, tmp_path_factory.mktemp("mediation"), "mediation") as s:
        s.start("intake")
        s.start("mediation")
        warm_up(s)
        with s.client("mediation", **CHAIR) as chair:
            eventually(
                lambda: chair.post("/disputes", json=application()),
                until=lambda response: response.status_code == 201,
                timeout=90,
                what="the mediation worker to open a dispute",
            )
        yield s


@pytest.fixture(scope="module")
def chair(mstack: Stack) -> Iterator[httpx.Client]:
    with mstack.client("mediation", **CHAIR) as client:
        yield client


@pytest.fixture(scope="module")
def mediator(mstack: Stack) -> Iterator[httpx.Client]:
    with mstack.client("mediation", **MEDIATOR) as client:
        yield client


@pytest.fixture(scope="module")
def rep(mstack: Stack) -> Iterator[httpx.Client]:
    with mstack.client("mediation") as client:
        yield client


def test_referred_grievance_becomes_a_dispute_agreed_and_performed(
    mstack: Stack, chair: httpx.Client, mediator: httpx.Client, rep: httpx.Client
) -> None:
    with mstack.client("intake") as intake:
        grievance = ok(intake.post("/grievances", json={**GRIEVANCE, "category": "wages"}), 201)
        gid = grievance["case_id"]
        ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
        ok(
            intake.post(
                f"/grievances/{gid}/refer-to-mediation", json={"dispute_category": "remuneration"}
            )
        )
        referral = intake.get(f"/grievances/{gid}/history").json()["events"][-1]
        dsp = dispute_id_for_referral(referral["event_id"])

        opened = eventually(
            lambda: chair.get(f"/disputes/{dsp}"),
            until=lambda response: response.status_code == 200,
            what="the referral's dispute to open",
        )
        view = ok(opened)
        assert view["correlation_id"] == gid and view["grievance_id"] == gid
        assert view["unit"] == "demo/co/p01" and view["form"] == "referral"
        assert view["status"] == "applied" and view["category"] == "remuneration"
        linked = eventually(
            lambda: ok(intake.get(f"/grievances/{gid}")),
            until=lambda grievance: grievance.get("dispute_id") == dsp,
            what="the grievance to name its dispute",
        )
        assert linked["status"] == "referred_to_mediation"

    known = (today() - timedelta(days=10)).isoformat()
    ok(chair.post(f"/disputes/{dsp}/accept", json={"known_since": known}))
    ok(chair.post(f"/disputes/{dsp}/assign", json={"mediator": "med-1"}))
    ok(
        mediator.post(
            f"/disputes/{dsp}/sessions",
            json={
                "held_on": today().isoformat(),
                "attendees": ["applicant", "respondent", "med-1"],
                "minutes": "双方同意分两期补发工资",
            },
        )
    )
    perform_by = (today() + timedelta(days=20)).isoformat()
    ok(
        mediator.post(
            f"/disputes/{dsp}/agreement",
            json={
                "terms": "公司分两期补发工资",
                "amount": "12500.50",
                "perform_by": perform_by,
                "signed_by": SIGNED,
            },
        )
    )
    done = ok(chair.post(f"/disputes/{dsp}/performed", json={}))
    assert done["version"] == 6

    view = ok(mediator.get(f"/disputes/{dsp}"))
    assert view["status"] == "performed" and view["agreement_fen"] == 1_250_050
    assert view["minutes"] == ["双方同意分两期补发工资"]
    history = ok(mediator.get(f"/disputes/{dsp}/history"))["events"]
    assert [e["event_type"] for e in history] == [
        "dispute.applied",
        "dispute.accepted",
        "dispute.mediator_assigned",
        "dispute.session_held",
        "dispute.agreement_reached",
        "dispute.performed",
    ]
    assert {e["correlation_id"] for e in history} == {gid}
    assert history[0]["causation_id"] == referral["event_id"]
    assert "双方同意分两期" not in json.dumps(history, ensure_ascii=False)

    # Confidential: the rep sees that the dispute exists, not what it is about.
    hidden = ok(rep.get(f"/disputes/{dsp}"))
    assert hidden["confidential"] is True and hidden["status"] == "performed"
    assert "agreement_terms" not in hidden and "category" not in hidden
    assert rep.get(f"/disputes/{dsp}/history").status_code == 403
    with mstack.client("mediation", **OTHER_MEDIATOR) as other:
        assert ok(other.get(f"/disputes/{dsp}"))["confidential"] is True
    with mstack.client("mediation", **AUDITOR) as auditor:
        seen = ok(auditor.get(f"/disputes/{dsp}"))
        assert seen["confidential"] is False and seen["minutes"] == ["[sealed]"]

    lineage = mstack.cli("audit", "replay", gid, "--format", "json")
    assert lineage.returncode == 0, lineage.stderr
    assert json.loads(lineage.stdout)["state"]["dispute_id"] == dsp


def test_clock_runs_out_the_timer_records_it_and_replay_survives_a_restart(
    mstack: Stack, chair: httpx.Client
) -> None:
    received = datetime.now(UTC) - timedelta(days=30)
    body = application(received_at=received.isoformat(), accept_on_receipt=True)
    dsp = ok(chair.post("/disputes", json=body), 201)["case_id"]

    view = eventually(
        lambda: ok(chair.get(f"/disputes/{dsp}")),
        until=lambda dispute: dispute["status"] == "deadline_passed",
        what="the timer to record deadline_passed",
    )
    assert view["may_apply_for_arbitration"] is True and view["limitation_date"] is not None
    history = ok(chair.get(f"/disputes/{dsp}/history"))["events"]
    assert [e["event_type"] for e in history] == [
        "dispute.applied",
        "dispute.accepted",
        "dispute.deadline_passed",
    ]
    last = history[-1]
    assert last["actor"]["role"] == "system"
    assert last["payload"]["deadline"] == history[1]["payload"]["mediation_deadline"]
    assert last["payload"]["limitation_date"] == view["limitation_date"]

    before = mstack.cli("audit", "replay", dsp, "--format", "json")
    assert before.returncode == 0, before.stderr
    for part in ("api", "worker"):
        mstack.kill("mediation", part, signal.SIGTERM)
    mstack.start("mediation")
    consistently(
        lambda: len(ok(chair.get(f"/disputes/{dsp}/history"))["events"]),
        until=lambda recorded: recorded == 3,
        during=4,
        what="the restarted worker's timer ticks to record nothing more",
    )
    after = mstack.cli("audit", "replay", dsp, "--format", "json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    verify = mstack.cli("audit", "verify", dsp)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    referred = ok(chair.post(f"/disputes/{dsp}/refer-to-arbitration", json={}))
    assert referred["version"] == 4


def test_mediator_queue_is_sorted_by_days_left(chair: httpx.Client, mediator: httpx.Client) -> None:
    cases = []
    for days_ago in (2, 9, 5):
        received = datetime.now(UTC) - timedelta(days=days_ago)
        body = application(received_at=received.isoformat(), accept_on_receipt=True)
        dsp = ok(chair.post("/disputes", json=body), 201)["case_id"]
        ok(chair.post(f"/disputes/{dsp}/assign", json={"mediator": "med-1"}))
        cases.append(dsp)
    horizon = (today() + timedelta(days=40)).isoformat()
    queue = ok(mediator.get("/disputes", params={"deadline_before": horizon}))["items"]
    mine = [i for i in queue if i["case_id"] in cases]
    assert [i["case_id"] for i in mine] == [cases[1], cases[2], cases[0]]
    lefts = [i["days_left"] for i in queue]
    assert lefts == sorted(lefts)
    assert all(i["mediator"] == "med-1" for i in queue)
    soon = ok(mediator.get("/disputes", params={"deadline_before": today().isoformat()}))
    assert not {i["case_id"] for i in soon["items"]} & set(cases)


def test_extension_once_and_recusal_over_http(chair: httpx.Client, mediator: httpx.Client) -> None:
    dsp = ok(chair.post("/disputes", json=application(accept_on_receipt=True)), 201)["case_id"]
    refused = chair.post(f"/disputes/{dsp}/assign", json={"mediator": "pm-p01"})
    assert refused.status_code == 409 and "management" in refused.json()["detail"]
    ok(chair.post(f"/disputes/{dsp}/assign", json={"mediator": "med-1"}))
    consent = ["applicant", "respondent"]
    too_long = mediator.post(f"/disputes/{dsp}/extend", json={"days": 20, "consent": consent})
    assert too_long.status_code == 409
    assert too_long.headers["content-type"].startswith("application/problem+json")
    ok(mediator.post(f"/disputes/{dsp}/extend", json={"days": 10, "consent": consent}))
    again = mediator.post(f"/disputes/{dsp}/extend", json={"days": 5, "consent": consent})
    assert again.status_code == 409 and "already extended once" in again.json()["detail"]
    assert len(ok(chair.get(f"/disputes/{dsp}/history"))["events"]) == 4


BAD = [
    ("negative amount", {"claims": [{"description": "x", "amount": "-1"}]}, 422, "amount"),
    ("absurd amount", {"claims": [{"description": "x", "amount": "99999999999"}]}, 422, "amount"),
    ("fen fractions", {"claims": [{"description": "x", "amount": "1.001"}]}, 422, "amount"),
    ("knew in the future", {"known_since": "2099-01-01"}, 422, "future"),
    ("outside Art. 2", {"category": "canteen"}, 422, "category"),
    ("oral not recorded", {"form": "oral"}, 422, "on the spot"),
    ("no claims", {"claims": []}, 422, "claims"),
    ("unknown field", {"salary": 1}, 422, "salary"),
    ("unknown unit", {"unit": "demo/co/p99"}, 422, "p99"),
]


@pytest.mark.parametrize(("label", "over", "status", "mentions"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_problem_and_writes_nothing(
    rep: httpx.Client, label: str, over: dict[str, Any], status: int, mentions: str
) -> None:
    before = ok(rep.get("/disputes", params={"limit": 1}))["total"]
    response = rep.post("/disputes", json=application(**over))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert mentions in json.dumps(response.json(), ensure_ascii=False)
    assert ok(rep.get("/disputes", params={"limit": 1}))["total"] == before
