"""A grievance ledger as union offices keep it in Excel, mistakes and all, for the import."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook

from services.common.settings import ROOT

SAMPLE = ROOT / "deploy" / "samples" / "grievance-ledger.xlsx"
FIRST_DAY = date(2024, 1, 2)
WORDS = (
    ("食堂菜品单一，希望增加面食", "食堂"),
    ("十月工资迟发一周", "工资"),
    ("脚手架护栏松动", "安全"),
    ("连续加班未安排调休", "工时"),
    ("宿舍热水器损坏", "住宿"),
    ("高温补贴未发放", "福利"),
    ("特种作业证培训名额不足", "培训"),
    ("劳动合同未发给本人", "合同"),
)
NAMES = ("王小林", "李建国", "张伟", "刘芳", "陈强", "杨洋", "赵敏", "黄磊")
HEADER = (
    "序号", "日期", "姓名", "联系电话", "诉求内容", "类别",
    "办理情况", "办理结果", "办结日期", "回访情况", "满意度",
)  # fmt: skip


def write_sample(path: Path = SAMPLE, rows: int = 300, seed: int = 16) -> Path:
    """Write a ledger of `rows` grievances: a merged title, two header rows, blank rows,
    dates as dates, as text and as Excel serials, phones with spaces, and two bad rows."""
    rng = random.Random(seed)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "诉求台账"
    sheet.append(["第3项目部职工诉求台账（2024—2025年）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    # Two header rows: most headings span both, 办理情况 heads its two columns.
    sheet.append([*HEADER[:6], "办理情况", None, *HEADER[8:]])
    sheet.append([None] * 6 + ["办理情况", "办理结果"] + [None] * 3)
    for column in (*range(1, 7), *range(9, 12)):
        sheet.merge_cells(start_row=2, start_column=column, end_row=3, end_column=column)
    sheet.merge_cells(start_row=2, start_column=7, end_row=2, end_column=8)
    for n in range(1, rows + 1):
        if n % 37 == 0:
            sheet.append([])  # blank rows, as between months
        day = FIRST_DAY + timedelta(days=n * 2)
        content, category = WORDS[n % len(WORDS)]
        shape = n % 3
        written: object = (
            datetime.combine(day, datetime.min.time())
            if shape == 0
            else f"{day.year}/{day.month}/{day.day}"
            if shape == 1
            else (day - date(1899, 12, 30)).days
        )
        anonymous = n % 11 == 0
        phone = f"138 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}"
        stage = n % 4
        handling = ("已登记", "办理中", "已办结", "已办结")[stage]
        result = "已协调整改" if stage >= 2 else ""
        done = day + timedelta(days=rng.randrange(1, 6)) if stage >= 2 else None
        followup = "电话回访，职工认可" if stage == 3 else ""
        satisfied = ("满意", "基本满意", "不满意")[n % 3] if stage == 3 else ""
        sheet.append(
            [
                n,
                written,
                None if anonymous else NAMES[n % len(NAMES)],
                None if anonymous else phone,
                f"{content}（{n}）",
                category,
                handling if stage else "",
                result,
                f"{done.year}年{done.month}月{done.day}日" if done else None,
                followup,
                satisfied,
            ]
        )
    sheet.append([rows + 1, None, "王小林", "13800000001", "没有日期的一行", "食堂"])
    sheet.append([rows + 2, "2024-13-45", "李建国", None, "日期写错的一行", "工资"])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
