"""The access matrix against the running services: every declared cell, every route declared."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from contracts.catalog import SERVICES
from services.common.auth import issue_token
from services.common.subkeys import subkey
from tests.integration.access import ACTOR_UNIT, CASE_UNIT, MATRIX, ROLES, SCOPES
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.reading import ok

pytestmark = pytest.mark.integration
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
# Ids that name no case of their kind: the matrix checks those routes' refusals.
NO_SUCH = {"/queries": "QRY-0000000MATRIX", "/groups": "GRP-0000000MATRIX"}
NO_SUCH["/followups"] = "FUP-0000000MATRIX"


@pytest.fixture(scope="module")
def mstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every case service and the audit service, with a grievance, a suggestion, a dispute."""
    with Stack(bootstrap, tmp_path_factory.mktemp("matrix"), "matrix") as s:
        for service in ("intake", "suggestions", "mediation", "followup", "audit"):
            s.start(service)
        warm_up(s)
        yield s


@pytest.fixture(scope="module")
def cases(mstack: Stack) -> dict[str, str]:
    """The case each resource's routes are asked about, all in demo/co/p01."""
    with mstack.client("intake") as rep:
        grievance = ok(rep.post("/grievances", json=GRIEVANCE), 201)["case_id"]
    with mstack.client("suggestions") as rep:
        body = {**SUGGESTION, "anonymous": True}
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


def ask(client: httpx.Client, method: str, path: str, token: str | None) -> int:
    """One cell: the route asked with a token (or none), a JSON body for a command."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params = {"unit": CASE_UNIT, "format": "csv"} if method == "GET" else None
    body: dict[str, Any] | None = {} if method == "POST" else None
    return client.request(method, path, headers=headers, params=params, json=body).status_code


def test_every_cell_of_the_matrix_holds_against_the_running_services(
    mstack: Stack, cases: dict[str, str]
) -> None:
    wrong: list[str] = []
    checked = 0
    tokens = bad_tokens(mstack)
    for service, rows in MATRIX.items():
        with httpx.Client(base_url=mstack.url(service), timeout=30) as client:
            for (method, path), rule in rows.items():
                address = concrete(path, cases)
                public = rule is not None and rule("worker_rep", "own") == 200 and path == "/health"
                for name, token in tokens.items():
                    got = ask(client, method, address, token)
                    want = 200 if public else 401
                    checked += 1
                    if got != want:
                        wrong.append(f"{service} {method} {path} [{name} token]: {got}, not {want}")
                if rule is None:
                    continue
                for role in ROLES:
                    for scope in SCOPES:
                        token = mstack.token(
                            user=f"{role}-{scope}", role=role, unit=ACTOR_UNIT[scope]
                        )
                        got, want = ask(client, method, address, token), rule(role, scope)
                        checked += 1
                        if got != want:
                            wrong.append(
                                f"{service} {method} {path} [{role}, {scope}]: {got}, not {want}"
                            )
    assert not wrong, f"{len(wrong)} of {checked} cells differ:\n" + "\n".join(wrong)
    routes = sum(len(rows) for rows in MATRIX.values())
    ruled = sum(rule is not None for rows in MATRIX.values() for rule in rows.values())
    assert checked == routes * len(tokens) + ruled * len(ROLES) * len(SCOPES)
