"""The usual headers of a union's ledger, the fields they name, and how their cells read."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from services.common.calendar import SHANGHAI

# field → the headers it goes by, the usual one first.
FIELDS: dict[str, tuple[str, ...]] = {
    "seq": ("序号", "编号", "台账编号"),
    "date": ("日期", "受理日期", "登记日期", "反映日期", "提出日期", "申请日期", "时间"),
    "name": ("姓名", "职工姓名", "反映人", "建议人", "申请人"),
    "phone": ("联系电话", "电话", "手机", "联系方式", "手机号"),
    "content": ("诉求内容", "建议内容", "反映内容", "争议事项", "内容", "事项", "问题"),
    "title": ("标题", "建议名称", "建议题目"),
    "category": ("类别", "诉求类别", "建议类别", "争议类别", "类型"),
    "channel": ("渠道", "受理渠道", "来源", "反映渠道"),
    "handling": ("办理情况", "处理情况", "办理进度"),
    "result": ("办理结果", "处理结果", "答复情况", "调解结果"),
    "done_date": ("办结日期", "办结时间", "答复日期", "处理日期"),
    "followup": ("回访情况", "回访", "回访记录"),
    "satisfaction": ("满意度", "是否满意", "回访满意度"),
    "respondent": ("被申请人", "用人单位"),
    "claim": ("请求事项", "申请事项", "诉求"),
}
BY_HEADER = {h: f for f, names in FIELDS.items() for h in names}
# An Excel serial counts days from this day (the 1900 leap-year mistake included).
EXCEL_EPOCH = date(1899, 12, 30)
# A ledger gives days; the events say 09:00 in China, the start of an office's day.
OFFICE_OPENS = time(9, 0)
_DAY = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")


def field_of(header: str, mapping: dict[str, str]) -> str | None:
    """Return the field a header names: the column map's first, then the usual names."""
    name = re.sub(r"\s+", "", header)
    if name in mapping:
        return mapping[name]
    return BY_HEADER.get(name)


def parse_map(pairs: list[str]) -> dict[str, str]:
    """Read `header=field` pairs of a column map; raise ValueError naming a bad one."""
    out: dict[str, str] = {}
    for pair in pairs:
        header, sep, field = pair.partition("=")
        if not sep or field.strip() not in FIELDS:
            raise ValueError(f"{pair!r}: give header=field, field one of {', '.join(FIELDS)}")
        out[re.sub(r"\s+", "", header)] = field.strip()
    return out


def day_of(value: Any) -> date:
    """Read a day from a cell: a date, an Excel serial, or text as ledgers write it."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 1 <= value <= 80_000:
            raise ValueError(f"{value} is not a date")
        return EXCEL_EPOCH + timedelta(days=int(value))
    text = str(value or "").strip()
    match = _DAY.match(text) or _COMPACT.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a date (as 2024-03-05, 2024/3/5 or 2024年3月5日)")
    year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date: {exc}") from exc


def moment_of(day: date, minutes: int = 0) -> datetime:
    """The instant an event of that day is dated: office opening in China, plus minutes."""
    local = datetime.combine(day, OFFICE_OPENS, tzinfo=SHANGHAI) + timedelta(minutes=minutes)
    return local.astimezone(UTC)


def text_of(value: Any) -> str:
    """A cell's text, trimmed; numbers as written (a serial number 3.0 reads as 3)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def phone_of(value: Any) -> str | None:
    """A phone number without the spaces and dashes people type; None when blank."""
    digits = re.sub(r"[\s\-()]", "", text_of(value))
    if not digits:
        return None
    if not re.fullmatch(r"\+?\d{5,20}", digits):
        raise ValueError(f"{text_of(value)!r} is not a phone number")
    return digits
