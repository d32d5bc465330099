"""Whatever fails beneath a route is answered as a problem+json 500 with a correlation id."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs

from services.common.problems import LastResort, install_problem_handlers

PERSONAL = "王小林 13800000001"


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(LastResort)
    install_problem_handlers(app)

    @app.get("/grievances/{case_id}")
    async def broken(case_id: str) -> dict[str, str]:
        raise ValueError(f"cannot read {PERSONAL} of {case_id}")

    @app.get("/fine")
    async def fine() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as test_client:
        yield test_client


async def test_a_bug_is_answered_as_a_problem_with_a_correlation_id_and_no_trace(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs() as logs:
        response = await client.get("/grievances/GRV-TEST00000001")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    correlation_id = body["correlation_id"]
    assert response.headers["X-Correlation-Id"] == correlation_id and len(correlation_id) == 32
    assert body["title"] == "Internal error" and correlation_id in body["detail"]
    assert PERSONAL not in response.text and "Traceback" not in response.text
    assert "ValueError" not in response.text
    failed = [line for line in logs if line["event"] == "request.failed"]
    assert len(failed) == 1
    line = failed[0]
    assert line["correlation_id"] == correlation_id and line["log_level"] == "error"
    assert line["path"] == "/grievances/GRV-TEST00000001" and line["error"] == "ValueError"
    assert line["at"].startswith("tests/unit/test_last_resort.py:") and "in broken" in line["at"]
    assert PERSONAL not in repr(line)


async def test_each_failure_gets_its_own_id_and_other_routes_go_on(
    client: httpx.AsyncClient,
) -> None:
    ids = {(await client.get("/grievances/GRV-X")).json()["correlation_id"] for _ in range(3)}
    assert len(ids) == 3
    assert (await client.get("/fine")).json() == {"status": "ok"}
    missing = await client.get("/nowhere")
    assert missing.status_code == 404 and "correlation_id" not in missing.json()
