"""The case library and the volunteers over real HTTP on the real broker, beside mediation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.common.calendar import local_date
from tests.integration.conftest import Stack
from tests.integration.polling import eventually
from tests.integration.reading import ok

pytestmark = pytest.mark.integration

CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
MEDIATOR = {"user": "med-1", "role": "mediator", "unit": "demo/co"}
REP = {"user": "rep-p01", "role": "worker_rep", "unit": "demo/co/p01"}
REVIEWER = {"user": "med-2", "role": "mediator", "unit": "demo/co"}
AUDITOR = {"user": "aud", "role": "auditor", "unit": "demo"}
LAWYER = {"user": "vol-law-1", "role": "volunteer", "unit": "demo/co"}
WORKER_VOLUNTEER = {"user": "vol-w-1", "role": "volunteer", "unit": "demo/co"}
NAME, PHONE, EMPLOYER = "李建国", "13900000002", "演示建设集团有限公司"
ARTICLE = "《劳动合同法》第三十条"


def today() -> str:
    return local_date(datetime.now(UTC)).isoformat()


def application() -> dict[str, Any]:
    return {
        "unit": "demo/co/p01",
        "form": "written",
        "applicant": {"name": NAME, "phone": PHONE},
        "respondent": {"employer": EMPLOYER, "management": ["pm-p01"]},
        "category": "remuneration",
        "matters": f"{NAME}十月工资未按时足额发放，{EMPLOYER}称资金周转困难",
        "claims": [{"description": "补发十月工资", "amount": "12500.00"}],
        "known_since": (local_date(datetime.now(UTC)) - timedelta(days=30)).isoformat(),
        "accept_on_receipt": True,
    }


def settled(chair: httpx.Client, mediator: httpx.Client) -> str:
    """A dispute mediated to an agreement of 12,500.50 yuan that was carried out."""
    dsp = str(ok(chair.post("/disputes", json=application()), 201)["case_id"])
    ok(chair.post(f"/disputes/{dsp}/assign", json={"mediator": "med-1"}))
    perform_by = (local_date(datetime.now(UTC)) + timedelta(days=20)).isoformat()
    agreement = {
        "terms": f"{EMPLOYER}分两期补发工资",
        "amount": "12500.50",
        "perform_by": perform_by,
        "signed_by": ["applicant", "respondent", "mediator"],
    }
    ok(mediator.post(f"/disputes/{dsp}/agreement", json=agreement))
    ok(chair.post(f"/disputes/{dsp}/performed", json={}))
    return dsp


@pytest.fixture(scope="module")
def lstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Mediation and the library on their own topic prefix, for this module."""
    with Stack(bootstrap, tmp_path_factory.mktemp("library"), "library") as s:
        s.start("mediation")
        s.start("library")
        with s.client("mediation", **CHAIR) as chair:
            eventually(
                lambda: chair.get("/disputes"),
                until=lambda response: response.status_code == 200,
                timeout=90,
                what="the mediation API to answer",
            )
        yield s


@pytest.fixture(scope="module")
def clients(lstack: Stack) -> Iterator[dict[str, httpx.Client]]:
    made = {
        "chair": lstack.client("mediation", **CHAIR),
        "mediator": lstack.client("mediation", **MEDIATOR),
        "lib_chair": lstack.client("library", **CHAIR),
        "lib_mediator": lstack.client("library", **MEDIATOR),
        "lib_rep": lstack.client("library", **REP),
        "lib_auditor": lstack.client("library", **AUDITOR),
        "lib_reviewer": lstack.client("library", **REVIEWER),
        "lawyer": lstack.client("library", **LAWYER),
        "lawyer_on_mediation": lstack.client("mediation", **LAWYER),
        "other_volunteer": lstack.client("library", **WORKER_VOLUNTEER),
    }
    yield made
    for client in made.values():
        client.close()


def proposal(lib: httpx.Client, dsp: str) -> dict[str, Any]:
    """Propose a dispute once the library has seen it closed."""
    created = eventually(
        lambda: lib.post("/typical-cases", json={"unit": "demo/co", "source_case_id": dsp}),
        until=lambda response: response.status_code == 201,
        timeout=60,
        what=f"the library to know {dsp} closed",
    )
    return ok(lib.get(f"/typical-cases/{created.json()['case_id']}"))


def edit(lib: httpx.Client, typ: str, text: str) -> None:
    body = {
        "title": "拖欠工资调解案",
        "text": text,
        "lesson": "用人单位应按时足额支付劳动报酬；职工应保留工资条和考勤记录。",
        "articles": [ARTICLE, "《劳动争议调解仲裁法》第十四条"],
        "tags": ["欠薪", "调解"],
    }
    ok(lib.post(f"/typical-cases/{typ}/edit", json=body))


def test_a_closed_dispute_becomes_a_published_typical_case_naming_nobody(
    clients: dict[str, httpx.Client],
) -> None:
    c = clients
    dsp = settled(c["chair"], c["mediator"])
    draft = proposal(c["lib_mediator"], dsp)
    typ = draft["case_id"]
    assert draft["status"] == "drafted"
    for value in (NAME, PHONE, EMPLOYER):
        assert value not in draft["text"], value
    assert "一万元至五万元" in draft["text"] and "source_case_id" not in draft

    # A text that still names the worker is approved by a person but refused publication.
    edit(c["lib_mediator"], typ, f"{draft['text']}\n{NAME}后来表示满意。")
    ok(c["lib_chair"].post(f"/typical-cases/{typ}/approve", json={}))
    refused = c["lib_mediator"].post(f"/typical-cases/{typ}/publish", json={})
    assert refused.status_code == 422, refused.text
    assert NAME not in refused.text and refused.json()["title"] == "Personal data in the text"
    # A phone number is refused before approval.
    edit(c["lib_mediator"], typ, f"{draft['text']}\n联系电话 139-0000-0002")
    phoned = c["lib_chair"].post(f"/typical-cases/{typ}/approve", json={})
    assert phoned.status_code == 422 and "phone number" in phoned.json()["detail"]
    # The proposer cannot approve their own case; a reviewer the auditor appoints does.
    edit(c["lib_mediator"], typ, draft["text"])
    own = c["lib_mediator"].post(f"/typical-cases/{typ}/approve", json={})
    assert own.status_code == 403
    assert c["lib_reviewer"].post(f"/typical-cases/{typ}/approve", json={}).status_code == 403
    appoint = {"reviewer": "med-2"}
    assert c["lib_chair"].post(f"/typical-cases/{typ}/appoint-reviewer", json=appoint).is_error
    ok(c["lib_auditor"].post(f"/typical-cases/{typ}/appoint-reviewer", json=appoint))
    ok(c["lib_reviewer"].post(f"/typical-cases/{typ}/approve", json={"note": "同意发布"}))
    ok(c["lib_mediator"].post(f"/typical-cases/{typ}/publish", json={}))

    found = ok(c["lib_rep"].get("/typical-cases", params={"article": "第三十条"}))
    assert [i["case_id"] for i in found["items"]] == [typ]
    assert "source_case_id" not in found["items"][0] and "personal" not in found["items"][0]
    assert ok(c["lib_rep"].get("/typical-cases", params={"tag": "欠薪"}))["total"] == 1
    assert ok(c["lib_rep"].get("/typical-cases", params={"category": "wages"}))["total"] == 0
    # Its history names the source: the auditor's alone, not even its proposer's.
    assert c["lib_mediator"].get(f"/typical-cases/{typ}/history").status_code == 403
    assert ok(c["lib_rep"].get(f"/typical-cases/{typ}"))["status"] == "published"
    seen = ok(c["lib_auditor"].get(f"/typical-cases/{typ}"))
    assert seen["source_case_id"] == dsp
    history = ok(c["lib_auditor"].get(f"/typical-cases/{typ}/history"))["events"]
    assert [e["event_type"] for e in history][-3:] == [
        "library.reviewer_appointed",
        "library.approved",
        "library.published",
    ]

    # A classroom session uses it, and the dashboard counts it.
    session = {
        "unit": "demo/co",
        "held_on": today(),
        "place": "公司工会职工学堂",
        "cases": [typ],
        "attendance": [{"role": "worker", "count": 40}, {"role": "management", "count": 6}],
    }
    ok(c["lib_chair"].post("/classrooms", json=session), 201)
    assert c["lib_rep"].post("/classrooms", json=session).status_code == 403
    stats = ok(c["lib_chair"].get("/stats", params={"unit": "demo/co"}))
    assert stats["sessions"] == 1 and stats["attendees"] == 46
    assert stats["typical_cases_published"] == 1


def volunteer(lib: httpx.Client, user: str, kind: str, name: str) -> str:
    body = {
        "unit": "demo/co",
        "team": "盐田第一护薪队",
        "user_id": user,
        "kind": kind,
        "name": name,
        "phone": "13700000009",
        "skills": ["wages"],
        "languages": ["zh"],
        "availability": "周末",
    }
    return str(ok(lib.post("/volunteers", json=body), 201)["case_id"])


def test_a_lawyer_volunteer_helps_on_one_dispute_and_sees_no_other(
    clients: dict[str, httpx.Client],
) -> None:
    c = clients
    lawyer = volunteer(c["lib_chair"], "vol-law-1", "lawyer_volunteer", "周律师")
    worker = volunteer(c["lib_chair"], "vol-w-1", "worker_volunteer", "陈师傅")
    roster = ok(c["lib_mediator"].get("/volunteers"))["items"]
    assert {v["user_id"] for v in roster} == {"vol-law-1", "vol-w-1"}
    assert all("name" not in v for v in roster)
    assert ok(c["lib_chair"].get(f"/volunteers/{lawyer}"))["name"] == "周律师"

    dsp = settled(c["chair"], c["mediator"])
    other = str(ok(c["chair"].post("/disputes", json=application()), 201)["case_id"])

    def ask(source: str, vol: str) -> str:
        body = {"unit": "demo/co", "source_case_id": source, "volunteer_case_id": vol}
        made = eventually(
            lambda: c["lib_mediator"].post("/help", json={**body, "brief": "核对工资记录"}),
            until=lambda response: response.status_code == 201,
            timeout=60,
            what=f"the library to know {source}",
        )
        return str(made.json()["case_id"])

    mine, theirs = ask(dsp, lawyer), ask(other, worker)
    listed = ok(c["lawyer"].get("/help"))["items"]
    assert [h["case_id"] for h in listed] == [mine]
    assert c["lawyer"].get(f"/help/{theirs}").status_code == 404
    assert c["lawyer"].post(f"/help/{theirs}/accept", json={}).status_code == 404
    assert c["lawyer"].get("/typical-cases", params={"drafts": True}).status_code == 403
    assert c["lawyer_on_mediation"].get(f"/disputes/{dsp}").status_code == 404
    assert c["lawyer_on_mediation"].get("/disputes").status_code == 403

    ok(c["lawyer"].post(f"/help/{mine}/accept", json={}))
    body = {"hours": 2.5, "actions": ["check_pay_records", "legal_advice"]}
    ok(c["lawyer"].post(f"/help/{mine}/record", json=body))
    ok(c["other_volunteer"].post(f"/help/{theirs}/decline", json={"reason": "时间冲突"}))
    declined = ok(c["lib_mediator"].get(f"/help/{theirs}/history"))["events"][-1]
    assert "时间冲突" not in json.dumps(declined["payload"], ensure_ascii=False)
    assert declined["opened"] == {"reason": "时间冲突"}
    ok(c["lib_mediator"].post(f"/help/{mine}/end", json={}))
    assert c["lawyer"].get(f"/help/{mine}").status_code == 404

    stats = ok(c["lib_chair"].get("/stats", params={"unit": "demo/co"}))
    assert stats["teams"] == 1 and stats["volunteers"] == 2
    assert stats["help_requests"] == 2 and stats["help_given"] == 1
    assert stats["hours"] == 2.5 and stats["recovered_fen"] == 1_250_050
