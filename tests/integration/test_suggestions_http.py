"""Democratic management over real HTTP on the real broker: votes, referrals, seats, statistics."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from rich.console import Console

from services.cli.demo import load_suggestions_demo
from services.common.settings import ROOT
from tests.integration.conftest import DUE, Stack
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration

# A unit beside demo/co, so these tests leave the demo company's figures alone.
LAB = "demo/lab/p01"
# Departments of another company whose groups the tests form themselves, or never.
FRESH, GROUPLESS = "demo/new/p01", "demo/new/p02"
CHAIR = "chair-lab"
MEMBERS = [CHAIR, "m2-lab", "m3-lab", "m4-lab", "m5-lab", "m6-lab", "m7-lab"]
SUGGESTION: dict[str, Any] = {
    "unit": LAB,
    "kind": "suggestion",
    "topic": "welfare",
    "title": "食堂菜品有待改善",
    "content": "王师傅反映食堂菜品单一、口味偏咸",
    "worker": {"name": "翟翠斌", "phone": "13800000002"},
}


def units_file(folder: Path) -> Path:
    """The demo units plus a lab department outside demo/co."""
    data = yaml.safe_load((ROOT / "deploy" / "units.yaml").read_text(encoding="utf-8"))
    data["units"] += [
        {"id": "demo/lab", "name_zh": "试验公司工会", "name_en": "Lab", "kind": "enterprise_union"},
        {"id": LAB, "name_zh": "试验项目部", "name_en": "Lab project department"},
        {"id": "demo/new", "name_zh": "新公司工会", "name_en": "New", "kind": "enterprise_union"},
        {"id": FRESH, "name_zh": "新一部", "name_en": "New department 1"},
        {"id": GROUPLESS, "name_zh": "新二部", "name_en": "New department 2"},
    ]
    path = folder / "units.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def warm_up(stack: Stack) -> None:
    """Wait until both workers have joined and answer commands (outside demo/co)."""
    probes = [
        (
            "intake",
            "worker_rep",
            "/grievances",
            {
                "unit": LAB,
                "category": "other",
                "summary": "warm-up",
                "channel": "app",
                "anonymous": True,
            },
        ),
        (
            "suggestions",
            "group_member",
            "/queries",
            {"unit": LAB, "area": "training", "question": "warm-up", "addressed_to": "经理"},
        ),
    ]
    for service, role, path, body in probes:
        with stack.client(service, user="warm-up", role=role, unit=LAB) as client:
            eventually(
                partial(client.post, path, json=body),
                until=lambda response: response.status_code == 201,
                timeout=90,
                interval=1,
                what=f"the {service} worker to answer a command",
            )


@pytest.fixture(scope="module")
def sug(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Intake and democratic management, running for this module."""
    root = tmp_path_factory.mktemp("suggestions")
    with Stack(bootstrap, root, "stack") as stack:
        stack.env["TAIZHANG_UNITS_FILE"] = str(units_file(root))
        stack.start("intake")
        stack.start("suggestions")
        warm_up(stack)
        yield stack


def client(stack: Stack, user: str, role: str = "group_member") -> httpx.Client:
    return stack.client("suggestions", user=user, role=role, unit=LAB)


@pytest.fixture(scope="module")
def chair(sug: Stack) -> Iterator[httpx.Client]:
    with client(sug, CHAIR, "union_chair") as c:
        body = {"unit": LAB, "members": MEMBERS, "leader": CHAIR, "congress_session": "第一次会议"}
        response = c.post("/groups", json=body)
        assert response.status_code == 201, response.text
        yield c


@pytest.fixture(scope="module")
def rep(sug: Stack) -> Iterator[httpx.Client]:
    with client(sug, "rep-lab", "worker_rep") as c:
        yield c


def member(stack: Stack, user: str) -> httpx.Client:
    return client(stack, user, "union_chair" if user == CHAIR else "group_member")


def submitted(rep: httpx.Client, **over: Any) -> str:
    response = rep.post("/suggestions", json={**SUGGESTION, **over})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/suggestions/{response.json()['case_id']}"
    return str(response.json()["case_id"])


def under_review(rep: httpx.Client, chair: httpx.Client, **over: Any) -> str:
    case = submitted(rep, **over)
    response = chair.post(f"/suggestions/{case}/open-review", json={"meeting": "月度例会"})
    assert response.status_code == 200, response.text
    return case


def vote(stack: Stack, case: str, user: str, choice: str) -> httpx.Response:
    with member(stack, user) as c:
        return c.post(f"/suggestions/{case}/votes", json={"member": user, "vote": choice})


def seated(c: httpx.Client, case: str, incoming: str, what: str) -> dict[str, Any]:
    """The suggestion once the incoming member sits for its review."""
    return eventually(
        lambda: dict[str, Any](c.get(f"/suggestions/{case}").json()),
        until=lambda view: incoming in view["review"]["members"],
        what=what,
    )


def events(c: httpx.Client, path: str) -> list[dict[str, Any]]:
    response = c.get(f"{path}/history")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["events"]
    return result


def test_suggestion_from_submission_to_implementation_via_the_leadership(
    sug: Stack, chair: httpx.Client, rep: httpx.Client
) -> None:
    case = under_review(rep, chair)
    for user, choice in zip(
        MEMBERS, ["for", "for", "for", "for", "against", "abstain"], strict=False
    ):
        assert vote(sug, case, user, choice).status_code == 200
    closed = chair.post(f"/suggestions/{case}/close-vote")
    assert closed.status_code == 200, closed.text
    steps = [
        ("refer-to-leadership", {"owner": "lead-lab", "due": DUE}),
        ("leadership-response", {"response": "项目领导班子决定更换食堂承包方"}),
        ("implement", {"note": "新承包方已进场，每周两次面食"}),
    ]
    for verb, body in steps:
        response = chair.post(f"/suggestions/{case}/{verb}", json=body)
        assert response.status_code == 200, (verb, response.text)
    view = rep.get(f"/suggestions/{case}").json()
    assert view["status"] == "implemented" and view["outcome"] == "adopted"
    assert view["tally"] == {"sitting": 7, "votes_for": 4, "votes_against": 1, "abstentions": 1}
    assert view["referral_owner"] == "lead-lab" and view["version"] == 12
    assert view["content"] == SUGGESTION["content"]
    assert view["worker"] == SUGGESTION["worker"]
    history = events(rep, f"/suggestions/{case}")
    assert [e["case_version"] for e in history] == list(range(1, 13))
    assert [e["event_type"] for e in history][-4:] == [
        "suggestion.vote_closed",
        "suggestion.referred_to_leadership",
        "suggestion.leadership_responded",
        "suggestion.implemented",
    ]
    for earlier, later in itertools.pairwise(history):
        assert later["prev_hash"] == earlier["hash"]
    text = json.dumps(history, ensure_ascii=False)
    assert "翟翠斌" not in text and "王师傅" not in text
    with sug.client("suggestions", user="aud", role="auditor", unit="demo") as auditor:
        sealed = auditor.get(f"/suggestions/{case}").json()
        assert sealed["content"] == "[sealed]" and sealed["worker"] == "[sealed]"
    verified = sug.cli("audit", "verify", case)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_concurrent_votes_of_the_whole_group_are_each_counted_once(
    sug: Stack, chair: httpx.Client, rep: httpx.Client
) -> None:
    case = under_review(rep, chair)

    async def everyone_twice() -> list[tuple[str, int]]:
        clients = {
            user: httpx.AsyncClient(
                base_url=sug.url("suggestions"),
                headers={
                    "Authorization": "Bearer "
                    + sug.token(
                        user=user,
                        role="union_chair" if user == CHAIR else "group_member",
                        unit=LAB,
                    )
                },
                timeout=60,
            )
            for user in MEMBERS
        }
        try:
            calls = [
                clients[user].post(
                    f"/suggestions/{case}/votes", json={"member": user, "vote": choice}
                )
                for user in MEMBERS
                for choice in ("for", "against")
            ]
            responses = await asyncio.gather(*calls)
        finally:
            for c in clients.values():
                await c.aclose()
        ballots = [(user, choice) for user in MEMBERS for choice in ("for", "against")]
        return [(user, r.status_code) for (user, _), r in zip(ballots, responses, strict=True)]

    results = asyncio.run(everyone_twice())
    for user in MEMBERS:
        assert sorted(code for who, code in results if who == user) == [200, 409], results
    history = events(rep, f"/suggestions/{case}")
    cast = [e for e in history if e["event_type"] == "suggestion.vote_cast"]
    assert sorted(e["payload"]["member"] for e in cast) == sorted(MEMBERS)
    assert [e["case_version"] for e in history] == list(range(1, 10))
    tally = rep.get(f"/suggestions/{case}").json()["tally"]
    assert tally["votes_for"] + tally["votes_against"] == 7 and tally["sitting"] == 7


def test_replay_at_a_moment_during_the_vote_shows_the_tally_as_it_stood(
    sug: Stack, chair: httpx.Client, rep: httpx.Client
) -> None:
    case = under_review(rep, chair)
    for user in MEMBERS[:3]:
        assert vote(sug, case, user, "for").status_code == 200
    moment = events(rep, f"/suggestions/{case}")[-1]["recorded_at"]
    time.sleep(0.05)
    for user in MEMBERS[3:5]:
        assert vote(sug, case, user, "for").status_code == 200
    assert chair.post(f"/suggestions/{case}/close-vote").status_code == 200
    at = moment.replace("Z", "+00:00")
    during = sug.cli("audit", "replay", case, "--at", at, "--format", "json")
    assert during.returncode == 0, during.stderr
    then = json.loads(during.stdout)["state"]
    assert then["status"] == "under_review"
    assert then["tally"] == {"sitting": 7, "votes_for": 3, "votes_against": 0, "abstentions": 0}
    now = json.loads(sug.cli("audit", "replay", case, "--format", "json").stdout)["state"]
    assert now["status"] == "adopted" and now["tally"]["votes_for"] == 5


def test_a_member_replaced_during_a_review_hands_the_seat_and_its_vote_on(
    sug: Stack, chair: httpx.Client, rep: httpx.Client
) -> None:
    case = under_review(rep, chair)
    assert vote(sug, case, "m7-lab", "for").status_code == 200
    group = chair.get("/groups", params={"unit": LAB}).json()["items"][0]["case_id"]
    outgoing, incoming = "m7-lab", "m8-lab"
    body = {"outgoing": outgoing, "incoming": incoming, "congress_session": "补选会议"}
    replaced = chair.post(f"/groups/{group}/replace-member", json=body)
    assert replaced.status_code == 200, replaced.text
    assert set(replaced.json()) == {"case_id", "version", "event_ids"}
    view = seated(rep, case, incoming, "the seat to be handed over")
    assert view["votes"] == {incoming: "for"} and outgoing not in view["review"]["members"]
    assert vote(sug, case, outgoing, "against").status_code == 403
    again = vote(sug, case, incoming, "against")
    assert again.status_code == 409 and "already voted" in again.json()["detail"]
    seats = {s["member"]: s for s in chair.get(f"/groups/{group}").json()["seats"]}
    assert seats[outgoing]["until"] is not None and seats[incoming]["until"] is None
    back = {"outgoing": incoming, "incoming": outgoing, "congress_session": "补选会议"}
    assert chair.post(f"/groups/{group}/replace-member", json=back).status_code == 200
    seated(rep, case, outgoing, "the seat to be handed back")
    verified = sug.cli("audit", "verify", group)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_member_replaced_while_two_reviews_are_open_hands_the_seat_over_in_both(
    sug: Stack, chair: httpx.Client, rep: httpx.Client
) -> None:
    first, second = under_review(rep, chair), under_review(rep, chair)
    outgoing, incoming = "m6-lab", "m9-lab"
    assert vote(sug, first, outgoing, "for").status_code == 200
    assert vote(sug, second, outgoing, "against").status_code == 200
    group = chair.get("/groups", params={"unit": LAB}).json()["items"][0]["case_id"]
    body = {"outgoing": outgoing, "incoming": incoming, "congress_session": "补选会议"}
    assert chair.post(f"/groups/{group}/replace-member", json=body).status_code == 200
    for case, choice in ((first, "for"), (second, "against")):
        view = seated(rep, case, incoming, f"the seat in {case}")
        assert view["votes"] == {incoming: choice} and view["tally"]["sitting"] == 7
        handed = [e for e in events(rep, f"/suggestions/{case}") if "seat" in e["event_type"]]
        assert [e["payload"] for e in handed] == [{"outgoing": outgoing, "incoming": incoming}]
        assert handed[0]["actor"]["role"] == "system"
    back = {"outgoing": incoming, "incoming": outgoing, "congress_session": "补选会议"}
    assert chair.post(f"/groups/{group}/replace-member", json=back).status_code == 200
    for case in (first, second):
        seated(rep, case, outgoing, f"the seat back in {case}")


def test_a_review_opened_right_after_the_group_is_formed_seats_the_group(sug: Stack) -> None:
    members = [f"{m}-new" for m in ("chair", "a", "b", "c", "d")]
    with sug.client("suggestions", user=members[0], role="union_chair", unit=FRESH) as c:
        body = {"unit": FRESH, "members": members, "leader": members[0], "congress_session": "一"}
        assert c.post("/groups", json=body).status_code == 201
        case = c.post("/suggestions", json={**SUGGESTION, "unit": FRESH, "worker": None})
        assert case.status_code == 201, case.text
        case_id = case.json()["case_id"]
        month_ago = (datetime.now(UTC) - timedelta(days=30)).replace(microsecond=0)
        early = {"meeting": "首次例会", "occurred_at": month_ago.isoformat()}
        before = c.post(f"/suggestions/{case_id}/open-review", json=early)
        assert before.status_code == 409 and before.json()["title"] == "No group"
        assert before.json()["detail"] == f"no group of {FRESH} sat at {month_ago.isoformat()}"
        opened = c.post(f"/suggestions/{case_id}/open-review", json={"meeting": "首次例会"})
        assert opened.status_code == 200, opened.text
        assert opened.json()["case_id"] == case_id and opened.json()["version"] == 2
        view = c.get(f"/suggestions/{case_id}").json()
        assert view["review"]["members"] == members and view["status"] == "under_review"
        again = c.post(f"/suggestions/{case_id}/open-review", json={"meeting": "首次例会"})
        assert again.status_code == 409 and "under review" in again.json()["detail"]
        keyed = {"Idempotency-Key": "review-once"}
        meeting = {"meeting": "第二次例会"}
        other = c.post("/suggestions", json={**SUGGESTION, "unit": FRESH, "worker": None})
        path = f"/suggestions/{other.json()['case_id']}/open-review"
        once = c.post(path, json=meeting, headers=keyed)
        assert once.status_code == 200 and c.post(path, json=meeting, headers=keyed).json() == (
            once.json()
        )
        reused = c.post(path, json={"meeting": "别的会"}, headers=keyed)
        assert reused.status_code == 409 and "Idempotency-Key" in reused.json()["detail"]


def test_a_review_in_a_unit_without_a_group_is_refused(sug: Stack) -> None:
    with sug.client("suggestions", user="chair-new2", role="union_chair", unit=GROUPLESS) as c:
        case = c.post("/suggestions", json={**SUGGESTION, "unit": GROUPLESS, "worker": None})
        assert case.status_code == 201, case.text
        path = f"/suggestions/{case.json()['case_id']}/open-review"
        refused = c.post(path, json={"meeting": "例会"})
        assert refused.status_code == 409 and refused.json()["title"] == "No group"
        assert refused.json()["detail"] == (
            f"{GROUPLESS} has no democratic-management group; form it first"
        )


def test_a_vetoed_proposal_cannot_be_implemented(sug: Stack, chair: httpx.Client) -> None:
    proposal = {
        "unit": LAB,
        "kind": "management_proposal",
        "topic": "job_change",
        "title": "调整班组长岗位",
        "content": "项目部提议合并两个班组",
    }
    case = chair.post("/suggestions", json=proposal).json()["case_id"]
    assert chair.post(f"/suggestions/{case}/open-review", json={"meeting": "m"}).status_code == 200
    for user in MEMBERS[:5]:
        assert vote(sug, case, user, "against").status_code == 200
    assert chair.post(f"/suggestions/{case}/close-vote").json()["version"] == 8
    assert chair.get(f"/suggestions/{case}").json()["status"] == "vetoed"
    refused = chair.post(f"/suggestions/{case}/implement", json={"note": "照办"})
    assert refused.status_code == 409 and "vetoed" in refused.json()["detail"]


def test_query_raised_answered_and_accepted(sug: Stack, chair: httpx.Client) -> None:
    body = {
        "unit": LAB,
        "area": "safety",
        "question": "脚手架验收为何推迟？",
        "addressed_to": "经理",
    }
    created = chair.post("/queries", json=body)
    assert created.status_code == 201
    case = created.json()["case_id"]
    assert chair.post(f"/queries/{case}/answer", json={"answer": "材料未到"}).status_code == 200
    rejected = chair.post(f"/queries/{case}/reject-answer", json={"reason": "没有时间表"})
    assert rejected.status_code == 200
    assert chair.post(f"/queries/{case}/answer", json={"answer": "周五验收"}).status_code == 200
    assert chair.post(f"/queries/{case}/accept-answer").status_code == 200
    view = chair.get(f"/queries/{case}").json()
    assert view["status"] == "answer_accepted" and view["answers"] == 2
    assert chair.get(f"/groups/{case}").status_code == 404
    assert chair.get(f"/suggestions/{case}").status_code == 404
    verified = sug.cli("audit", "verify", case)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_bad_votes_are_refused_with_clear_messages_and_write_nothing(
    sug: Stack, chair: httpx.Client, rep: httpx.Client
) -> None:
    case = under_review(rep, chair)
    before = len(events(rep, f"/suggestions/{case}"))
    outsider = vote(sug, case, "m9-lab", "for")
    assert outsider.status_code == 403 and "does not sit" in outsider.json()["detail"]
    assert outsider.headers["content-type"].startswith("application/problem+json")
    with member(sug, "m2-lab") as m2:
        posing = m2.post(f"/suggestions/{case}/votes", json={"member": "m3-lab", "vote": "for"})
        assert posing.status_code == 403 and "vote as themselves" in posing.json()["detail"]
        odd = m2.post(f"/suggestions/{case}/votes", json={"member": "m2-lab", "vote": "maybe"})
        assert odd.status_code == 422 and "vote" in json.dumps(odd.json())
    assert len(events(rep, f"/suggestions/{case}")) == before
    for user in MEMBERS[:5]:
        assert vote(sug, case, user, "for").status_code == 200
    assert chair.post(f"/suggestions/{case}/close-vote").status_code == 200
    late = vote(sug, case, "m6-lab", "for")
    assert late.status_code == 409 and "it is adopted" in late.json()["detail"]
    assert len(events(rep, f"/suggestions/{case}")) == before + 6


BAD = [
    ("unknown topic", "/suggestions", {**SUGGESTION, "topic": "canteen"}, 422, "topic"),
    (
        "proposal topic on a suggestion",
        "/suggestions",
        {**SUGGESTION, "topic": "award"},
        422,
        "award",
    ),
    ("unknown unit", "/suggestions", {**SUGGESTION, "unit": "demo/co/p99"}, 422, "p99"),
    ("named and anonymous", "/suggestions", {**SUGGESTION, "anonymous": True}, 422, "not both"),
    ("unknown field", "/suggestions", {**SUGGESTION, "votes": 7}, 422, "votes"),
    (
        "unknown query area",
        "/queries",
        {"unit": LAB, "area": "canteen", "question": "q", "addressed_to": "x"},
        422,
        "area",
    ),
]


@pytest.mark.parametrize(
    ("label", "path", "body", "status", "mentions"), BAD, ids=[b[0] for b in BAD]
)
def test_bad_input_is_a_clear_problem_and_writes_nothing(
    rep: httpx.Client, label: str, path: str, body: dict[str, Any], status: int, mentions: str
) -> None:
    before = rep.get("/suggestions", params={"limit": 1}).json()["total"]
    response = rep.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert mentions in json.dumps(response.json(), ensure_ascii=False)
    assert rep.get("/suggestions", params={"limit": 1}).json()["total"] == before


def test_group_rules_over_http(sug: Stack, chair: httpx.Client) -> None:
    again = {"unit": LAB, "members": MEMBERS, "leader": CHAIR, "congress_session": "重复"}
    twice = chair.post("/groups", json=again)
    assert twice.status_code == 409 and "already has its group" in twice.json()["detail"]
    with sug.client("suggestions", user="chair-lab", role="union_chair", unit="demo/lab") as c:
        small = {
            "unit": "demo/lab",
            "members": MEMBERS[:4],
            "leader": CHAIR,
            "congress_session": "x",
        }
        refused = c.post("/groups", json=small)
        assert refused.status_code == 422 and "5 to 7 members, not 4" in refused.json()["detail"]
        assert c.get("/groups", params={"unit": "demo/lab"}).json()["total"] == 1
    with member(sug, "m2-lab") as m2:
        assert m2.post("/groups", json={**again, "unit": "demo/lab"}).status_code == 403


def test_stats_after_the_demo_seed_give_the_seeds_figures(sug: Stack) -> None:
    load_suggestions_demo(
        sug.settings,
        Console(quiet=True),
        suggestions=sug.url("suggestions"),
        intake=sug.url("intake"),
    )
    with sug.client("suggestions", user="chair-co", role="union_chair", unit="demo/co") as c:
        stats = eventually(
            lambda: c.get("/stats", params={"unit": "demo/co"}).json(),
            until=lambda figures: figures["grievances"] >= 36,
            timeout=30,
            what="the seed's 36 grievances counted in the statistics",
        )
        assert (stats["suggestions"], stats["grievances"], stats["adoption_rate"]) == (58, 36, 1.0)
        assert stats["adopted"] == stats["implemented"] == 58 and stats["rejected"] == 0
        assert (stats["proposals"], stats["vetoes"], stats["queries"]) == (1, 1, 1)
        today = datetime.now(UTC).date()
        period = {"unit": "demo/co", "from": today.isoformat(), "to": today.isoformat()}
        assert c.get("/stats", params=period).json()["suggestions"] == 58
        past = {"unit": "demo/co", "to": (today - timedelta(days=1)).isoformat()}
        assert c.get("/stats", params=past).json()["suggestions"] == 0
        one = c.get("/stats", params={"unit": "demo/co/p01"}).json()
        assert (one["suggestions"], one["grievances"]) == (5, 3)
        groups = c.get("/groups", params={"unit": "demo/co", "limit": 50}).json()
        assert groups["total"] == 13
        assert {len(g["members"]) for g in groups["items"]} == {5, 6, 7}
    with sug.client("suggestions", user="rep-p02", role="worker_rep", unit="demo/co/p02") as other:
        assert other.get("/stats", params={"unit": "demo/co"}).status_code == 404
    # Loading again writes nothing new: every request carries its Idempotency-Key.
    load_suggestions_demo(
        sug.settings,
        Console(quiet=True),
        suggestions=sug.url("suggestions"),
        intake=sug.url("intake"),
    )
    with sug.client("suggestions", user="chair-co", role="union_chair", unit="demo/co") as c:
        stats = c.get("/stats", params={"unit": "demo/co", "from": date(2020, 1, 1).isoformat()})
        assert (stats.json()["suggestions"], stats.json()["grievances"]) == (58, 36)
