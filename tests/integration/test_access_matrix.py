"""The access matrix against the running services: every declared cell, every route declared."""

from __future__ import annotations

import csv
import importlib
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from contracts.catalog import SERVICES
from services.cli.deployment import free_port
from services.common.auth import issue_token
from services.common.subkeys import subkey
from tests.integration.access import (
    ACTOR_UNIT,
    CASE_UNIT,
    CHANGES,
    MATRIX,
    PUBLIC,
    ROLES,
    SCOPES,
    holds,
)
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.polling import eventually
from tests.integration.reading import ok

# One stack of seven services on a shared machine, then some eighteen hundred requests.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
SUGGESTION = {"unit": CASE_UNIT, "topic": "welfare", "title": "食堂", "content": "菜品单一"}
DISPUTE: dict[str, Any] = {
    "unit": CASE_UNIT,
    "form": "written",
    "applicant": {"name": "李建国", "phone": "13900000002"},
    "respondent": {"employer": "演示建设集团有限公司", "management": ["pm-p01"]},
    "category": "remuneration",
    "matters": "十月工资未按时足额发放",
    "reasons": "公司称资金周转困难",
    "claims": [{"description": "补发十月工资", "amount": "12500.00"}],
    "known_since": (datetime.now(UTC) - timedelta(days=60)).date().isoformat(),
}
DAY = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
PAST = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
# A valid body for each command route: a refusal is then about who asks, not what is sent.
BODIES: dict[str, dict[str, Any]] = {
    "/grievances": GRIEVANCE,
    "/grievances/resolve": {"how": "on_site", "resolution": "已解决"},
    "/grievances/escalate": {"owner": "lead-p01", "due": DAY},
    "/grievances/decision": {"decision": "同意"},
    "/grievances/refer-to-mediation": {"dispute_category": "remuneration"},
    "/grievances/feedback": {"note": "已反馈"},
    "/grievances/reopen": {"reason": "未解决"},
    "/suggestions": {**SUGGESTION, "anonymous": True},
    "/suggestions/votes": {"member": "member-1", "vote": "for"},
    "/suggestions/implement": {"note": "已落实"},
    "/suggestions/refer-to-leadership": {"owner": "lead-p01", "due": DAY},
    "/suggestions/leadership-response": {"response": "同意"},
    "/suggestions/open-review": {"meeting": "职代会"},
    "/queries/answer": {"answer": "答复"},
    "/queries/reject-answer": {"reason": "不满意"},
    "/groups/replace-member": {"outgoing": "a", "incoming": "b", "congress_session": "第一届"},
    "/disputes": DISPUTE,
    "/disputes/decline": {"code": "other", "reason": "其他"},
    # The mediator of the case's own unit, as the matrix's tokens name users.
    "/disputes/assign": {"mediator": "mediator-own"},
    "/disputes/sessions": {"held_on": PAST, "attendees": ["med-1"], "minutes": "记录"},
    "/disputes/extend": {"days": 15},
    "/disputes/agreement": {"terms": "补发", "amount": "100.00", "perform_by": DAY},
    "/disputes/breached": {"reason": "未履行"},
    "/disputes/fail": {"reason": "未达成"},
    "/followups/progress": {"note": "进展"},
    "/followups/contact": {"satisfaction": "satisfied"},
    "/typical-cases/edit": {
        "title": "拖欠工资案",
        "text": "某用人单位拖欠工资。",
        "lesson": "及时保存工资记录。",
        "articles": ["《劳动合同法》第三十条"],
    },
    "/typical-cases/return": {"note": "请补充法律依据"},
    "/typical-cases/appoint-reviewer": {"reviewer": "chair-co"},
    "/volunteers/availability": {"availability": "周末"},
    "/help/record": {"hours": 2, "actions": ["legal_advice"]},
    # Receipt numbers of the right shape that name no case (one each: wrong PINs lock one).
    "/receipts/lookup": {"receipt": "GRV-MATRIX-0000", "pin": "000000"},
    "/receipts/notes": {
        "receipt": "GRV-MATRIX-0001",
        "pin": "000000",
        "kind": "note",
        "note": "无",
    },
}
# Ids that name no case of their kind: the matrix checks those routes' refusals.
NO_SUCH = {"/queries": "QRY-0000000MATRIX", "/groups": "GRP-0000000MATRIX"}
NO_SUCH["/followups"] = "FUP-0000000MATRIX"
NO_SUCH["/notifications"] = "NTF-0000000MATRIX"
NO_SUCH |= {"/typical-cases": "TYP-0000000MATRIX", "/classrooms": "CLS-0000000MATRIX"}
NO_SUCH |= {"/volunteers": "VOL-0000000MATRIX", "/help": "HLP-0000000MATRIX"}


@pytest.fixture(scope="module")
def mstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every case service and the audit service, with a grievance, a suggestion, a dispute."""
    with Stack(bootstrap, tmp_path_factory.mktemp("matrix"), "matrix") as s:
        # The local mailbox listens on a port of its own, beside other deployments' mailboxes.
        s.env["TAIZHANG_NOTIFY_SMTP_PORT"] = str(free_port())
        for service in (
            "intake",
            "suggestions",
            "mediation",
            "followup",
            "audit",
            "notify",
            "library",
        ):
            s.start(service)
        warm_up(s)
        yield s


@pytest.fixture(scope="module")
def cases(mstack: Stack) -> dict[str, str]:
    """The case each resource's routes are asked about, all in demo/co/p01."""
    with mstack.client("intake") as rep:
        grievance = ok(rep.post("/grievances", json=GRIEVANCE), 201)["case_id"]
    with mstack.client("suggestions") as rep:
        body = {**SUGGESTION, "worker": {"name": "张建华", "phone": "13700000003"}}
        suggestion = ok(rep.post("/suggestions", json=body), 201)["case_id"]
    with mstack.client("mediation", **CHAIR) as chair:
        dispute = ok(chair.post("/disputes", json=DISPUTE), 201)["case_id"]
    return {
        "/grievances": grievance,
        "/suggestions": suggestion,
        "/disputes": dispute,
        "/audit": grievance,
        **NO_SUCH,
    }


def openapi_routes(service: str) -> set[tuple[str, str]]:
    """The routes a service serves, as its OpenAPI document lists them."""
    app = importlib.import_module(SERVICES[service].module).create_app()
    return {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}


def test_every_route_of_every_service_has_a_declared_row() -> None:
    # Every service with an API of its own; the portal's pages are checked in the browser.
    assert set(MATRIX) == set(SERVICES) - {"portal"}
    for service, rows in MATRIX.items():
        served = openapi_routes(service)
        assert not served - set(rows), f"{service}: routes without a row in the matrix"
        assert not set(rows) - served, f"{service}: rows for routes it does not serve"


def concrete(path: str, cases: dict[str, str]) -> str:
    """The address a row's path names for the matrix's cases."""
    if "{case_id}" in path:
        prefix = "/audit" if path.startswith("/audit") else "/" + path.split("/")[1]
        path = path.replace("{case_id}", cases[prefix])
    return path.replace("{user_id}", "matrix-nobody")


def bad_tokens(stack: Stack) -> dict[str, str | None]:
    """No token, an expired one, and one for another audience."""
    settings = stack.settings
    now = int(time.time())
    claims = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": "rep-p01",
        "role": "worker_rep",
        "unit": CASE_UNIT,
        "jti": "expired-matrix",
        "iat": now - 7200,
        "exp": now - 3600,
    }
    key = subkey(settings.jwt_secret, "tokens", settings.key_version)
    expired = jwt.encode(claims, key, algorithm="HS256", headers={"kid": "tokens/v1"})
    other = issue_token(
        settings, user="rep-p01", role="worker_rep", unit=CASE_UNIT, audience="another-system"
    )
    return {"none": None, "expired": expired, "audience": other}


def body_for(path: str) -> dict[str, Any]:
    """The body a command route is sent: its resource and verb name it."""
    parts = path.strip("/").split("/")
    return BODIES.get(path) or BODIES.get("/".join(["", parts[0], *parts[2:]]), {})


def ask(client: httpx.Client, method: str, path: str, route: str, token: str | None) -> int:
    """One cell: the route asked with a token (or none), a valid body for a command."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params = {"unit": CASE_UNIT, "format": "csv"} if method == "GET" else None
    body = body_for(route) if method == "POST" else None
    return client.request(method, path, headers=headers, params=params, json=body).status_code


def test_every_cell_of_the_matrix_holds_against_the_running_services(
    mstack: Stack, cases: dict[str, str]
) -> None:
    wrong: list[str] = []
    checked = 0
    carried: set[str] = set()
    tokens = bad_tokens(mstack)
    for service, rows in MATRIX.items():
        with httpx.Client(base_url=mstack.url(service), timeout=30) as client:
            for (method, path), rule in rows.items():
                address = concrete(path, cases)
                unsigned = rule("", "own") if rule in PUBLIC and rule is not None else 401
                for name, token in tokens.items():
                    got = ask(client, method, address, path, token)
                    checked += 1
                    if got != unsigned:
                        wrong.append(f"{service} {method} {path} [{name}]: {got}, not {unsigned}")
                if rule is None or rule in PUBLIC:
                    continue  # a public route answers every role as it answers no token
                for role in ROLES:
                    for scope in SCOPES:
                        want = rule(role, scope)
                        if want is None:
                            continue
                        token = mstack.token(
                            user=f"{role}-{scope}", role=role, unit=ACTOR_UNIT[scope]
                        )
                        got = ask(client, method, address, path, token)
                        checked += 1
                        if want == CHANGES and 200 <= got < 300:
                            carried.add(f"{service} {method} {path}")
                        if not holds(want, got):
                            wrong.append(
                                f"{service} {method} {path} [{role}, {scope}]: {got}, not {want}"
                            )
    assert not wrong, f"{len(wrong)} of {checked} cells differ:\n" + "\n".join(wrong)
    routes = sum(len(rows) for rows in MATRIX.values())
    cells = sum(
        rule(role, scope) is not None
        for rows in MATRIX.values()
        for rule in rows.values()
        if rule is not None and rule not in PUBLIC
        for role in ROLES
        for scope in SCOPES
    )
    assert checked == routes * len(tokens) + cells
    # Each route that declares who may change a case was carried out for one of them at least,
    # but for the few a case in the state the matrix leaves it in can only refuse.
    declared = {
        f"{service} {method} {path}"
        for service, rows in MATRIX.items()
        for (method, path), rule in rows.items()
        if rule is not None and any(rule(r, s) == CHANGES for r in ROLES for s in SCOPES)
    }
    assert len(carried) >= len(declared) // 2, sorted(declared - carried)


def test_the_ledger_shows_each_role_a_case_as_its_services_api_does(
    mstack: Stack, cases: dict[str, str]
) -> None:
    def ledger(**who: str) -> dict[str, dict[str, str]]:
        with mstack.client("audit", **who) as client:
            answer = client.get("/audit/export", params={"unit": CASE_UNIT, "format": "csv"})
        assert answer.status_code == 200, answer.text
        rows = csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig")))
        return {r["case_id"]: r for r in rows}

    grievance, suggestion, dispute = (
        cases[k] for k in ("/grievances", "/suggestions", "/disputes")
    )
    rep = eventually(
        lambda: ledger(),
        until=lambda rows: {grievance, suggestion, dispute} <= set(rows),
        timeout=30,
        what="the ledger to hold the matrix's three cases",
    )
    # A rep sees the worker of a grievance and of a suggestion, not a dispute's applicant.
    assert rep[grievance]["person"] == "王小林" and rep[suggestion]["person"] == "张建华"
    assert rep[dispute]["person"] == "[sealed]" and rep[dispute]["category"] == "[sealed]"
    officer = ledger(user="fup-p01", role="followup_officer", unit=CASE_UNIT)
    assert officer[grievance]["person"] == "王小林"
    assert officer[suggestion]["person"] == "[sealed]", "the suggestions API hides its author"
    assert officer[dispute]["person"] == "[sealed]"
    chair = ledger(**CHAIR)
    assert chair[dispute]["person"] == "李建国" and chair[dispute]["category"] == "remuneration"
