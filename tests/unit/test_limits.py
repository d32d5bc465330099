"""Rate limits keyed on who a request is from, bounded in memory, answered with Retry-After."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from services.common.auth import issue_token
from services.common.limits import Buckets, LimitsMiddleware, client_of, forwarded
from services.common.settings import Settings

SETTINGS = Settings(environment="test", jwt_secret="j" * 40, master_key="m" * 40)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_holds_a_minutes_requests_and_refills_evenly() -> None:
    clock = Clock()
    buckets = Buckets(per_minute=60, clock=clock)
    assert all(buckets.take("a") == 0 for _ in range(60))
    assert buckets.take("a") == 1.0  # one request a second comes back
    assert buckets.take("b") == 0, "another client has a bucket of its own"
    clock.now = 1.0
    assert buckets.take("a") == 0 and buckets.take("a") > 0


def test_the_clients_remembered_are_bounded() -> None:
    buckets = Buckets(per_minute=1, cap=100, clock=Clock())
    for n in range(1000):
        buckets.take(f"client-{n}")
    assert len(buckets) == 100


def scope(
    authorization: str | None = None, cookie: str | None = None, port: int = 1
) -> dict[str, Any]:
    headers = []
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return {"type": "http", "headers": headers, "client": ("10.0.0.7", port)}


def test_a_request_is_counted_for_its_verified_subject_else_its_address() -> None:
    token = issue_token(SETTINGS, user="rep-p01", role="worker_rep", unit="demo/co/p01")
    assert client_of(SETTINGS, scope(f"Bearer {token}")) == "user:rep-p01"
    # Garbage in the header buys no fresh bucket; nor does another connection's port.
    assert client_of(SETTINGS, scope("Bearer garbage-1", port=2)) == "addr:10.0.0.7"
    assert client_of(SETTINGS, scope("Bearer garbage-2")) == "addr:10.0.0.7"
    assert client_of(SETTINGS, scope(cookie=f"tz_session={token}"), "tz_session") == "user:rep-p01"
    assert client_of(SETTINGS, scope(cookie='bad="'), "tz_session") == "addr:10.0.0.7"


def test_only_a_trusted_hop_names_the_client_and_only_as_an_address() -> None:
    trusted = "10.0.0.5, 10.0.0.6"
    assert forwarded("10.0.0.5", "203.0.113.7", trusted) == "203.0.113.7"
    # The last address is the one the trusted hop saw itself; what came before, anyone wrote.
    assert forwarded("10.0.0.6", "198.51.100.1, 203.0.113.7", trusted) == "203.0.113.7"
    assert forwarded("10.0.0.5", "2001:db8::0:1", trusted) == "2001:db8::1"
    assert forwarded("10.0.0.5", "", trusted) == "10.0.0.5"
    assert forwarded("10.0.0.5", "a-new-bucket-each-time", trusted) == "10.0.0.5"
    assert forwarded("10.0.0.7", "203.0.113.7", trusted) == "10.0.0.7"
    assert forwarded("10.0.0.5", "203.0.113.7", "") == "10.0.0.5"
    behind = SETTINGS.model_copy(update={"trusted_proxies": "10.0.0.7"})
    named = scope("Bearer garbage")
    named["headers"].append((b"x-forwarded-for", b"203.0.113.7"))
    assert client_of(behind, named) == "addr:203.0.113.7"
    assert client_of(SETTINGS, named) == "addr:10.0.0.7"


async def test_an_eager_client_hears_429_problem_json_with_retry_after() -> None:
    app = FastAPI()

    @app.get("/x")
    async def x() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(LimitsMiddleware, settings=SETTINGS, max_body=100, per_minute=2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        token = issue_token(SETTINGS, user="rep-p01", role="worker_rep", unit="demo/co/p01")
        mine = {"Authorization": f"Bearer {token}"}
        assert [(await client.get("/x", headers=mine)).status_code for _ in range(2)] == [200, 200]
        refused = await client.get("/x", headers=mine)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1 and refused.json()["status"] == 429
        assert (await client.get("/x")).status_code == 200, "someone else is not held up"


async def test_probes_are_counted_apart_from_their_address() -> None:
    app = FastAPI()

    @app.get("/x")
    async def x() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(LimitsMiddleware, settings=SETTINGS, max_body=100, per_minute=2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        bad = {"Authorization": "Bearer garbage"}
        assert [(await client.get("/x", headers=bad)).status_code for _ in range(3)][-1] == 429
        assert (await client.get("/health")).status_code == 200, "a probe still answers"
        assert [(await client.get("/health")).status_code for _ in range(2)][-1] == 429
