"""Demo data of the case library and the 护薪 teams, after Yantian's classroom (safe twice)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console

from services.cli.demo import RETRY_FOR_S, _send
from services.common.auth import issue_token
from services.common.calendar import local_date
from services.common.settings import Settings

UNIT = "demo/co"
# Fictional workers whose disputes were mediated and carried out, and became typical cases.
DISPUTES: list[dict[str, Any]] = [
    {
        "key": "wages",
        "applicant": {"name": "赵春生", "phone": "13900000011"},
        "employer": "演示劳务分包有限公司",
        "category": "remuneration",
        "matters": "赵春生在二号楼工地务工三个月，演示劳务分包有限公司拖欠工资。",
        "claim": ("补发三个月工资", "18600.00"),
        "agreed": "18600.00",
        "title": "劳务分包拖欠农民工工资调解案",
        "lesson": "用人单位应按月足额支付工资；职工应保存考勤记录、工资条和聊天记录作为证据。",
        "articles": ["《劳动合同法》第三十条", "《保障农民工工资支付条例》第十一条"],
        "tags": ["欠薪", "农民工", "调解"],
    },
    {
        "key": "overtime",
        "applicant": {"name": "孙丽华", "phone": "13900000012"},
        "employer": "演示物流有限公司",
        "category": "working_hours_rest_leave",
        "matters": "孙丽华连续三个月每周工作六天，演示物流有限公司未支付加班工资。",
        "claim": ("支付休息日加班工资", "6400.00"),
        "agreed": "5200.00",
        "title": "休息日加班未付加班费调解案",
        "lesson": "安排休息日工作又不能补休的，应支付不低于工资百分之二百的报酬；"
        "企业应完善排班制度。",
        "articles": ["《劳动法》第四十四条"],
        "tags": ["加班费", "工时"],
    },
]
VOLUNTEERS = [
    ("vol-cadre-1", "union_cadre", "第一护薪队", "刘建军", ["wages", "contracts"]),
    ("vol-w-1", "worker_volunteer", "第一护薪队", "陈师傅", ["wages"]),
    ("vol-law-1", "lawyer_volunteer", "第二护薪队（律师）", "周律师", ["wages", "work_injury"]),
]


def _today() -> datetime:
    return datetime.now(UTC)


def _settled(
    client: httpx.Client, mediation: str, chair: str, med: str, case: dict[str, Any]
) -> str:
    """Mediate one dispute to an agreement that was carried out."""
    key = f"demo-lib-{case['key']}"
    description, amount = case["claim"]
    body = {
        "unit": f"{UNIT}/p02",
        "form": "written",
        "applicant": case["applicant"],
        "respondent": {"employer": case["employer"]},
        "category": case["category"],
        "matters": case["matters"],
        "claims": [{"description": description, "amount": amount}],
        "known_since": (local_date(_today()) - timedelta(days=40)).isoformat(),
        "accept_on_receipt": True,
    }
    dsp = str(_send(client, f"{mediation}/disputes", chair, f"{key}-apply", body)["case_id"])
    base = f"{mediation}/disputes/{dsp}"
    _send(client, f"{base}/assign", chair, f"{key}-assign", {"mediator": "med-1"})
    agreement = {
        "terms": f"{case['employer']}于十五日内一次性支付",
        "amount": case["agreed"],
        "perform_by": (local_date(_today()) + timedelta(days=15)).isoformat(),
        "signed_by": ["applicant", "respondent", "mediator"],
    }
    _send(client, f"{base}/agreement", med, f"{key}-agree", agreement)
    _send(client, f"{base}/performed", chair, f"{key}-performed", {})
    return dsp


def _proposed(client: httpx.Client, library: str, med: str, key: str, dsp: str) -> dict[str, Any]:
    """Propose a dispute once the library has seen it closed."""
    headers = {"Authorization": f"Bearer {med}", "Idempotency-Key": key}
    body = {"unit": UNIT, "source_case_id": dsp}
    deadline = time.monotonic() + RETRY_FOR_S
    while True:
        response = client.post(f"{library}/typical-cases", json=body, headers=headers)
        if response.status_code < 400 or time.monotonic() > deadline:
            break
        if response.status_code not in (409, 422, 503):
            break
        time.sleep(1)
    if response.status_code >= 400:
        raise RuntimeError(f"demo data: proposing {dsp} answered {response.status_code}")
    case_id = response.json()["case_id"]
    found = client.get(f"{library}/typical-cases/{case_id}", headers=headers)
    result: dict[str, Any] = found.json()
    return result


def load_library_demo(settings: Settings, out: Console) -> None:
    """Two typical cases published after review, a classroom session, three volunteers."""
    library, mediation = settings.library_url, settings.mediation_url

    def token(user: str, role: str) -> str:
        return issue_token(settings, user=user, role=role, unit=UNIT)

    chair, med = token("chair-co", "union_chair"), token("med-1", "mediator")
    published: list[str] = []
    with httpx.Client(timeout=60) as client:
        disputes = [_settled(client, mediation, chair, med, c) for c in DISPUTES]
        for case, dsp in zip(DISPUTES, disputes, strict=True):
            key = f"demo-lib-{case['key']}"
            draft = _proposed(client, library, med, f"{key}-propose", dsp)
            typ = draft["case_id"]
            base = f"{library}/typical-cases/{typ}"
            if draft["status"] != "published":
                edit = {
                    "title": case["title"],
                    "text": draft["text"],
                    "lesson": case["lesson"],
                    "articles": case["articles"],
                    "tags": case["tags"],
                }
                _send(client, f"{base}/edit", med, f"{key}-edit", edit)
                _send(client, f"{base}/approve", chair, f"{key}-approve", {"note": "同意发布"})
                _send(client, f"{base}/publish", med, f"{key}-publish", {})
            published.append(typ)
        session = {
            "unit": UNIT,
            "held_on": local_date(_today()).isoformat(),
            "place": "公司工会劳动仲裁工会学堂",
            "cases": published,
            "attendance": [
                {"role": "union_cadre", "count": 12},
                {"role": "management", "count": 8},
                {"role": "member_representative", "count": 20},
            ],
        }
        _send(client, f"{library}/classrooms", chair, "demo-lib-classroom", session)
        volunteers = {}
        for user, kind, team, name, skills in VOLUNTEERS:
            body = {
                "unit": UNIT,
                "team": team,
                "user_id": user,
                "kind": kind,
                "name": name,
                "skills": skills,
                "languages": ["zh"],
                "availability": "工作日晚上和周末",
            }
            made = _send(client, f"{library}/volunteers", chair, f"demo-lib-{user}", body)
            volunteers[user] = made["case_id"]
        lawyer = token("vol-law-1", "volunteer")
        ask = {
            "unit": UNIT,
            "source_case_id": disputes[0],
            "volunteer_case_id": volunteers["vol-law-1"],
            "brief": "请核对工资发放记录，并为职工提供法律咨询。",
        }
        help_id = _send(client, f"{library}/help", med, "demo-lib-help", ask)["case_id"]
        hbase = f"{library}/help/{help_id}"
        _send(client, f"{hbase}/accept", lawyer, "demo-lib-help-accept", {})
        work = {"hours": 3, "actions": ["check_pay_records", "legal_advice"]}
        _send(client, f"{hbase}/record", lawyer, "demo-lib-help-record", work)
    out.print(
        f"demo data: {len(published)} typical cases published after review, a classroom"
        f" session, {len(VOLUNTEERS)} 护薪 volunteers in {UNIT}, one helping on {disputes[0]}"
    )
