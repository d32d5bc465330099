"""Every service's API fuzzed on the cases that exist: no answer 5xx, every refusal problem+json.

A smaller run of `make fuzz`: a few hundred requests a service, drawn from the OpenAPI
documents the services publish, most of them naming seeded cases or cases the run opened.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.campaign import SERVICES, campaign
from tests.fuzz.harness import Tally
from tests.integration.conftest import Stack

# Every service is fuzzed in the first test's setup, seven of them in a row: the default
# five minutes a test are for one test's work, not seven services'.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REQUESTS = 300
CASE_SERVICES = ("intake", "suggestions", "mediation", "followup")


@pytest.fixture(scope="module")
def tallies(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Tally]]:
    """Seed the cases, then fuzz each service with a few hundred requests."""
    with Stack(bootstrap, tmp_path_factory.mktemp("fuzz"), "fuzz") as stack:
        # Every request is the point: no client may be turned away for sending too many.
        stack.env["TAIZHANG_RATE_LIMIT_PER_MINUTE"] = str(10**9)
        # The portal calls the others: it starts once they have their ports.
        for service in sorted(SERVICES, key=lambda s: s == "portal"):
            stack.start(service)
        yield campaign(stack, REQUESTS, boundaries=False)


def _named(tallies: list[Tally], *, server_errors: bool) -> str:
    """Each request kept that broke the rule, as sent and as answered, one a line."""
    found = [f for t in tallies for f in t.findings if (f.status >= 500) == server_errors]
    return "\n".join(str(f) for f in found)


def test_no_request_is_answered_with_a_server_error(tallies: list[Tally]) -> None:
    counts = {t.service: t.server_errors for t in tallies}
    assert counts == dict.fromkeys(SERVICES, 0), f"{counts}\n{_named(tallies, server_errors=True)}"


def test_every_refusal_is_a_problem_document(tallies: list[Tally]) -> None:
    counts = {t.service: t.malformed for t in tallies}
    assert counts == dict.fromkeys(SERVICES, 0), f"{counts}\n{_named(tallies, server_errors=False)}"


def test_each_service_gets_its_requests_and_they_reach_existing_cases(
    tallies: list[Tally],
) -> None:
    assert [t.service for t in tallies] == list(SERVICES)
    for tally in tallies:
        assert tally.requests >= REQUESTS and not tally.errors, (tally.service, tally.errors)
        # Most requests name a case that exists, so refusals come from the rules, not a 404.
        assert tally.on_cases >= tally.requests // 3, (tally.service, tally.on_cases)
    for tally in tallies:
        if tally.service in CASE_SERVICES:
            accepted = sum(n for status, n in tally.case_statuses.items() if status < 300)
            refused = tally.case_statuses[409] + tally.case_statuses[422]
            assert accepted > 0 and refused > 0, (tally.service, tally.case_statuses)
