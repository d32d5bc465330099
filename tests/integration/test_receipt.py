"""The worker's receipt on the real services and broker: over HTTP, then in headless Chromium.

A rep logs a grievance and hands over the receipt; the worker, with no account, sees that case
alone, says nobody called, and the rep sees it on the timeline; wrong PINs lock the receipt; a
new PIN replaces the old. Screenshots are saved under test-artifacts/portal/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.test_portal_e2e import ARGS, CHROMIUM, PHONE, SHOTS, shot, signed_in

pytestmark = pytest.mark.integration
CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
DISPUTE: dict[str, str] = {}


@pytest.fixture(scope="module")
def rstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Intake and mediation, and the portal in front of them."""
    with Stack(bootstrap, tmp_path_factory.mktemp("receipt"), "receipt") as s:
        s.start("intake")
        s.start("mediation")
        warm_up(s)
        s.start_portal()
        yield s


@pytest.fixture(scope="module")
def browser(rstack: Stack) -> Iterator[Browser]:
    """The system's Chromium, driven headless."""
    assert CHROMIUM.exists(), "install Debian's chromium package (make test does)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


def logged(stack: Stack, **over: Any) -> dict[str, Any]:
    with stack.client("intake") as rep:
        response = rep.post("/grievances", json={**GRIEVANCE, **over})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["version"] == 1 and len(body["event_ids"]) == 1
    return body


def public(stack: Stack, service: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{stack.url(service)}/receipts/{path}", json=body, timeout=60)


def test_the_receipt_opens_its_case_alone_and_the_worker_is_heard(rstack: Stack) -> None:
    case = logged(rstack)
    slip = case["receipt"]
    assert slip["number"] in slip["sms_zh"] and slip["pin"] in slip["sms_zh"]
    shown = public(rstack, "intake", "lookup", {"receipt": slip["number"], "pin": slip["pin"]})
    assert shown.status_code == 200, shown.text
    view = shown.json()
    assert view["status"] == "logged" and view["next"] == "acknowledge" and view["next_by"]
    text = shown.text
    assert "王小林" not in text and case["case_id"] not in text and "rep-p01" not in text
    typed = slip["number"].lower().replace("-", " ")
    assert public(rstack, "intake", "lookup", {"receipt": typed, "pin": slip["pin"]}).is_success
    said = public(
        rstack,
        "intake",
        "notes",
        {"receipt": slip["number"], "pin": slip["pin"], "kind": "note", "note": "请尽快回电"},
    )
    assert said.status_code == 201, said.text
    with rstack.client("intake") as rep:
        seen = rep.get(f"/grievances/{case['case_id']}").json()
        history = rep.get(f"/grievances/{case['case_id']}/history").json()["events"]
    assert seen["worker_said"][0]["note"] == "请尽快回电"
    assert history[-1]["event_type"] == "grievance.worker_noted"
    assert "请尽快回电" not in str(history) and slip["pin"] not in str(history)
    log = rstack.log("intake", "api")
    lookups = [line for line in log.splitlines() if "receipt.lookup" in line]
    assert len(lookups) >= 3
    assert not any(slip["number"] in line or slip["pin"] in line for line in lookups)


def test_wrong_pins_lock_the_receipt_and_a_new_pin_replaces_the_old(rstack: Stack) -> None:
    case = logged(rstack, anonymous=True, complainant=None)
    slip = case["receipt"]
    wrong = f"{(int(slip['pin']) + 1) % 1_000_000:06d}"
    for _ in range(5):
        miss = public(rstack, "intake", "lookup", {"receipt": slip["number"], "pin": wrong})
        assert miss.status_code == 404 and miss.json()["detail"].startswith("no case")
    locked = public(rstack, "intake", "lookup", {"receipt": slip["number"], "pin": slip["pin"]})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 60
    with rstack.client("intake") as rep:
        again = rep.post(f"/grievances/{case['case_id']}/receipt")
    assert again.status_code == 200, again.text
    new = again.json()["receipt"]
    assert new["number"] == slip["number"] and again.json()["version"] == 2
    unknown = public(rstack, "intake", "lookup", {"receipt": "G-2345-6789", "pin": "123456"})
    assert unknown.status_code == 404


def test_an_application_for_mediation_gets_a_receipt_mediation_answers(rstack: Stack) -> None:
    received = datetime.now(UTC) - timedelta(days=1)
    body = {
        "unit": "demo/co/p01",
        "form": "written",
        "applicant": {"name": "李建国", "phone": "13900000002"},
        "respondent": {"employer": "演示建设集团有限公司", "management": ["pm-p01"]},
        "category": "remuneration",
        "matters": "十月工资未按时足额发放",
        "claims": [{"description": "补发十月工资", "amount": "12500.00"}],
        "known_since": (received.date() - timedelta(days=30)).isoformat(),
        "received_at": received.isoformat(),
    }
    with rstack.client("mediation", **CHAIR) as chair:
        created = chair.post("/disputes", json=body)
    assert created.status_code == 201, created.text
    slip = created.json()["receipt"]
    assert slip["number"].startswith("D-")
    shown = public(rstack, "mediation", "lookup", {"receipt": slip["number"], "pin": slip["pin"]})
    assert shown.status_code == 200, shown.text
    assert shown.json()["next"] == "acceptance" and "李建国" not in shown.text
    assert "演示建设集团" not in shown.text
    # A dispute's receipt is not a grievance's: intake knows nothing of it.
    elsewhere = public(rstack, "intake", "lookup", {"receipt": slip["number"], "pin": slip["pin"]})
    assert elsewhere.status_code == 404
    DISPUTE["id"], DISPUTE["number"] = created.json()["case_id"], slip["number"]


def test_a_chair_gives_the_applicant_a_new_pin_on_the_dispute_page(
    browser: Browser, rstack: Stack
) -> None:
    page = signed_in(browser, rstack, "chair-co", PHONE)
    page.goto(f"{rstack.url('portal')}/disputes/{DISPUTE['id']}")
    page.click("#reissue")
    page.wait_for_url("**?done=receipt")
    assert page.inner_text("#slip-number") == DISPUTE["number"]
    pin = page.inner_text("#slip-pin")
    shot(page, "25-chair-gives-a-new-pin-for-a-dispute-phone")
    page.context.close()
    shown = public(rstack, "mediation", "lookup", {"receipt": DISPUTE["number"], "pin": pin})
    assert shown.status_code == 200 and shown.json()["kind"] == "dispute"


def test_the_worker_follows_the_case_on_a_phone(browser: Browser, rstack: Stack) -> None:
    portal = rstack.url("portal")
    rep = signed_in(browser, rstack, "rep-p01", PHONE)
    rep.goto(f"{portal}/grievances/new")
    rep.click("label[for='cat-wages']")
    rep.select_option("#channel", "hotline_12351")
    rep.fill("#name", "赵师傅")
    rep.fill("#phone", "138 0000 0009")
    rep.fill("#summary", "十一月工资未发")
    rep.click("button.primary")
    rep.wait_for_url("**/grievances/GRV-*")
    number, pin = rep.inner_text("#slip-number"), rep.inner_text("#slip-pin")
    assert number in rep.input_value("#slip-sms") and pin in rep.input_value("#slip-sms")
    shot(rep, "20-rep-hands-over-the-receipt-phone")
    case_url = rep.url.split("?")[0]
    rep.goto(case_url)
    assert rep.locator("#slip").count() == 0, "the PIN is shown once"

    worker = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = worker.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{portal}/receipt")
    page.fill("#receipt", number)
    page.fill("#pin", pin)
    page.click("button.primary")
    assert page.inner_text("#receipt-status") == "已登记"
    assert "确认受理" in page.inner_text("#receipt-next")
    assert "赵师傅" not in page.content() and "rep-p01" not in page.content()
    shot(page, "21-worker-sees-the-case-phone")
    page.click("#not-contacted")
    assert page.locator("#done").is_visible()
    shot(page, "22-worker-says-nobody-called-phone")

    rep.goto(case_url)
    assert "没有人联系过我" in rep.inner_text(".said")
    assert "职工留言" in rep.inner_text(".timeline")
    shot(rep, "23-rep-sees-the-worker-on-the-timeline-phone")
    rep.context.close()

    for _ in range(5):
        page.goto(f"{portal}/receipt")
        page.fill("#receipt", number)
        page.fill("#pin", "000000" if pin != "000000" else "111111")
        page.click("button.primary")
        assert page.locator("#error").is_visible()
    page.goto(f"{portal}/receipt")
    page.fill("#receipt", number)
    page.fill("#pin", pin)
    page.click("button.primary")
    assert "锁定" in page.inner_text("#error")
    shot(page, "24-worker-locked-out-after-wrong-pins-phone")
    worker.close()
