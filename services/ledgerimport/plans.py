"""What each ledger row becomes: the commands of its case, dated as the ledger says, or why not."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from services.ledgerimport.columns import day_of, moment_of, phone_of, text_of

Kind = Literal["grievance", "suggestion", "dispute"]
RESOURCE: dict[Kind, str] = {
    "grievance": "grievances",
    "suggestion": "suggestions",
    "dispute": "disputes",
}
SERVICE: dict[Kind, str] = {
    "grievance": "intake",
    "suggestion": "suggestions",
    "dispute": "mediation",
}
# Words of a ledger's cells and the values they stand for; the first that occurs wins.
GRIEVANCE_CATEGORIES = (
    ("食堂", "canteen"), ("餐", "canteen"), ("饭", "canteen"), ("工资", "wages"),
    ("薪", "wages"), ("欠", "wages"), ("安全", "safety"), ("工时", "working_hours"),
    ("加班", "working_hours"), ("休息", "working_hours"), ("宿舍", "accommodation"),
    ("住宿", "accommodation"), ("福利", "welfare"), ("培训", "training"), ("合同", "contract"),
)  # fmt: skip
SUGGESTION_TOPICS = (
    ("考核", "performance_appraisal"), ("绩效", "performance_appraisal"), ("质量", "quality"),
    ("安全", "safety"), ("培训", "training"), ("福利", "welfare"), ("思想", "ideological_work"),
    ("生产", "production"), ("施工", "production"), ("工艺", "production"),
)  # fmt: skip
DISPUTE_CATEGORIES = (
    ("工资", "remuneration"), ("报酬", "remuneration"), ("工伤", "work_injury_medical"),
    ("医疗", "work_injury_medical"), ("经济补偿", "severance"), ("赔偿", "compensation"),
    ("社会保险", "social_insurance"), ("社保", "social_insurance"),
    ("工作时间", "working_hours_rest_leave"), ("休息", "working_hours_rest_leave"),
    ("休假", "working_hours_rest_leave"), ("福利", "welfare"), ("培训", "training"),
    ("劳动保护", "labour_protection"), ("辞退", "dismissal_resignation"),
    ("辞职", "dismissal_resignation"), ("解除", "contract"), ("合同", "contract"),
    ("劳动关系", "labour_relationship"),
)  # fmt: skip
CHANNELS = (("12351", "hotline_12351"), ("热线", "hotline_12351"), ("电话", "phone"),
            ("信箱", "mailbox"), ("网", "app"), ("APP", "app"), ("手机", "app"))  # fmt: skip
FINISHED = ("办结", "解决", "答复", "完成", "已处理", "落实")
WITHDRAWN = ("撤回", "撤销", "撤诉")
SATISFIED = {"满意": "satisfied", "基本满意": "basically_satisfied", "不满意": "unsatisfied"}


@dataclass(frozen=True)
class Step:
    """One command of a row's case: the path after the case, its body, and what it is."""

    verb: str
    body: dict[str, Any]
    label: str

    def key(self, row_key: str) -> str:
        """The command's Idempotency-Key: the same row and content always give the same."""
        content = json.dumps([row_key, self.verb, self.body], sort_keys=True, ensure_ascii=False)
        return "import-" + hashlib.sha256(content.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Plan:
    """A readable row: the key that names its case, the opening command, then the steps."""

    row: int
    row_key: str
    opening: dict[str, Any]
    received: date
    steps: list[Step] = field(default_factory=list)

    @property
    def opening_key(self) -> str:
        """The opening's Idempotency-Key, from the row's key alone, so its case is found again."""
        return "import-" + hashlib.sha256(f"open/{self.row_key}".encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Unreadable:
    """A row the import cannot turn into commands, and why."""

    row: int
    reason: str


def _pick(text: str, table: tuple[tuple[str, str], ...], default: str) -> str:
    return next((value for word, value in table if word in text), default)


def plan_row(kind: Kind, unit: str, row: int, cells: dict[str, Any]) -> Plan | Unreadable:
    """Turn one row's cells into its case's commands, or say what keeps it from being read."""
    try:
        return _plan(kind, unit, row, cells)
    except ValueError as exc:
        return Unreadable(row, str(exc).splitlines()[0][:300])


def _plan(kind: Kind, unit: str, row: int, cells: dict[str, Any]) -> Plan:
    if cells.get("date") in (None, ""):
        raise ValueError("no date: the 日期 column is empty")
    received = day_of(cells["date"])
    content = text_of(cells.get("content"))
    if not content:
        raise ValueError("no content: the 诉求内容/建议内容 column is empty")
    name = text_of(cells.get("name"))[:100]
    phone = phone_of(cells.get("phone"))
    seq = text_of(cells.get("seq"))
    # The row's serial number names its case across corrected files; without one, its place.
    row_key = f"{unit}/{kind}/{seq or f'row-{row}'}"
    at = moment_of(received).isoformat()
    person = {"name": name, "phone": phone} if name else None
    if kind == "grievance":
        return _grievance(row, row_key, unit, received, at, content, person, cells)
    if kind == "suggestion":
        topic = _pick(text_of(cells.get("category")) + content, SUGGESTION_TOPICS, "other")
        opening = {
            "unit": unit,
            "kind": "suggestion",
            "topic": topic,
            "title": (text_of(cells.get("title")) or content)[:200],
            "content": content[:4000],
            "submitted_at": at,
            **({"worker": person} if person else {"anonymous": True}),
        }
        return Plan(row, row_key, opening, received)
    if person is None:
        raise ValueError("no applicant: mediation needs the worker's name (申请人/姓名)")
    category = _pick(text_of(cells.get("category")) + content, DISPUTE_CATEGORIES, "")
    if not category:
        raise ValueError("no dispute category the law names (类别: 工资, 工伤, 社保…)")
    opening = {
        "unit": unit,
        "form": "written",
        "applicant": person,
        "respondent": {"employer": text_of(cells.get("respondent"))[:200] or "（台账未载）"},
        "category": category,
        "matters": content[:4000],
        "claims": [{"description": (text_of(cells.get("claim")) or content)[:500]}],
        "known_since": received.isoformat(),
        "received_at": at,
    }
    steps = []
    if "受理" in text_of(cells.get("handling")) and "不予" not in text_of(cells.get("handling")):
        steps.append(Step("accept", {"occurred_at": at}, "accept"))
    return Plan(row, row_key, opening, received, steps)


def _grievance(
    row: int,
    row_key: str,
    unit: str,
    received: date,
    at: str,
    content: str,
    person: dict[str, Any] | None,
    cells: dict[str, Any],
) -> Plan:
    handling = text_of(cells.get("handling"))
    result = text_of(cells.get("result"))
    category = _pick(text_of(cells.get("category")) + content, GRIEVANCE_CATEGORIES, "other")
    opening = {
        "unit": unit,
        "category": category,
        "summary": content[:200],
        "details": content[:4000] if len(content) > 200 else None,
        "channel": _pick(text_of(cells.get("channel")), CHANNELS, "in_person"),
        "received_at": at,
        **({"complainant": person} if person else {"anonymous": True}),
    }
    done = day_of(cells["done_date"]) if cells.get("done_date") not in (None, "") else received
    if done < received:
        raise ValueError(f"the 办结日期 ({done}) is before the 日期 ({received})")
    done_at = moment_of(done, 1 if done == received else 0).isoformat()
    steps: list[Step] = []
    if any(w in handling for w in WITHDRAWN):
        return Plan(
            row, row_key, opening, received, [Step("withdraw", {"occurred_at": at}, "withdraw")]
        )
    if handling or result:
        steps.append(Step("acknowledge", {"occurred_at": at}, "acknowledge"))
    if result or any(w in handling for w in FINISHED):
        body = {"how": "on_site", "resolution": (result or handling)[:2000], "occurred_at": done_at}
        steps.append(Step("resolve", body, "resolve"))
        followup = text_of(cells.get("followup"))
        if followup:
            steps.append(
                Step("feedback", {"note": followup[:2000], "occurred_at": done_at}, "feedback")
            )
        satisfaction = SATISFIED.get(text_of(cells.get("satisfaction")))
        if satisfaction in ("satisfied", "basically_satisfied"):
            steps.append(Step("close", {"occurred_at": done_at}, "close"))
        elif satisfaction == "unsatisfied":
            reason = "回访不满意" + (f"：{followup}" if followup else "")
            steps.append(
                Step("reopen", {"reason": reason[:2000], "occurred_at": done_at}, "reopen")
            )
    return Plan(row, row_key, {k: v for k, v in opening.items() if v is not None}, received, steps)
