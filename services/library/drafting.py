"""The first draft of a typical case, written from its source's facts with nobody named."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.library.anonymise import anonymise, fen_range

WORKER = "申请人（职工）"
EMPLOYER = "某用人单位"
OUTCOMES = {
    "performed": "双方达成调解协议并已履行",
    "breached": "双方达成调解协议，但未履行，职工依法申请仲裁",
    "failed": "调解未能达成协议，职工可依法申请仲裁",
    "deadline_passed": "调解期满未达成协议，职工可依法申请仲裁",
    "referred_to_arbitration": "职工向劳动人事争议仲裁委员会申请仲裁",
    "declined": "调解委员会不予受理",
    "closed": "诉求已办结",
}

# The words a draft names a source's category by (disputes' and grievances' codes).
CATEGORY_WORDS = {
    "labour_relationship": "确认劳动关系",
    "contract": "劳动合同",
    "dismissal_resignation": "辞退离职",
    "working_hours_rest_leave": "工时休假",
    "social_insurance": "社会保险",
    "welfare": "福利",
    "training": "培训",
    "labour_protection": "劳动保护",
    "remuneration": "劳动报酬",
    "work_injury_medical": "工伤医疗",
    "severance": "经济补偿",
    "compensation": "赔偿金",
    "wages": "工资",
    "working_hours": "工时",
    "safety": "安全",
    "canteen": "食堂",
    "accommodation": "住宿",
}


@dataclass(frozen=True)
class Facts:
    """What a draft is written from: the source's facts, its personal values opened."""

    category: str
    outcome: str | None
    summary: str | None
    texts: Sequence[str]
    claims: Sequence[tuple[str, int | None]]
    agreed_fen: int
    # Each personal value of the source, with the role that stands for it.
    roles: Mapping[str, str]


def roles_for(name: str | None, phone: str | None, employer: str | None) -> dict[str, str]:
    """Map a source's name, phone and employer to the roles a typical case names them by."""
    roles: dict[str, str] = {}
    if name:
        roles[name] = WORKER
    if phone:
        roles[phone] = "[电话已隐去]"
    if employer:
        roles[employer] = EMPLOYER
    return roles


def draft(facts: Facts) -> tuple[str, str]:
    """Return the title and text of a first draft, anonymised."""
    words = CATEGORY_WORDS.get(facts.category, "劳动")
    lines = [f"【案情简介】{WORKER}与{EMPLOYER}发生{words}方面的争议。"]
    if facts.summary:
        lines.append(facts.summary)
    lines.extend(facts.texts)
    if facts.claims:
        asked = "；".join(
            f"{what}（{fen_range(fen)}）" if fen else what for what, fen in facts.claims
        )
        lines.append(f"【职工请求】{asked}。")
    if facts.agreed_fen:
        lines.append(f"【调解结果】约定支付{fen_range(facts.agreed_fen)}。")
    if facts.outcome in OUTCOMES:
        lines.append(f"【处理结果】{OUTCOMES[facts.outcome]}。")
    text = anonymise("\n".join(lines), facts.roles)
    return f"{words}争议典型案例", text
