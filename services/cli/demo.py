"""Demo data from the source articles, loaded over the public HTTP API (safe to load twice)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from rich.console import Console

from contracts.catalog import SERVICES
from services.common.auth import issue_token
from services.common.settings import Settings

INTAKE = f"http://127.0.0.1:{SERVICES['intake'].port}"
# How long a demo command is retried while the ledger answers 503.
RETRY_FOR_S = 90.0


def load_demo(settings: Settings, out: Console) -> None:
    """Load every demo, through the APIs the settings name: the canteen complaint, the
    democratic-management figures, and the case library with its volunteers."""
    with httpx.Client(timeout=60) as client:
        case = _canteen(settings, client, settings.intake_url)
    out.print(
        f"demo data: the canteen complaint {case} is logged, acknowledged and resolved on site"
    )
    load_suggestions_demo(
        settings, out, suggestions=settings.suggestions_url, intake=settings.intake_url
    )
    from services.cli.library_demo import load_library_demo

    load_library_demo(settings, out)


# --- democratic management: the seed's 13 project departments ---------------------------

SUGGESTIONS = f"http://127.0.0.1:{SERVICES['suggestions'].port}"
COMPANY = "demo/co"
DEPARTMENTS = [f"{COMPANY}/p{n:02d}" for n in range(1, 14)]
DEMO_SUGGESTIONS = 58
DEMO_GRIEVANCES = 36
CONGRESS = "公司第三届职工代表大会第二次会议"
SUGGESTION_TOPICS = [
    ("safety", "高空作业区增设安全网和警示标识"),
    ("welfare", "夏季施工现场增设防暑降温点"),
    ("quality", "钢筋绑扎工序增加班组互检"),
    ("training", "新进场工人岗前培训增加实操课"),
    ("production", "混凝土浇筑错峰安排减少等待"),
    ("performance_appraisal", "班组绩效考核结果按月公示"),
    ("ideological_work", "开设工地夜校和读书角"),
    ("other", "生活区增设快递收发点"),
]
GRIEVANCE_CATEGORIES = [
    ("accommodation", "宿舍热水供应时间太短"),
    ("wages", "加班工资核算不清楚"),
    ("safety", "塔吊附近照明不足"),
    ("working_hours", "连续夜班缺少轮休"),
    ("welfare", "防暑降温用品发放不及时"),
    ("training", "特种作业证复审培训安排不上"),
    ("canteen", "食堂开饭时间与下班时间冲突"),
]
# The seed's canteen complaint (fictional worker), one of the company's 36 grievances.
CANTEEN = {
    "unit": "demo/co/p01",
    "category": "canteen",
    "summary": "食堂菜品有待改善",
    "details": "工友反映食堂菜品单一、口味偏咸，希望增加蔬菜和面食。",
    "channel": "in_person",
    "complainant": {"name": "王小林", "phone": "13800000001"},
}
CANTEEN_RESOLUTION = {
    "how": "on_site",
    "resolution": "项目部与食堂承包方协商，每周增加两次面食和时令蔬菜。",
}


def _send(
    client: httpx.Client, url: str, token: str, key: str, body: dict[str, Any]
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    # A worker still joining answers 503; the same key makes the retry count once.
    deadline = time.monotonic() + RETRY_FOR_S
    response = client.post(url, json=body, headers=headers)
    while response.status_code == 503 and time.monotonic() < deadline:
        time.sleep(float(response.headers.get("Retry-After", "1")))
        response = client.post(url, json=body, headers=headers)
    if response.status_code >= 400 and response.status_code != 409:
        raise RuntimeError(f"demo data: {url} answered {response.status_code}: {response.text}")
    result: dict[str, Any] = response.json()
    return result


def _members(department: int) -> list[str]:
    """The chair leads; 4 to 6 elected members sit with them (groups of 5, 6 and 7)."""
    size = 5 + (department - 1) % 3
    return [f"chair-p{department:02d}", *(f"m{k}-p{department:02d}" for k in range(2, size + 1))]


def _share(total: int, department: int) -> int:
    """Spread `total` items over the 13 departments, the first ones taking the remainder."""
    base, extra = divmod(total, len(DEPARTMENTS))
    return base + (1 if department <= extra else 0)


def _department(settings: Settings, department: int, suggestions: str, intake: str) -> int:
    """Load one department: its group, adopted suggestions and handled grievances."""
    unit = DEPARTMENTS[department - 1]
    members = _members(department)
    tag = f"p{department:02d}"

    def token(user: str, role: str) -> str:
        return issue_token(settings, user=user, role=role, unit=unit)

    chair = token(members[0], "union_chair")
    rep = token(f"rep-{tag}", "worker_rep")
    voters = {m: token(m, "group_member") for m in members[1:]} | {members[0]: chair}
    quorum = -(-2 * len(members) // 3)
    with httpx.Client(timeout=60) as client:
        _send(
            client,
            f"{suggestions}/groups",
            chair,
            f"demo-group-{tag}",
            {"unit": unit, "members": members, "leader": members[0], "congress_session": CONGRESS},
        )
        for i in range(_share(DEMO_SUGGESTIONS, department)):
            topic, title = SUGGESTION_TOPICS[(department + i) % len(SUGGESTION_TOPICS)]
            key = f"demo-sug-{tag}-{i}"
            by_rep = i % 2 == 0
            submission: dict[str, Any] = {
                "unit": unit,
                "kind": "suggestion",
                "topic": topic,
                "title": title,
                "content": f"{title}：班组讨论后提出，建议项目部尽快落实。",
                "anonymous": by_rep,
            }
            submitter = rep if by_rep else voters[members[1]]
            url = f"{suggestions}/suggestions"
            case = _send(client, url, submitter, f"{key}-submit", submission)["case_id"]
            base = f"{suggestions}/suggestions/{case}"
            _send(client, f"{base}/open-review", chair, f"{key}-review", {"meeting": "月度例会"})
            for member in members[:quorum]:
                body = {"member": member, "vote": "for"}
                _send(client, f"{base}/votes", voters[member], f"{key}-vote", body)
            _send(client, f"{base}/close-vote", chair, f"{key}-close", {})
            _send(client, f"{base}/implement", chair, f"{key}-done", {"note": f"已落实：{title}"})
        grievances = _share(DEMO_GRIEVANCES, department)
        if department == 1:
            _canteen(settings, client, intake)
            grievances -= 1
        for i in range(grievances):
            category, summary = GRIEVANCE_CATEGORIES[(department + i) % len(GRIEVANCE_CATEGORIES)]
            key = f"demo-grv-{tag}-{i}"
            grievance: dict[str, Any] = {
                "unit": unit,
                "category": category,
                "summary": summary,
                "channel": "in_person",
                "anonymous": True,
            }
            case = _send(client, f"{intake}/grievances", rep, f"{key}-log", grievance)["case_id"]
            _send(client, f"{intake}/grievances/{case}/acknowledge", rep, f"{key}-ack", {})
            resolution = {"how": "on_site", "resolution": f"已现场解决：{summary}"}
            _send(client, f"{intake}/grievances/{case}/resolve", rep, f"{key}-resolve", resolution)
    return department


def _canteen(settings: Settings, client: httpx.Client, intake: str) -> str:
    """Log the seed's canteen complaint, acknowledge it and resolve it on site."""
    rep = issue_token(settings, user="rep-p01", role="worker_rep", unit="demo/co/p01")
    case = _send(client, f"{intake}/grievances", rep, "demo-canteen-log", CANTEEN)["case_id"]
    _send(client, f"{intake}/grievances/{case}/acknowledge", rep, "demo-canteen-ack", {})
    resolve = f"{intake}/grievances/{case}/resolve"
    _send(client, resolve, rep, "demo-canteen-resolve", CANTEEN_RESOLUTION)
    return str(case)


def _proposal_and_query(settings: Settings, suggestions: str) -> None:
    """A wage-payment proposal the p01 group vetoes, and a safety query it accepts."""
    unit, members = DEPARTMENTS[0], _members(1)
    chair = issue_token(settings, user=members[0], role="union_chair", unit=unit)
    with httpx.Client(timeout=60) as client:
        body = {
            "unit": unit,
            "kind": "management_proposal",
            "topic": "wage_payment",
            "title": "工资改为季度发放",
            "content": "项目部提议将农民工工资由按月发放改为按季度发放。",
        }
        case = _send(client, f"{suggestions}/suggestions", chair, "demo-prop-submit", body)
        base = f"{suggestions}/suggestions/{case['case_id']}"
        _send(client, f"{base}/open-review", chair, "demo-prop-review", {"meeting": "专题会议"})
        for member in members:
            voter = (
                chair
                if member == members[0]
                else issue_token(settings, user=member, role="group_member", unit=unit)
            )
            vote = {"member": member, "vote": "against"}
            _send(client, f"{base}/votes", voter, "demo-prop-vote", vote)
        _send(client, f"{base}/close-vote", chair, "demo-prop-close", {})
        query = {
            "unit": unit,
            "area": "safety",
            "question": "二号楼脚手架验收为何推迟？",
            "addressed_to": "项目经理",
        }
        raised = _send(client, f"{suggestions}/queries", chair, "demo-qry-raise", query)
        qbase = f"{suggestions}/queries/{raised['case_id']}"
        answer = {"answer": "钢管扣件复检未完成，本周五前完成验收。"}
        _send(client, f"{qbase}/answer", chair, "demo-qry-answer", answer)
        _send(client, f"{qbase}/accept-answer", chair, "demo-qry-accept", {})


def load_suggestions_demo(
    settings: Settings,
    out: Console,
    *,
    suggestions: str = SUGGESTIONS,
    intake: str = INTAKE,
) -> None:
    """Load the seed's figures for demo/co: 13 groups, 58 adopted suggestions, 36 grievances."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(lambda d: _department(settings, d, suggestions, intake), range(1, 14)))
    _proposal_and_query(settings, suggestions)
    out.print(
        f"demo data: {len(done)} democratic-management groups, {DEMO_SUGGESTIONS} suggestions"
        f" adopted and carried out, {DEMO_GRIEVANCES} grievances handled in {COMPANY}"
    )
