"""Rate limits against running services: one budget per verified user, else per address."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
# Small enough to exhaust in a second; refilled at one request every three seconds.
BUDGET = 20
# Requests that may be let through beyond the budget while it refills during the asking.
SLACK = 3
# Where the portal's requests come from, and another address of this machine that is not it.
PORTAL_HOP, STRANGER = "127.0.0.1", "127.0.0.2"


@pytest.fixture(scope="module")
def lstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The intake service and the portal, each allowing BUDGET requests a minute per client.

    The portal's hop is this machine's first loopback address, which the APIs trust to name
    the visitors it forwards.
    """
    with Stack(bootstrap, tmp_path_factory.mktemp("limits"), "limits") as s:
        s.env["TAIZHANG_RATE_LIMIT_PER_MINUTE"] = str(BUDGET)
        s.env["TAIZHANG_TRUSTED_PROXIES"] = PORTAL_HOP
        s.start("intake")
        s.start_portal()
        yield s


def until_refused(ask: Iterator[httpx.Response]) -> tuple[int, httpx.Response]:
    """Ask until the first 429; return how many were answered before it, and the 429."""
    for answered, response in enumerate(ask):
        if response.status_code == 429:
            return answered, response
        assert answered <= BUDGET + SLACK, "the budget was never spent"
    raise AssertionError("asked without end")


def mostly_refused(ask: Iterator[httpx.Response]) -> bool:
    """Whether a client over budget stays so: a quick handful of asks, few let through.

    The budget refills one request every three seconds, so one of them may be answered.
    """
    codes = [r.status_code for r in ask]
    return sum(c == 429 for c in codes) >= len(codes) - 2


def assert_throttled(response: httpx.Response) -> None:
    """A 429 that says what to do: problem+json, and when to come back."""
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 429
    assert 1 <= int(response.headers["retry-after"]) <= 60


def test_a_user_over_budget_is_slowed_and_no_one_else(lstack: Stack) -> None:
    url = lstack.url("intake")
    with lstack.client("intake") as rep, lstack.client("intake", user="rep-p02") as other:
        answered, refused = until_refused(rep.get("/grievances") for _ in range(BUDGET + SLACK + 1))
        assert BUDGET - SLACK <= answered <= BUDGET + SLACK
        assert_throttled(refused)
        assert mostly_refused(rep.get("/grievances") for _ in range(5)), "still over budget"
        assert other.get("/grievances").status_code == 200, "another user has a budget of their own"
        # A client without a token is counted by its address, apart from both users.
        assert httpx.get(f"{url}/grievances").status_code == 401


def test_tokens_that_do_not_verify_share_the_address_budget(lstack: Stack) -> None:
    url = lstack.url("intake")
    garbage = [
        lambda i: f"Bearer garbage-{i}",
        lambda i: f"Basic {i:08d}",
        lambda i: f"Bearer {lstack.token()[:-4]}{i:04d}",  # a real token's signature spoilt
        lambda i: f"bearer eyJ{i}.eyJ{i}.{i}",
    ]

    def asked() -> Iterator[httpx.Response]:
        # A connection of its own for each: nothing but the address is the same.
        for i in range(BUDGET + SLACK + 1):
            headers = {"Authorization": garbage[i % len(garbage)](i)}
            yield httpx.get(f"{url}/grievances", headers=headers, timeout=10)

    # Each value is new, yet all of them are one client: this one, by its address.
    answered, refused = until_refused(asked())
    assert answered <= BUDGET + SLACK
    assert_throttled(refused)
    with httpx.Client(base_url=url, timeout=10) as anonymous:
        assert mostly_refused(anonymous.get("/grievances") for _ in range(5))
    # A verified user from the same address is not slowed by it, and probes still answer.
    with lstack.client("intake", user="rep-p03") as rep:
        assert rep.get("/grievances").status_code == 200
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200


def test_the_portal_limits_its_visitors_too(lstack: Stack) -> None:
    url = lstack.url("portal")
    with httpx.Client(base_url=url, timeout=10) as visitor:
        answered, refused = until_refused(visitor.get("/signin") for _ in range(BUDGET + SLACK + 1))
        assert answered <= BUDGET + SLACK
        assert_throttled(refused)
    # A signed-in user's pages are counted by the token in the session cookie.
    with httpx.Client(base_url=url, timeout=30) as member:
        member.cookies.set("tz_session", lstack.token(user="rep-p04"))
        assert member.get("/signin").status_code != 429


def test_an_api_believes_the_visitor_the_portal_names_and_no_one_else(lstack: Stack) -> None:
    url = lstack.url("intake")

    def named(client: httpx.Client, visitor: str) -> httpx.Response:
        return client.get("/grievances", headers={"X-Forwarded-For": visitor})

    # Through the portal's hop each anonymous visitor has a budget of their own.
    with httpx.Client(base_url=url, timeout=10) as portal:
        answered, refused = until_refused(
            named(portal, "203.0.113.7") for _ in range(BUDGET + SLACK + 1)
        )
        assert BUDGET - SLACK <= answered <= BUDGET + SLACK
        assert_throttled(refused)
        assert named(portal, "203.0.113.8").status_code == 401, "another visitor is not slowed"
    # From any other address the header names no one: all it names is that one address.
    transport = httpx.HTTPTransport(local_address=STRANGER)
    with httpx.Client(base_url=url, timeout=10, transport=transport) as stranger:
        answered, refused = until_refused(
            named(stranger, f"198.51.100.{i}") for i in range(BUDGET + SLACK + 1)
        )
        assert BUDGET - SLACK <= answered <= BUDGET + SLACK
        assert_throttled(refused)
