"""Reading a union's Excel ledger: headers, dates, phones, the commands each row becomes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from contracts.envelope import Actor
from services.common.bodies import Imported, backdate_days
from services.common.decider import process
from services.common.problems import Problem
from services.intake.service import KIND
from services.ledgerimport.columns import day_of, moment_of, parse_map, phone_of
from services.ledgerimport.plans import Plan, Unreadable, plan_row
from services.ledgerimport.report import dry_run, planned
from services.ledgerimport.send import Pace, case_id_of
from services.ledgerimport.workbook import NotALedger, read
from tests.unit.ledger_sample import SAMPLE, write_sample
from tests.unit.stories import T0, Story, command
from tests.unit.test_intake_domain import SYSTEM, log_payload

UNIT = "demo/co/p03"
CHAIR = Actor(user_id="chair-import", role="union_chair", unit=UNIT)


@pytest.mark.parametrize(
    ("cell", "day"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2024/3/5", date(2024, 3, 5)),
        ("2024.3.5", date(2024, 3, 5)),
        ("2024年3月5日", date(2024, 3, 5)),
        ("20240305", date(2024, 3, 5)),
        (45356, date(2024, 3, 5)),
        (45356.0, date(2024, 3, 5)),
        (datetime(2024, 3, 5, 14, 0), date(2024, 3, 5)),
    ],
)
def test_a_day_reads_however_the_ledger_wrote_it(cell: object, day: date) -> None:
    assert day_of(cell) == day


@pytest.mark.parametrize("cell", ["2024-13-45", "三月五日", "", 0, 99999, True])
def test_what_is_not_a_day_says_so(cell: object) -> None:
    with pytest.raises(ValueError, match="not a date"):
        day_of(cell)


def test_an_event_of_a_day_is_dated_at_nine_in_china() -> None:
    assert moment_of(date(2024, 3, 5)).isoformat() == "2024-03-05T01:00:00+00:00"


def test_phones_lose_their_spaces_and_nonsense_is_refused() -> None:
    assert phone_of("138 0013 8000") == "13800138000"
    assert phone_of(13800138000) == "13800138000"
    assert phone_of(None) is None
    with pytest.raises(ValueError, match="not a phone"):
        phone_of("找班长")


def test_a_column_map_names_headers_the_usual_names_miss() -> None:
    assert parse_map(["问题 描述=content"]) == {"问题描述": "content"}
    with pytest.raises(ValueError, match="header=field"):
        parse_map(["问题描述=summary"])


def test_the_sample_ledger_reads_with_its_merged_headers_blank_rows_and_bad_rows(
    tmp_path: Path,
) -> None:
    sheet = read(SAMPLE)
    assert sheet.columns[6] == "handling" and sheet.columns[7] == "result"
    assert not sheet.unknown and len(sheet.rows) == 302
    plans, unreadable = planned("grievance", UNIT, sheet)
    assert len(plans) == 300
    assert [(u.row, u.reason.split(":")[0]) for u in unreadable] == [
        (312, "no date"),
        (313, "'2024-13-45' is not a date"),
    ]
    again = read(write_sample(tmp_path / "again.xlsx"))
    assert again.rows == sheet.rows, "the committed sample is the helper's"


def test_a_row_becomes_its_steps_dated_as_the_ledger_says() -> None:
    cells = {
        "seq": 7,
        "date": "2024/3/5",
        "name": "王小林",
        "phone": "138 0013 8000",
        "content": "食堂菜品单一",
        "handling": "已办结",
        "result": "已协调整改",
        "done_date": "2024年3月8日",
        "followup": "电话回访",
        "satisfaction": "不满意",
    }
    plan = plan_row("grievance", UNIT, 9, cells)
    assert isinstance(plan, Plan)
    assert plan.opening["category"] == "canteen"
    assert plan.opening["complainant"] == {"name": "王小林", "phone": "13800138000"}
    assert [s.label for s in plan.steps] == ["acknowledge", "resolve", "feedback", "reopen"]
    assert plan.steps[1].body["occurred_at"].startswith("2024-03-08T01:00")
    anonymous = plan_row("grievance", UNIT, 9, {**cells, "name": None, "handling": "撤回"})
    assert isinstance(anonymous, Plan) and anonymous.opening["anonymous"] is True
    assert [s.label for s in anonymous.steps] == ["withdraw"]
    early = plan_row("grievance", UNIT, 9, {**cells, "done_date": "2024-03-01"})
    assert isinstance(early, Unreadable) and "before" in early.reason


def test_a_row_is_the_same_commands_whatever_file_it_came_in() -> None:
    cells = {"seq": 7, "date": "2024/3/5", "content": "食堂菜品单一", "handling": "办理中"}
    first, moved = plan_row("grievance", UNIT, 9, cells), plan_row("grievance", UNIT, 30, cells)
    assert isinstance(first, Plan) and isinstance(moved, Plan)
    assert first.opening_key == moved.opening_key
    assert case_id_of(CHAIR, "grievance", first) == case_id_of(CHAIR, "grievance", moved)
    changed = plan_row("grievance", UNIT, 9, {**cells, "result": "已整改"})
    assert isinstance(changed, Plan)
    assert first.steps[0].key(first.row_key) == changed.steps[0].key(changed.row_key)
    assert changed.steps[1].key(changed.row_key) not in {s.key(first.row_key) for s in first.steps}


def test_a_repeated_serial_number_is_refused_not_merged(tmp_path: Path) -> None:
    sheet = read(SAMPLE)
    doubled = type(sheet)(sheet.sha256, sheet.columns, [*sheet.rows[:2], sheet.rows[0]], [])
    plans, unreadable = planned("grievance", UNIT, doubled)
    assert len(plans) == 2 and "repeats" in unreadable[0].reason


def test_suggestions_and_mediation_rows_open_their_own_cases() -> None:
    cells = {
        "seq": 1,
        "date": 45356,
        "name": "李建国",
        "content": "拖欠工资三个月",
        "handling": "已受理",
    }
    suggestion = plan_row("suggestion", UNIT, 5, {**cells, "content": "改进混凝土养护工艺"})
    assert isinstance(suggestion, Plan) and suggestion.opening["topic"] == "production"
    dispute = plan_row("dispute", UNIT, 5, cells)
    assert isinstance(dispute, Plan) and dispute.opening["category"] == "remuneration"
    assert [s.label for s in dispute.steps] == ["accept"]
    nameless = plan_row("dispute", UNIT, 5, {**cells, "name": None})
    assert isinstance(nameless, Unreadable)


def test_the_dry_run_names_each_row_and_its_case() -> None:
    plans, unreadable = planned("grievance", UNIT, read(SAMPLE))
    lines = dry_run(CHAIR, "grievance", plans, unreadable)
    assert lines[0].startswith("row 4 → GRV-") and lines[-1].startswith("row 313 ✗")


def test_a_file_that_is_no_ledger_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a workbook")
    with pytest.raises(NotALedger):
        read(junk)


def test_the_import_is_paced() -> None:
    now = [0.0]
    slept: list[float] = []
    pace = Pace(10, clock=lambda: now[0])
    for _ in range(3):
        pace.wait(sleep=slept.append)
    assert slept == [pytest.approx(0.1), pytest.approx(0.2)]


def test_only_a_chair_importing_may_date_further_back() -> None:
    assert backdate_days("worker_rep", None, 1095, 3650) == 1095
    assert backdate_days("union_chair", None, 1095, 3650) == 1095
    imported = Imported(file_sha256="a" * 64, row=3)
    assert backdate_days("union_chair", imported, 1095, 3650) == 3650
    assert backdate_days("union_chair", imported, 1095, 30) == 1095
    with pytest.raises(Problem):
        backdate_days("worker_rep", imported, 1095, 3650)
    assert imported.cause == f"import/{'a' * 64}/3"


def test_a_step_dated_before_an_overdue_mark_still_follows_it() -> None:
    story = Story(KIND, "GRV-IMPORT000001")
    assert story.when("log", log_payload()).reply.ok
    later = T0 + timedelta(days=3)
    marked = story.when("mark_overdue", {"stage": "acknowledge"}, actor=SYSTEM, at=later)
    assert story.then_types(marked) == ["grievance.overdue"]
    meta = command(story.case_id, "acknowledge", at=later + timedelta(minutes=1))
    meta = meta.model_copy(update={"occurred_at": T0 + timedelta(hours=2)})
    outcome = process(KIND, story.head, meta)
    assert outcome.reply.ok, outcome.reply
    assert [e.event_type for e in outcome.events] == ["grievance.acknowledged"]
