"""The web portal end to end in headless Chromium, on the real services and the real broker.

A rep logs the seed's canteen complaint on a phone, a chair resolves it, a follow-up officer
records the worker's satisfied call-back and the grievance closes, an auditor slides the audit
service's timeline back to before the resolution and exports the ledger, a mediator sees a dispute
near its deadline in red, the English switch translates the page, and a rep of another unit
cannot open the case.
Screenshots of each step are saved under test-artifacts/portal/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from rich.console import Console

from services.cli.demo import load_suggestions_demo
from services.common.settings import ROOT
from tests.integration.conftest import Stack, warm_up
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "test-artifacts" / "portal"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
CANTEEN_SUMMARY = "食堂菜品有待改善"
CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
EARLIER: dict[str, int] = {}
SERVICES = ("intake", "suggestions", "mediation", "followup", "audit")
T = TypeVar("T")


@pytest.fixture(scope="module")
def pstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every service with the demo data, and the portal in front of them."""
    with Stack(bootstrap, tmp_path_factory.mktemp("portal"), "portal") as s:
        for service in SERVICES:
            s.start(service)
        warm_up(s)
        with s.client("mediation", **CHAIR) as chair:
            eventually(
                lambda: chair.get("/disputes"),
                until=lambda response: response.status_code == 200,
                timeout=30,
                what="the mediation API to list disputes",
            )
        with s.client("intake", **CHAIR) as chair:
            # Grievances logged before the demo (the warm-up's) are counted with the seed's.
            EARLIER["grievances"] = chair.get("/stats").json()["grievances"]
        load_suggestions_demo(
            s.settings,
            Console(quiet=True),
            suggestions=s.url("suggestions"),
            intake=s.url("intake"),
        )
        s.start_portal()
        yield s


@pytest.fixture(scope="module")
def browser(pstack: Stack) -> Iterator[Browser]:
    """The system's Chromium, driven headless; no browser is downloaded."""
    assert CHROMIUM.exists(), "install Debian's chromium package (make test does)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def case(pstack: Stack) -> dict[str, str]:
    """What the steps of the story hand on to each other."""
    return {}


def signed_in(browser: Browser, stack: Stack, user: str, viewport: ViewportSize) -> Page:
    """A new browser page signed in as a demo user (Chinese, the default)."""
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{stack.url('portal')}/signin")
    page.click(f"button[data-user='{user}']")
    page.wait_for_load_state()
    return page


def on_reload(page: Page, read: Callable[[], T]) -> Callable[[], T]:
    """A poll that reloads the page before it reads it."""

    def poll() -> T:
        page.reload()
        return read()

    return poll


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_dashboard_shows_the_seeds_figures(browser: Browser, pstack: Stack) -> None:
    page = signed_in(browser, pstack, "chair-co", DESKTOP)
    page.goto(f"{pstack.url('portal')}/dashboard?unit=demo/co")
    figures = page.locator("#figures td")
    grievances = str(36 + EARLIER["grievances"])

    eventually(
        on_reload(page, figures.nth(2).inner_text),
        until=lambda shown: shown == grievances,
        timeout=60,
        what=f"the dashboard to count the seed's 36 grievances ({grievances} in all)",
    )
    assert [figures.nth(i).inner_text() for i in range(3)] == ["58", "58", grievances]
    assert page.inner_text("#figures td[data-rate='1']") == "100%"  # the adoption rate
    assert page.locator(".charts svg").count() == 2
    shot(page, "01-dashboard-demo-company")
    page.context.close()


def test_rep_logs_the_canteen_complaint_on_a_phone(
    browser: Browser, pstack: Stack, case: dict[str, str]
) -> None:
    page = signed_in(browser, pstack, "rep-p01", PHONE)
    page.goto(f"{pstack.url('portal')}/grievances/new")
    assert page.get_by_text("加密保存").first.is_visible()
    page.click("label[for='cat-canteen']")
    page.select_option("#channel", "in_person")
    page.fill("#name", "王小林")
    page.fill("#phone", "13800000001")
    page.fill("#details", "工友反映食堂菜品单一、口味偏咸，希望增加蔬菜和面食。")
    # Sent without a summary: the form comes back with what was typed.
    page.click("button.primary")
    assert page.locator("#error").is_visible()
    assert page.input_value("#name") == "王小林"
    assert page.is_checked("#cat-canteen")
    shot(page, "02-rep-form-error-keeps-input")
    page.fill("#summary", CANTEEN_SUMMARY)
    shot(page, "03-rep-logs-canteen-complaint-phone")
    page.click("button.primary")
    page.wait_for_url("**/grievances/GRV-*")
    assert page.inner_text("h1") == CANTEEN_SUMMARY
    assert page.inner_text("#case-status") == "已登记"
    case["id"] = page.url.split("/grievances/")[1].split("?")[0]
    page.get_by_text("确认受理").first.click()
    page.click("button[data-action='acknowledge']")
    page.wait_for_url("**?done=acknowledge")
    assert page.inner_text("#case-status") == "已受理"
    shot(page, "04-rep-acknowledged-phone")
    page.goto(f"{pstack.url('portal')}/grievances")
    assert case["id"] in page.content()
    page.context.close()


def test_chair_resolves_it(browser: Browser, pstack: Stack, case: dict[str, str]) -> None:
    page = signed_in(browser, pstack, "chair-p01", DESKTOP)
    page.goto(f"{pstack.url('portal')}/grievances/{case['id']}")
    page.get_by_text("办结").first.click()
    page.select_option("#resolve-how", "on_site")
    page.fill("#resolve-resolution", "项目部与食堂承包方协商，每周增加两次面食和时令蔬菜。")
    page.click("button[data-action='resolve']")
    page.wait_for_url("**?done=resolve")
    assert page.inner_text("#case-status") == "已解决"
    assert "王小林" in page.content()  # the chair reads the complainant, sealed on the ledger
    shot(page, "05-chair-resolved")
    page.context.close()


def test_followup_officer_records_a_satisfied_call_back_and_the_grievance_closes(
    browser: Browser, pstack: Stack, case: dict[str, str]
) -> None:
    page = signed_in(browser, pstack, "fup-1", PHONE)
    assert page.url.endswith("/followups")
    row = page.locator(f"li[data-source='{case['id']}'][data-kind='callback']")

    eventually(
        on_reload(page, row.count),
        until=lambda rows: rows == 1,
        timeout=60,
        what="the call-back scheduled by the resolution in the officer's list",
    )
    assert "满意度回访" in row.inner_text()
    case["followup"] = str(row.get_attribute("data-case"))
    row.locator("summary").click()
    row.locator("select[name='satisfaction']").select_option("satisfied")
    row.locator("textarea[name='comment']").fill("工友说现在每周有面食和蔬菜了，很满意。")
    row.screenshot(path=str(SHOTS / "06-followup-call-back-phone.png"))
    row.locator("button[data-action='contact']").click()
    page.wait_for_url("**?done=contact")
    assert page.locator("#done").is_visible()
    assert page.locator(f"li[data-case='{case['followup']}']").count() == 0
    page.context.close()

    chair = signed_in(browser, pstack, "chair-p01", DESKTOP)
    chair.goto(f"{pstack.url('portal')}/grievances/{case['id']}")

    eventually(
        on_reload(chair, lambda: chair.inner_text("#case-status")),
        until=lambda shown: shown == "已结案",
        timeout=60,
        what="the grievance closed by the satisfied call-back",
    )
    shot(chair, "07-grievance-closed-after-call-back")
    chair.goto(f"{pstack.url('portal')}/dashboard?unit=demo/co/p01")
    assert chair.inner_text("#followup-figures td[data-followup-rate='3']") == "100%"
    chair.context.close()


def test_auditor_slides_back_to_before_the_resolution(
    browser: Browser, pstack: Stack, case: dict[str, str]
) -> None:
    page = signed_in(browser, pstack, "aud", DESKTOP)
    page.fill("#case", case["id"])
    page.click("button.primary")
    page.wait_for_url(f"**/audit/{case['id']}")
    assert "哈希链完整（4 条记录）" in page.inner_text("#chain")
    # The badge says whose keys its verdict relied on, as the command line does.
    assert "依据的签名密钥：intake:" in page.inner_text("#chain-relied")
    status = page.locator("section.replay [data-replay-status]")
    assert status.get_attribute("data-replay-status") == "closed"
    # The summary is sealed in the rebuilt state: the auditor reads it opened, never its cipher.
    replay = page.inner_text("section.replay")
    assert CANTEEN_SUMMARY in replay and "'ct'" not in replay

    eventually(
        on_reload(page, page.locator(f"#lineage a[href='/audit/{case['followup']}']").count),
        until=lambda links: links == 1,
        timeout=30,
        what="the call-back in the grievance's lineage",
    )
    shot(page, "08-auditor-now")
    for at, expected in ((3, "resolved"), (2, "acknowledged")):
        page.focus("#replay-at")
        page.keyboard.press("ArrowLeft")
        page.wait_for_url(f"**/audit/{case['id']}?at={at}")
        assert status.get_attribute("data-replay-status") == expected
    assert status.inner_text() == "已受理"
    assert page.locator(".timeline li.future").count() == 2
    shot(page, "09-auditor-before-resolution")
    page.goto(f"{pstack.url('portal')}/audit")
    page.select_option("#x-unit", "demo/co/p01")
    page.select_option("#x-fmt", "csv")
    with page.expect_download() as download:
        page.click("#export button")
    ledger = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert ledger.startswith("case_id,type,unit") and case["id"] in ledger
    assert "王小林" not in ledger  # an auditor's ledger carries no names
    page.context.close()


def _dispute_near_its_deadline(stack: Stack) -> dict[str, Any]:
    """Accept a dispute 14 or more days ago so that at most 2 days are left on its clock."""
    with stack.client("mediation", **CHAIR) as chair:
        for days_ago in (14, 15, 13):
            received = datetime.now(UTC) - timedelta(days=days_ago)
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
                "accept_on_receipt": True,
            }
            created = chair.post("/disputes", json=body)
            assert created.status_code == 201, created.text
            dsp = created.json()["case_id"]
            assigned = chair.post(f"/disputes/{dsp}/assign", json={"mediator": "med-1"})
            assert assigned.status_code == 200, assigned.text
            view: dict[str, Any] = chair.get(f"/disputes/{dsp}").json()
            if 0 <= view["days_left"] <= 2:
                return view
    raise AssertionError("no acceptance date gave a clock with 0 to 2 days left")


def test_mediator_queue_shows_a_dispute_near_its_deadline_in_red(
    browser: Browser, pstack: Stack
) -> None:
    near = _dispute_near_its_deadline(pstack)
    page = signed_in(browser, pstack, "med-1", PHONE)
    assert page.url.endswith("/disputes")
    row = page.locator(f"li[data-case='{near['case_id']}']")
    assert row.get_attribute("data-tone") == "red"
    fill = row.locator(".clock .fill")
    colour = fill.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(217, 48, 37)"
    shot(page, "10-mediator-queue-red-phone")
    # The English switch translates the page, labels and statuses alike.
    page.click("a.lang")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "My mediation queue (by days left)"
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Mediating" in row.inner_text() or "Accepted" in row.inner_text()
    assert "调解" not in page.inner_text("main")
    shot(page, "11-mediator-queue-english")
    page.context.close()


def test_a_rep_of_another_unit_cannot_see_the_case(
    browser: Browser, pstack: Stack, case: dict[str, str]
) -> None:
    page = signed_in(browser, pstack, "rep-p02", PHONE)
    response = page.goto(f"{pstack.url('portal')}/grievances/{case['id']}")
    assert response is not None and response.status == 404
    assert "在您的单位里找不到这个案件" in page.inner_text("#error")
    assert CANTEEN_SUMMARY not in page.content() and "王小林" not in page.content()
    page.goto(f"{pstack.url('portal')}/grievances")
    assert case["id"] not in page.content()
    audit = page.goto(f"{pstack.url('portal')}/audit/{case['id']}")
    assert audit is not None and audit.status == 403  # the audit service answers auditors only
    assert CANTEEN_SUMMARY not in page.content()
    shot(page, "12-other-unit-refused")
    page.context.close()


def test_portal_never_signs_in_without_a_demo_user(pstack: Stack) -> None:
    with httpx.Client(base_url=pstack.url("portal"), follow_redirects=False) as client:
        assert client.get("/grievances").headers["location"] == "/signin"
        unknown = client.post("/signin", data={"user": "nobody", "csrf": pstack.csrf(client)})
        assert unknown.status_code == 303 and "tz_session" not in unknown.cookies
    with httpx.Client(
        base_url=pstack.url("portal"), follow_redirects=False, cookies={"tz_session": "forged"}
    ) as client:
        forged = client.get("/grievances")
        assert forged.status_code == 303 and forged.headers["location"] == "/signin"


def test_an_address_or_a_form_no_service_can_be_sent_is_refused_not_failed(pstack: Stack) -> None:
    # Both once failed the portal with a 500: the case id went into the service's address
    # unescaped, and the form's key into a header that cannot hold it.
    with pstack.client("suggestions", **CHAIR) as chair:
        case = chair.get("/suggestions", params={"limit": 1}).json()["items"][0]["case_id"]
    session = {"tz_session": pstack.token(**CHAIR)}
    with httpx.Client(base_url=pstack.url("portal"), cookies=session) as client:
        token = pstack.csrf(client)
        odd = client.post("/suggestions/%11%C3%A9/vote", data={"vote": "for", "csrf": token})
        assert odd.status_code == 404, odd.text
        keyed = client.post(
            f"/suggestions/{case}/vote", data={"vote": "for", "key": "clé", "csrf": token}
        )
        assert keyed.status_code == 422, keyed.text
    with pstack.client("suggestions", **CHAIR) as chair:
        votes = chair.get(f"/suggestions/{case}").json().get("votes") or {}
    assert CHAIR["user"] not in votes


def test_signing_out_revokes_the_token_for_every_service_and_an_admin_revokes_a_user(
    pstack: Stack,
) -> None:
    with httpx.Client(base_url=pstack.url("portal"), follow_redirects=False) as browser:
        signed = browser.post("/signin", data={"user": "rep-p01", "csrf": pstack.csrf(browser)})
        token = signed.cookies["tz_session"]
        assert browser.get("/grievances").status_code == 200
        out = browser.post("/signout", data={"csrf": pstack.csrf(browser)})
        assert out.status_code == 303
    bearer = {"Authorization": f"Bearer {token}"}
    for service, path in (
        ("intake", "/grievances"),
        ("suggestions", "/suggestions"),
        ("followup", "/followups"),
    ):
        url = f"{pstack.url(service)}{path}"

        def ask(url: str = url) -> httpx.Response:
            return httpx.get(url, headers=bearer)

        eventually(
            ask,
            until=lambda r: r.status_code == 401 and "revoked" in r.text,
            timeout=15,
            what=f"{service} to refuse a signed-out token",
        )
    stolen = httpx.Client(base_url=pstack.url("portal"), cookies={"tz_session": token})
    with stolen:
        assert stolen.get("/grievances", follow_redirects=False).headers["location"] == "/signin"
    chair = pstack.token(**CHAIR)
    with pstack.client("intake", user="admin", role="admin", unit="demo") as admin:
        assert admin.post("/users/chair-co/revoke").status_code == 204
    with pstack.client("intake", user="rep-p02", unit="demo/co/p02") as others:
        assert others.post("/users/rep-p01/revoke").status_code == 403
    eventually(
        lambda: httpx.get(
            f"{pstack.url('mediation')}/disputes", headers={"Authorization": f"Bearer {chair}"}
        ),
        until=lambda r: r.status_code == 401,
        timeout=15,
        what="mediation to refuse a revoked user's token",
    )
    # Tokens issued after the revocation (from the next second on) are believed again.
    eventually(
        lambda: httpx.get(
            f"{pstack.url('mediation')}/disputes",
            headers={"Authorization": f"Bearer {pstack.token(**CHAIR)}"},
        ),
        until=lambda r: r.status_code == 200,
        timeout=15,
        what="a new sign-in of a revoked user to work",
    )
