"""Cases in every state worth reaching, made through the public APIs before the fuzzing starts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.common.calendar import local_date

UNIT = "demo/co/p01"
CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
MEMBERS = ["chair-co", "m2-p01", "m3-p01", "m4-p01", "m5-p01"]
# How long a seeding command is retried while a worker still joins (503).
RETRY_FOR_S = 90.0
Token = Callable[..., str]


def days_from_today(days: int) -> str:
    """A local date some days from today, as a case would name it."""
    return (local_date(datetime.now(UTC)) + timedelta(days=days)).isoformat()


@dataclass
class Seeded:
    """The cases made, by the service that decides them."""

    cases: dict[str, set[str]] = field(default_factory=dict)

    def add(self, service: str, case_id: str) -> None:
        """Remember a case of a service."""
        self.cases.setdefault(service, set()).add(case_id)

    def every(self) -> set[str]:
        """Every case made, of any service."""
        return set().union(*self.cases.values()) if self.cases else set()


class Seeder:
    """Sends the commands that put cases into their states, retrying while workers join."""

    def __init__(self, urls: dict[str, str], token: Token) -> None:
        self.urls, self.token, self.seeded = urls, token, Seeded()
        self.client = httpx.Client(timeout=60)
        self.chair = token(**CHAIR)

    def send(
        self,
        service: str,
        path: str,
        body: dict[str, Any],
        token: str | None = None,
        *,
        waiting: tuple[int, ...] = (503,),
    ) -> str:
        """Send one command and return the case it names; a refusal stops the seeding.

        `waiting`: the answers retried, as 422 while a service has yet to read another's case.
        """
        headers = {"Authorization": f"Bearer {token or self.chair}"}
        url = f"{self.urls[service]}{path}"
        deadline = time.monotonic() + RETRY_FOR_S
        while True:
            response = self.client.post(url, json=body, headers=headers)
            if response.status_code not in waiting or time.monotonic() > deadline:
                break
            # The same key makes the retry count once.
            if "Idempotency-Key" in response.headers:
                headers["Idempotency-Key"] = response.headers["Idempotency-Key"]
            time.sleep(1)
        if response.status_code >= 400:
            raise RuntimeError(
                f"seeding: POST {path} answered {response.status_code}: {response.text}"
            )
        case_id = str(response.json()["case_id"])
        self.seeded.add(service, case_id)
        return case_id

    def close(self) -> None:
        """Let go of the connections."""
        self.client.close()


def _grievances(s: Seeder) -> None:
    def log(**extra: Any) -> str:
        body = {
            "unit": UNIT,
            "category": "canteen",
            "summary": "食堂菜品单一",
            "channel": "in_person",
            "anonymous": True,
            **extra,
        }
        return s.send("intake", "/grievances", body)

    log()
    named = log(anonymous=False, complainant={"name": "王小林", "phone": "13800000001"})
    s.send("intake", f"/grievances/{named}/acknowledge", {})
    escalated = log()
    s.send("intake", f"/grievances/{escalated}/acknowledge", {})
    due = days_from_today(30)
    s.send("intake", f"/grievances/{escalated}/escalate", {"owner": "fup-1", "due": due})
    resolved = log(details="工友反映菜品偏咸")
    s.send("intake", f"/grievances/{resolved}/acknowledge", {})
    resolution = {"how": "on_site", "resolution": "每周增加两次面食"}
    s.send("intake", f"/grievances/{resolved}/resolve", resolution)
    referred = log(category="wages", summary="加班工资核算不清楚")
    s.send("intake", f"/grievances/{referred}/acknowledge", {})
    body = {"dispute_category": "remuneration"}
    s.send("intake", f"/grievances/{referred}/refer-to-mediation", body)


def _democracy(s: Seeder) -> None:
    group = {
        "unit": UNIT,
        "members": MEMBERS,
        "leader": MEMBERS[0],
        "congress_session": "第二次会议",
    }
    s.send("suggestions", "/groups", group)
    voters = {m: s.token(user=m, role="group_member", unit=UNIT) for m in MEMBERS[1:]}
    voters[MEMBERS[0]] = s.chair

    def submit(title: str) -> str:
        body = {"unit": UNIT, "topic": "welfare", "title": title, "content": "菜品单一"}
        return s.send("suggestions", "/suggestions", {**body, "anonymous": True})

    submit("食堂增加面食")
    reviewed = submit("夏季增设防暑点")
    s.send("suggestions", f"/suggestions/{reviewed}/open-review", {"meeting": "月度例会"})
    adopted = submit("宿舍热水延时")
    s.send("suggestions", f"/suggestions/{adopted}/open-review", {"meeting": "月度例会"})
    for member in MEMBERS[:4]:
        vote = {"member": member, "vote": "for"}
        s.send("suggestions", f"/suggestions/{adopted}/votes", vote, voters[member])
    s.send("suggestions", f"/suggestions/{adopted}/close-vote", {})
    refer = {"owner": "fup-1", "due": days_from_today(30)}
    s.send("suggestions", f"/suggestions/{adopted}/refer-to-leadership", refer)
    query = {"unit": UNIT, "area": "safety", "question": "脚手架验收为何推迟？"}
    s.send("suggestions", "/queries", {**query, "addressed_to": "项目经理"})
    answered = s.send("suggestions", "/queries", {**query, "addressed_to": "项目经理"})
    s.send("suggestions", f"/queries/{answered}/answer", {"answer": "本周五前完成验收"})


APPLICATION: dict[str, Any] = {
    "unit": UNIT,
    "form": "written",
    "applicant": {"name": "李建国", "phone": "13900000002"},
    "respondent": {"employer": "演示建设集团有限公司", "management": ["pm-p01"]},
    "category": "remuneration",
    "matters": "十月工资未按时足额发放",
    "claims": [{"description": "补发十月工资", "amount": "12500.00"}],
}


def _disputes(s: Seeder) -> str:
    """Disputes in their states; return the one whose mediation failed (it is closed)."""

    def apply(**extra: Any) -> str:
        body = {**APPLICATION, "known_since": days_from_today(-30), **extra}
        return s.send("mediation", "/disputes", body)

    apply()
    accepted = apply()
    s.send("mediation", f"/disputes/{accepted}/accept", {})
    for ends in ("agreement", "fail"):
        case = apply(accept_on_receipt=True)
        s.send("mediation", f"/disputes/{case}/assign", {"mediator": "med-1"})
        session = {"held_on": days_from_today(0), "attendees": ["med-1"], "minutes": "双方陈述"}
        s.send("mediation", f"/disputes/{case}/sessions", session)
        if ends == "agreement":
            agreement = {
                "terms": "十日内补发",
                "amount": "12500.00",
                "perform_by": days_from_today(10),
                "signed_by": ["applicant", "respondent", "mediator"],
            }
            s.send("mediation", f"/disputes/{case}/agreement", agreement)
        else:
            s.send("mediation", f"/disputes/{case}/fail", {"reason": "双方分歧过大"})
    return case


def _library(s: Seeder, closed: str) -> None:
    """A volunteer helping on a dispute, and a published typical case taught in a classroom."""
    mediator = s.token(user="med-1", role="mediator", unit="demo/co")
    volunteer = {
        "unit": "demo/co",
        "team": "第一护薪队",
        "user_id": "vol-law-1",
        "kind": "lawyer_volunteer",
        "name": "周律师",
        "skills": ["wages"],
        "availability": "周末",
    }
    vol = s.send("library", "/volunteers", volunteer)
    # The library reads the dispute from its events: until then it answers 409 or 422.
    reading = (409, 422, 503)
    ask = {"unit": "demo/co", "source_case_id": closed, "volunteer_case_id": vol, "brief": "核对"}
    s.send("library", "/help", ask, mediator, waiting=reading)
    proposal = {"unit": "demo/co", "source_case_id": closed}
    typ = s.send("library", "/typical-cases", proposal, mediator, waiting=reading)
    edit = {
        "title": "调解不成案",
        "text": "申请人（职工）与某用人单位调解不成。",
        "lesson": "及时仲裁。",
    }
    s.send("library", f"/typical-cases/{typ}/edit", {**edit, "articles": ["第五条"]}, mediator)
    s.send("library", f"/typical-cases/{typ}/approve", {})
    s.send("library", f"/typical-cases/{typ}/publish", {}, mediator)
    attendance = [{"role": "worker", "count": 20}]
    classroom = {"unit": "demo/co", "held_on": days_from_today(0), "place": "职工学堂"}
    s.send("library", "/classrooms", {**classroom, "cases": [typ], "attendance": attendance})


def seed(urls: dict[str, str], token: Token) -> Seeded:
    """Make grievances, a group, suggestions, queries, disputes and library cases.

    Escalations, resolutions, referrals, agreements and failures schedule follow-ups and open
    disputes on their own; `known_cases` finds those afterwards.
    """
    seeder = Seeder(urls, token)
    try:
        _grievances(seeder)
        _democracy(seeder)
        _library(seeder, _disputes(seeder))
    finally:
        seeder.close()
    return seeder.seeded
