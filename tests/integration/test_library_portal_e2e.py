"""The case library and the 护薪 pages in headless Chromium, on the real services and broker.

A mediator proposes a closed dispute and gets a draft naming nobody; a text with the worker's
phone number is refused at review; the chair approves the clean text and it is published; a
rep finds it by tag and prints the handout; a lawyer volunteer sees only the help asked of
them and records it; the dashboard counts sessions, volunteers and hours.
Screenshots of each step are saved under test-artifacts/library/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright
from rich.console import Console

from services.cli.library_demo import load_library_demo
from services.common.settings import ROOT
from tests.integration.conftest import Stack
from tests.integration.polling import eventually
from tests.integration.test_library_http import CHAIR, EMPLOYER, MEDIATOR, NAME, PHONE, settled
from tests.integration.test_portal_e2e import ARGS, CHROMIUM, DESKTOP, signed_in
from tests.integration.test_portal_e2e import PHONE as SMALL

pytestmark = pytest.mark.integration

SHOTS = ROOT / "test-artifacts" / "library"
# What the first story hands on to the second: the dispute it published.
STORY: dict[str, str] = {}


@pytest.fixture(scope="module")
def lstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Mediation, the library with its demo data, and the portal in front of them."""
    with Stack(bootstrap, tmp_path_factory.mktemp("library-portal"), "libportal") as s:
        s.start("mediation")
        s.start("library")
        with s.client("mediation", **CHAIR) as chair:
            eventually(
                lambda: chair.get("/disputes"),
                until=lambda response: response.status_code == 200,
                timeout=90,
                what="the mediation API to answer",
            )
        urls = {"library_url": s.url("library"), "mediation_url": s.url("mediation")}
        load_library_demo(s.settings.model_copy(update=urls), Console(quiet=True))
        s.start_portal()
        yield s


@pytest.fixture(scope="module")
def browser(lstack: Stack) -> Iterator[Browser]:
    """The system's Chromium, driven headless; no browser is downloaded."""
    assert CHROMIUM.exists(), "install Debian's chromium package (make test does)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


def shot(page: object, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_a_closed_dispute_is_published_naming_nobody_after_a_second_person_approves(
    browser: Browser, lstack: Stack
) -> None:
    with (
        lstack.client("mediation", **CHAIR) as chair,
        lstack.client("mediation", **MEDIATOR) as mediator,
    ):
        dsp = settled(chair, mediator)
    STORY["dispute"] = dsp
    portal = lstack.url("portal")
    med = signed_in(browser, lstack, "med-1", DESKTOP)
    med.goto(f"{portal}/library")
    assert med.locator("#published li").count() == 2
    shot(med, "01-library-demo")

    def propose() -> str:
        # Proposed from the closed dispute's own page, once the library has read it closed.
        med.goto(f"{portal}/disputes/{dsp}")
        med.click("#propose button[data-action='propose']")
        return med.url

    eventually(propose, until=lambda url: "/library/TYP-" in url, timeout=60, what="a draft")
    draft = med.inner_text("#case-text")
    for value in (NAME, PHONE, EMPLOYER):
        assert value not in draft, value
    assert "申请人（职工）" in draft and "一万元至五万元" in draft
    assert med.locator("#source").count() == 0
    shot(med, "02-draft-names-nobody")
    typ_url = med.url.split("?")[0]

    def edit(text: str) -> None:
        med.goto(typ_url)
        med.fill("#e-text", text)
        med.fill("#e-lesson", "用人单位应按时足额支付劳动报酬；职工应保留工资条和考勤记录。")
        med.fill("#e-articles", "《劳动合同法》第三十条\n《劳动争议调解仲裁法》第十四条")
        med.fill("#e-tags", "欠薪, 调解")
        med.click("button[data-action='edit']")
        assert med.inner_text("#done")

    edit(f"{draft}\n联系电话 139-0000-0002")
    boss = signed_in(browser, lstack, "chair-co", DESKTOP)
    boss.goto(typ_url)
    boss.click("button[data-action='approve']")
    assert "phone number" in boss.inner_text("#error")
    shot(boss, "03-phone-number-refused")

    edit(draft)
    boss.goto(typ_url)
    boss.click("button[data-action='approve']")
    assert boss.get_attribute("#case-status", "data-status") == "approved"
    med.goto(typ_url)
    med.click("button[data-action='publish']")
    assert med.get_attribute("#case-status", "data-status") == "published"
    shot(med, "04-published")
    # The mediator teaches it in a classroom session, recorded from its page.
    med.click("#record summary")
    med.fill("#c-place", "第2项目部职工夜校")
    med.fill("#n-worker", "12")
    med.click("button[data-action='hold']")
    assert "/library?done=hold" in med.url
    med.wait_for_load_state()
    assert med.inner_text("#done") and med.locator("#sessions li").count() == 2

    rep = signed_in(browser, lstack, "rep-p01", SMALL)
    rep.goto(f"{portal}/library?tag=欠薪")
    found = rep.locator("#published li")
    assert typ_url.rsplit("/", 1)[1] in [
        found.nth(i).get_attribute("data-case") for i in range(found.count())
    ]
    rep.goto(f"{typ_url}/handout")
    assert rep.inner_text("#handout-title") == "劳动报酬争议典型案例"
    assert NAME not in rep.inner_text("#handout-text")
    shot(rep, "05-classroom-handout")
    for page in (med, boss, rep):
        page.context.close()


def test_a_lawyer_volunteer_sees_only_their_help_and_the_dashboard_counts_it(
    browser: Browser, lstack: Stack
) -> None:
    portal = lstack.url("portal")
    lawyer = signed_in(browser, lstack, "vol-law-1", SMALL)
    assert lawyer.url.endswith("/help")
    assert lawyer.locator("#help li").count() == 1
    assert lawyer.locator("nav a[href='/disputes']").count() == 0
    item = lawyer.locator("#help li").first
    item.locator("summary").click()
    item.locator("input[name='hours']").fill("1.5")
    item.locator("input[value='accompany']").check()
    item.locator("button[data-action='record']").click()
    assert lawyer.inner_text("#help li [data-hours]") == "4.5"
    shot(lawyer, "06-volunteer-records-help")
    lawyer.goto(f"{portal}/disputes")
    assert "找不到" in lawyer.content() or lawyer.locator("#error").count() == 1

    boss = signed_in(browser, lstack, "chair-co", DESKTOP)
    # The chair asks the worker volunteer to help on another dispute: the lawyer sees none of it.
    boss.goto(f"{portal}/volunteers")
    row = boss.locator("#roster tr[data-user='vol-w-1']")
    row.locator("summary").click()
    row.locator("input[name='source_case_id']").fill(STORY["dispute"])
    row.locator("textarea[name='brief']").fill("陪同职工领取补发工资")
    row.locator("button[data-action='request-help']").click()
    assert boss.url.endswith("/help?done=request")
    assert boss.locator("#help li").count() == 2
    lawyer.goto(f"{portal}/help")
    assert lawyer.locator("#help li").count() == 1
    boss.goto(f"{portal}/dashboard?unit=demo/co")
    figures = boss.locator("#library-figures td")
    assert figures.nth(0).inner_text() == "2"  # sessions
    assert figures.nth(1).inner_text() == "52"  # attendees
    assert figures.nth(4).inner_text() == "3"  # volunteers
    assert figures.nth(6).inner_text() == "4.5"  # hours
    shot(boss, "07-dashboard-library")
    boss.goto(f"{portal}/volunteers")
    assert boss.locator("#roster tbody tr").count() == 3
    shot(boss, "08-volunteer-roster")
    for page in (lawyer, boss):
        page.context.close()
