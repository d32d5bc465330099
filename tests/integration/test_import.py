"""A union's Excel ledger imported through the command line on the real services and broker."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import sync_playwright

from services.ledgerimport.columns import day_of, moment_of
from tests.integration.conftest import Stack, warm_up
from tests.integration.reading import ok
from tests.integration.test_portal_e2e import ARGS, CHROMIUM, DESKTOP, SHOTS, shot, signed_in
from tests.unit.ledger_sample import write_sample

pytestmark = pytest.mark.integration
UNIT = "demo/co/p03"
CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}


@pytest.fixture(scope="module")
def istack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Intake alone, on its own topics."""
    with Stack(bootstrap, tmp_path_factory.mktemp("import"), "import") as s:
        s.start("intake")
        warm_up(s)
        s.start_portal()
        yield s


def imported(stack: Stack, path: Path, *extra: str) -> str:
    done = stack.cli(
        "import", "ledger", str(path), "--unit", UNIT, "--kind", "grievance", "--rate", "100",
        *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def total(stack: Stack) -> int:
    with stack.client("intake", **CHAIR) as chair:
        return int(ok(chair.get("/grievances", params={"unit": UNIT, "limit": 1}))["total"])


def test_a_ledger_imports_once_with_its_dates_and_a_corrected_one_adds_only_the_change(
    istack: Stack, tmp_path: Path
) -> None:
    ledger = write_sample(tmp_path / "ledger.xlsx", rows=24)
    dry = imported(istack, ledger, "--dry-run")
    assert "24 row(s) to import, 2 unreadable" in dry
    assert "✗ no date" in dry and "'2024-13-45' is not a date" in dry
    assert total(istack) == 0, "a dry run writes nothing"

    first = imported(istack, ledger)
    added = int(re.search(r"(\d+) new event", first).group(1))  # type: ignore[union-attr]
    assert added > 24 and total(istack) == 24
    assert not re.search(r"^row \d+ GRV-", first, re.M) and " ✗ " in first
    case_id = re.search(r"row 5 → (GRV-\w+)", dry).group(1)  # type: ignore[union-attr]
    with istack.client("intake", **CHAIR) as chair:
        history = ok(chair.get(f"/grievances/{case_id}/history"))["events"]
    sheet = load_workbook(ledger).worksheets[0]
    received = moment_of(day_of(sheet.cell(5, 2).value))
    assert history[0]["occurred_at"].startswith(received.strftime("%Y-%m-%dT%H:%M"))
    sha = re.search(r"SHA-256 ([0-9a-f]{64})", dry).group(1)  # type: ignore[union-attr]
    # An open case imported past its due date may be marked overdue by the timers meanwhile.
    imports = {e["causation_id"] for e in history} - {"timer:mark_overdue"}
    assert imports == {f"import/{sha}/5"}

    again = imported(istack, ledger)
    assert "0 new event(s), 24 row(s) already as imported" in again

    # The office corrects the ledger: row 5 was satisfied after all, and a call-back note.
    book = load_workbook(ledger)
    sheet = book.worksheets[0]
    sheet.cell(5, 10).value = "电话回访，职工认可"
    sheet.cell(5, 11).value = "满意"
    corrected = tmp_path / "corrected.xlsx"
    book.save(corrected)
    fixed = imported(istack, corrected)
    assert "2 new event(s), 23 row(s) already as imported" in fixed, fixed
    with istack.client("intake", **CHAIR) as chair:
        view = ok(chair.get(f"/grievances/{case_id}"))
    assert view["status"] == "closed" and total(istack) == 24


def test_a_chair_uploads_a_ledger_sees_the_dry_run_and_then_imports_it(
    istack: Stack, tmp_path: Path
) -> None:
    ledger = write_sample(tmp_path / "upload.xlsx", rows=12)
    assert CHROMIUM.exists(), "install Debian's chromium package (make test does)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = signed_in(browser, istack, "chair-co", DESKTOP)
        page.goto(f"{istack.url('portal')}/import")
        page.set_input_files("#import-file", str(ledger))
        page.select_option("#import-unit", "demo/co/p02")
        page.click("#import-check")
        assert "可导入 12 行，无法读取 2 行" in page.inner_text("#import-counts")
        assert "✗ no date" in page.inner_text("#import-report")
        shot(page, "30-chair-sees-the-dry-run-of-a-ledger")
        with istack.client("intake", **CHAIR) as chair:
            before = ok(chair.get("/grievances", params={"unit": "demo/co/p02"}))["total"]
        assert before == 0, "the dry run writes nothing"
        page.click("#import-confirm")
        outcome = page.inner_text("#import-outcome")
        assert "12 row(s) sent" in outcome and "new event(s)" in outcome
        shot(page, "31-chair-imported-the-ledger")
        browser.close()
    with istack.client("intake", **CHAIR) as chair:
        assert ok(chair.get("/grievances", params={"unit": "demo/co/p02"}))["total"] == 12
