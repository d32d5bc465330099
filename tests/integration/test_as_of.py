"""Figures as of an instant on the real services: later events, back-dated ones too, move none."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import sync_playwright

from services.common.calendar import SHANGHAI
from services.followup.policies import followup_id_for
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.polling import eventually
from tests.integration.reading import ok
from tests.integration.test_portal_e2e import ARGS, CHROMIUM, DESKTOP, shot, signed_in

pytestmark = pytest.mark.integration
UNIT = "demo/co/p04"
REP = {"user": "rep-p04", "role": "worker_rep", "unit": UNIT}
OFFICER = {"user": "fup-p04", "role": "followup_officer", "unit": UNIT}
CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
STATS = ("intake", "suggestions", "followup")


@pytest.fixture(scope="module")
def astack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Intake, democratic management, follow-up and audit on their own topics."""
    with Stack(bootstrap, tmp_path_factory.mktemp("asof"), "asof") as s:
        s.start("intake")
        warm_up(s)
        for service in ("suggestions", "followup", "audit"):
            s.start(service)
        s.start_portal()
        yield s


def figures(stack: Stack, as_of: str | None = None) -> dict[str, dict[str, Any]]:
    params = {"unit": UNIT, **({"as_of": as_of} if as_of else {})}
    out = {}
    for service in STATS:
        with stack.client(service, **CHAIR) as chair:
            body = ok(chair.get("/stats", params=params))
        body.pop("as_of")
        out[service] = body
    return out


def ledger(stack: Stack, as_of: str | None = None) -> list[dict[str, str]]:
    params = {"unit": UNIT, "format": "csv", **({"as_of": as_of} if as_of else {})}
    with stack.client("audit", **CHAIR) as chair:
        response = chair.get("/audit/export", params=params)
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def log(intake: httpx.Client, **over: Any) -> str:
    body = {**GRIEVANCE, "unit": UNIT, "anonymous": True, "complainant": None, **over}
    return str(ok(intake.post("/grievances", json=body), 201)["case_id"])


def resolved(intake: httpx.Client, officer: httpx.Client, gid: str) -> str:
    ok(intake.post(f"/grievances/{gid}/resolve", json={"how": "on_site", "resolution": "已整改"}))
    event = ok(intake.get(f"/grievances/{gid}/history"))["events"][-1]
    fup = followup_id_for(event["event_id"], "callback")
    eventually(
        lambda: officer.get(f"/followups/{fup}"),
        until=lambda response: response.status_code == 200,
        what=f"the call-back {fup} to be scheduled",
    )
    return fup


def test_the_figures_as_of_an_instant_do_not_move_after_later_events(astack: Stack) -> None:
    with astack.client("intake", **REP) as intake, astack.client("followup", **OFFICER) as officer:
        first, second, third = (log(intake, summary=f"宿舍热水 {i}") for i in range(3))
        for gid in (first, second):
            ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
        fup = resolved(intake, officer, first)
        eventually(
            lambda: figures(astack)["suggestions"]["grievances"],
            until=lambda n: n == 3,
            what="democratic management to count the unit's grievances",
        )
        then = datetime.now(UTC).isoformat()
        before = figures(astack)
        # The ledger is read as far as the audit has filed the log: wait until it has all four.
        rows_before = eventually(
            lambda: ledger(astack),
            until=lambda rows: {first, second, third, fup} <= {r["case_id"] for r in rows},
            what="the ledger to list the three grievances and the call-back",
        )
        assert before["intake"]["grievances"] == 3 and before["followup"]["followups"] == 1

        # Later: a satisfied call-back closes the first, the second is resolved, the third
        # withdrawn, and a grievance received last week is logged now, back-dated.
        ok(officer.post(f"/followups/{fup}/contact", json={"satisfaction": "satisfied"}))
        eventually(
            lambda: ok(intake.get(f"/grievances/{first}"))["status"],
            until=lambda status: status == "closed",
            what="the satisfied call-back to close the grievance",
        )
        resolved(intake, officer, second)
        ok(intake.post(f"/grievances/{third}/withdraw", json={}))
        last_week = (datetime.now(UTC) - timedelta(days=7)).isoformat()
        log(intake, received_at=last_week)
        now = eventually(
            lambda: figures(astack),
            until=lambda f: f["suggestions"]["grievances"] == 4 and f["followup"]["followups"] == 2,
            what="today's figures to count the later events",
        )
    assert now["intake"]["grievances"] == 4 and now != before
    assert now["intake"]["by_status"] != before["intake"]["by_status"]
    assert figures(astack, then) == before
    earlier = {r["case_id"]: r for r in ledger(astack, then)}
    assert set(earlier) == {r["case_id"] for r in rows_before}
    assert earlier[first]["status"] == "resolved" and earlier[third]["status"] == "logged"
    eventually(
        lambda: {r["case_id"]: r["status"] for r in ledger(astack)}[first],
        until=lambda status: status == "closed",
        what="today's ledger to show the first grievance closed",
    )
    dashboard_as_of(astack, then)


def dashboard_as_of(stack: Stack, then: str) -> None:
    """The dashboard's picker, in China's time, shows the figures of that minute's end."""
    local = datetime.fromisoformat(then).astimezone(SHANGHAI) + timedelta(minutes=1)
    assert CHROMIUM.exists(), "install Debian's chromium package (make test does)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = signed_in(browser, stack, "chair-co", DESKTOP)
        page.goto(f"{stack.url('portal')}/dashboard?unit={UNIT}")
        grievances = page.locator("td[data-figure='3']")
        assert grievances.inner_text() == "4"
        page.fill("#d-as-of", local.strftime("%Y-%m-%dT%H:%M"))
        page.click("form.filters button.primary")
        page.wait_for_url("**as_of=*")
        assert page.locator("#as-of-note").is_visible()
        # The minute after `then` may hold the back-dated grievance, logged seconds later.
        assert grievances.inner_text() in ("3", "4")
        page.goto(f"{stack.url('portal')}/dashboard?unit={UNIT}&as_of={quote(then)}")
        assert grievances.inner_text() == "3"
        shot(page, "40-dashboard-as-of-an-instant")
        browser.close()
