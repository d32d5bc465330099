"""Grievance intake over real HTTP on the real broker: lifecycle, conflicts, idempotency, scope."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from contracts.commands import CommandEnvelope
from contracts.envelope import Actor
from services.common import command_signing
from services.common.calendar import SHANGHAI
from tests.integration.conftest import DUE, GRIEVANCE, Stack
from tests.integration.polling import eventually
from tests.integration.reading import read_topic

pytestmark = pytest.mark.integration


def log(client: httpx.Client, **over: Any) -> str:
    response = client.post("/grievances", json={**GRIEVANCE, **over})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["version"] == 1 and len(body["event_ids"]) == 1
    assert response.headers["location"] == f"/grievances/{body['case_id']}"
    return str(body["case_id"])


def post(
    client: httpx.Client, path: str, body: dict[str, Any] | None = None, **kw: Any
) -> httpx.Response:
    return client.post(path, json=body if body is not None else {}, **kw)


def test_full_lifecycle_over_http(rep: httpx.Client, stack: Stack) -> None:
    case = log(rep)
    steps = [
        ("acknowledge", {}),
        ("escalate", {"owner": "lead-p01", "due": DUE}),
        ("decision", {"decision": "更换食堂承包方"}),
        ("resolve", {"how": "leadership", "resolution": "新承包方已进场"}),
        ("feedback", {"note": "已电话告知王师傅处理结果"}),
        ("close", {}),
        ("reopen", {"reason": "回访时工友表示菜品又变差"}),
        ("resolve", {"how": "on_site", "resolution": "食堂整改"}),
        ("close", {}),
    ]
    for version, (verb, body) in enumerate(steps, start=2):
        response = post(rep, f"/grievances/{case}/{verb}", body)
        assert response.status_code == 200, (verb, response.text)
        assert response.json()["version"] == version
    view = rep.get(f"/grievances/{case}").json()
    assert view["status"] == "closed" and view["version"] == 10 and view["reopen_count"] == 1
    assert view["complainant"] == {"name": "王小林", "phone": "13800000001"}
    history = rep.get(f"/grievances/{case}/history").json()["events"]
    assert [e["case_version"] for e in history] == list(range(1, 11))
    assert history[0]["event_type"] == "grievance.logged"
    assert all(e["actor"]["user_id"] == "rep-p01" for e in history)
    for earlier, later in itertools.pairwise(history):
        assert later["prev_hash"] == earlier["hash"]
    # Personal data never travels in the clear.
    assert "王小林" not in json.dumps(history, ensure_ascii=False)
    assert "已电话告知" not in json.dumps(history, ensure_ascii=False)


def test_list_is_filtered_and_paged(rep: httpx.Client) -> None:
    cases = [log(rep, category="safety", summary=f"脚手架隐患 {i}") for i in range(3)]
    post(rep, f"/grievances/{cases[0]}/acknowledge")
    page = rep.get("/grievances", params={"category": "safety", "limit": 2}).json()
    assert page["total"] >= 3 and len(page["items"]) == 2
    acked = rep.get("/grievances", params={"category": "safety", "status": "acknowledged"}).json()
    assert cases[0] in {i["case_id"] for i in acked["items"]}
    assert not {cases[1], cases[2]} & {i["case_id"] for i in acked["items"]}


def test_a_caller_who_prefers_it_is_answered_once_the_decision_is_durable(
    rep: httpx.Client,
) -> None:
    decided = {"Prefer": "wait-for=decision"}
    opened = rep.post("/grievances", json=GRIEVANCE, headers=decided)
    assert opened.status_code == 201, opened.text
    assert opened.headers["preference-applied"] == "wait-for=decision"
    case = opened.json()["case_id"]
    view = eventually(
        lambda: rep.get(f"/grievances/{case}"),
        until=lambda r: r.status_code == 200,
        timeout=15,
        what="the read model to show the grievance answered before it did",
    )
    assert view.json()["version"] == 1
    acked = post(rep, f"/grievances/{case}/acknowledge", headers=decided)
    assert acked.status_code == 200 and acked.json()["version"] == 2
    # Without the preference the answer waits for the read model: the next read shows it.
    escalated = post(rep, f"/grievances/{case}/escalate", {"owner": "lead-p01", "due": DUE})
    assert escalated.status_code == 200 and "preference-applied" not in escalated.headers
    assert rep.get(f"/grievances/{case}").json()["version"] == 3


def test_illegal_transition_is_409_with_a_clear_message(rep: httpx.Client) -> None:
    case = log(rep)
    response = post(rep, f"/grievances/{case}/close")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "cannot close" in response.json()["detail"]
    assert len(rep.get(f"/grievances/{case}/history").json()["events"]) == 1


def test_expected_version_mismatch_is_409(rep: httpx.Client) -> None:
    case = log(rep)
    response = post(rep, f"/grievances/{case}/acknowledge", {"expected_version": 5})
    assert response.status_code == 409 and "at version 1, not 5" in response.json()["detail"]


def test_retried_idempotency_key_writes_one_event(rep: httpx.Client) -> None:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = rep.post("/grievances", json=GRIEVANCE, headers=key)
    second = rep.post("/grievances", json=GRIEVANCE, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    case = first.json()["case_id"]
    ack_key = {"Idempotency-Key": f"a-{uuid.uuid4()}"}
    a = post(rep, f"/grievances/{case}/acknowledge", headers=ack_key)
    b = post(rep, f"/grievances/{case}/acknowledge", headers=ack_key)
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    assert len(rep.get(f"/grievances/{case}/history").json()["events"]) == 2
    reused = rep.post("/grievances", json={**GRIEVANCE, "summary": "另一件事"}, headers=key)
    assert reused.status_code == 409 and "Idempotency-Key" in reused.json()["detail"]


def test_fifty_concurrent_conflicting_commands_one_wins(stack: Stack, rep: httpx.Client) -> None:
    case = log(rep)
    assert post(rep, f"/grievances/{case}/acknowledge").status_code == 200

    async def race() -> list[int]:
        headers = {"Authorization": f"Bearer {stack.token()}"}
        async with httpx.AsyncClient(
            base_url=stack.url("intake"), headers=headers, timeout=60
        ) as c:
            responses = await asyncio.gather(
                *[
                    c.post(
                        f"/grievances/{case}/escalate",
                        json={"owner": f"lead-{i}", "due": DUE, "expected_version": 2},
                    )
                    for i in range(50)
                ]
            )
        return [r.status_code for r in responses]

    statuses = asyncio.run(race())
    assert statuses.count(200) == 1, statuses
    assert statuses.count(409) == 49, statuses
    history = rep.get(f"/grievances/{case}/history").json()["events"]
    assert [e["case_version"] for e in history] == [1, 2, 3]


def test_back_dated_grievance_keeps_both_times(rep: httpx.Client) -> None:
    received = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    case = log(rep, received_at=received.isoformat())
    event = rep.get(f"/grievances/{case}/history").json()["events"][0]
    assert event["occurred_at"] == "2026-11-20T02:00:00.000000Z"
    assert event["recorded_at"] > event["occurred_at"]
    assert event["payload"]["ack_due"] == "2026-11-23"


def test_overdue_grievance_gets_an_event_from_the_timer(rep: httpx.Client) -> None:
    received = datetime.now(UTC) - timedelta(days=10)
    case = log(rep, received_at=received.isoformat())
    view = eventually(
        lambda: rep.get(f"/grievances/{case}").json(),
        until=lambda grievance: len(grievance["overdue"]) == 2,
        timeout=30,
        what="the timer to mark both stages overdue",
    )
    assert sorted(view["overdue"]) == ["acknowledge", "answer"]
    history = rep.get(f"/grievances/{case}/history").json()["events"]
    overdue = [e for e in history if e["event_type"] == "grievance.overdue"]
    assert len(overdue) == 2 and all(e["actor"]["role"] == "system" for e in overdue)
    listed = rep.get("/grievances", params={"overdue": True, "limit": 200}).json()
    assert case in {i["case_id"] for i in listed["items"]}


def test_rep_sees_only_their_unit(stack: Stack, rep: httpx.Client) -> None:
    case = log(rep)
    with stack.client("intake", user="rep-p02", unit="demo/co/p02") as other:
        assert other.get(f"/grievances/{case}").status_code == 404
        assert other.get(f"/grievances/{case}/history").status_code == 404
        assert post(other, f"/grievances/{case}/acknowledge").status_code == 404
        assert case not in {i["case_id"] for i in other.get("/grievances").json()["items"]}
        refused = other.post("/grievances", json=GRIEVANCE)
        assert refused.status_code == 403
    with stack.client("intake", user="chair", role="union_chair", unit="demo/co") as chair:
        assert chair.get(f"/grievances/{case}").status_code == 200


def test_auditor_reads_everything_and_changes_nothing(stack: Stack, rep: httpx.Client) -> None:
    case = log(rep)
    with stack.client("intake", user="aud", role="auditor", unit="demo") as auditor:
        view = auditor.get(f"/grievances/{case}").json()
        assert view["complainant"] == "[sealed]"
        response = post(auditor, f"/grievances/{case}/acknowledge")
        assert response.status_code == 403
    with stack.client("intake", user="adm", role="admin", unit="demo") as admin:
        assert admin.get(f"/grievances/{case}").status_code == 403


def test_no_token_is_401(stack: Stack) -> None:
    response = httpx.get(f"{stack.url('intake')}/grievances")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    forged = httpx.get(
        f"{stack.url('intake')}/grievances", headers={"Authorization": "Bearer not-a-token"}
    )
    assert forged.status_code == 401


BAD_BODIES = [
    ("unknown field", {**GRIEVANCE, "salary": 1}, 422, "salary"),
    ("wrong enum", {**GRIEVANCE, "category": "canteens"}, 422, "category"),
    ("wrong channel", {**GRIEVANCE, "channel": "pigeon"}, 422, "channel"),
    ("missing summary", {k: v for k, v in GRIEVANCE.items() if k != "summary"}, 422, "summary"),
    ("both anonymous and named", {**GRIEVANCE, "anonymous": True}, 422, "anonymous"),
    ("unknown unit", {**GRIEVANCE, "unit": "demo/co/p99"}, 422, "p99"),
    ("bad phone", {**GRIEVANCE, "complainant": {"name": "x", "phone": "call me"}}, 422, "phone"),
    ("naive time", {**GRIEVANCE, "received_at": "2026-11-20T10:00:00"}, 422, "received_at"),
]


@pytest.mark.parametrize(
    ("label", "body", "status", "mentions"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_input_is_a_clear_problem_and_writes_nothing(
    rep: httpx.Client, label: str, body: dict[str, Any], status: int, mentions: str
) -> None:
    before = rep.get("/grievances", params={"limit": 1}).json()["total"]
    response = rep.post("/grievances", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert mentions in json.dumps(response.json(), ensure_ascii=False)
    assert rep.get("/grievances", params={"limit": 1}).json()["total"] == before


def test_malformed_json_and_oversize_bodies(rep: httpx.Client) -> None:
    before = rep.get("/grievances", params={"limit": 1}).json()["total"]
    broken = rep.post(
        "/grievances",
        content=b'{"unit": "demo/co/p01",',
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 422
    assert broken.headers["content-type"].startswith("application/problem+json")
    huge = rep.post("/grievances", json={**GRIEVANCE, "details": "长" * 100_000})
    assert huge.status_code == 413
    assert huge.headers["content-type"].startswith("application/problem+json")
    future = rep.post(
        "/grievances",
        json={**GRIEVANCE, "received_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
    )
    assert future.status_code == 422 and "future" in future.json()["detail"]
    assert rep.get("/grievances", params={"limit": 1}).json()["total"] == before


def test_health_and_metrics(stack: Stack) -> None:
    health = httpx.get(f"{stack.url('intake')}/health").json()
    assert health["broker"] is True and health["lag"] == 0
    assert httpx.get(f"{stack.url('intake')}/metrics").status_code == 401
    with stack.client("intake") as rep:
        assert rep.get("/metrics").status_code == 403
    with stack.client("intake", user="auditor", role="auditor", unit="demo") as auditor:
        assert "taizhang_commands_total" in auditor.get("/metrics").text


def test_stats_count_a_units_grievances_in_a_period(stack: Stack) -> None:
    with stack.client("intake", user="rep-p05", unit="demo/co/p05") as rep5:
        body = {**GRIEVANCE, "unit": "demo/co/p05"}
        cases = [log(rep5, **body), log(rep5, **body), log(rep5, **{**body, "category": "safety"})]
        assert post(rep5, f"/grievances/{cases[0]}/acknowledge").status_code == 200
        today = datetime.now(UTC).astimezone(SHANGHAI).date()
        stats = rep5.get("/stats", params={"from": today.isoformat(), "to": today.isoformat()})
        assert stats.status_code == 200, stats.text
        figures = stats.json()
        assert figures["grievances"] == 3
        assert figures["by_category"] == {"canteen": 2, "safety": 1}
        assert figures["by_status"] == {"logged": 2, "acknowledged": 1}
        assert figures["acknowledged_on_time_rate"] == 1.0
        later = rep5.get("/stats", params={"from": (today + timedelta(days=1)).isoformat()})
        assert later.json()["grievances"] == 0
        assert rep5.get("/stats", params={"unit": "demo/co/p06"}).status_code == 404


def test_a_command_written_straight_to_the_topic_acts_as_nobody(
    rep: httpx.Client, stack: Stack
) -> None:
    case = log(rep)
    topic = stack.settings.topic("grievance.commands")

    def command(role: str = "union_chair", user: str = "chair-co") -> CommandEnvelope:
        now = datetime.now(UTC)
        return CommandEnvelope(
            command_id=str(uuid.uuid4()),
            command_type="acknowledge",
            case_id=case,
            actor=Actor(user_id=user, role=role, unit="demo/co"),
            issued_at=now,
            occurred_at=now,
            correlation_id=case,
            causation_id=str(uuid.uuid4()),
            payload={},
        )

    elsewhere = stack.settings.model_copy(update={"master_key": "another-deployment" * 3})
    signed = command(user="rep-p01", role="worker_rep")
    retold = signed.model_copy(update={"actor": Actor(user_id="x", role="admin", unit="demo")})
    # Signed with a genuine key of this ledger, but of a service that may not write here.
    posing = command(user="rep-p01", role="worker_rep")
    forged = [
        (command(), []),
        (command(), command_signing.headers(elsewhere, command(), "intake.api")),
        (retold, command_signing.headers(stack.settings, signed, "intake.api")),
        (posing, command_signing.headers(stack.settings, posing, "mediation.api")),
    ]
    genuine = command(user="rep-p01", role="worker_rep")
    producer = KafkaProducer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    try:
        for meta, headers in [
            *forged,
            (genuine, command_signing.headers(stack.settings, genuine, "intake.api")),
        ]:
            value = meta.model_dump_json().encode()
            producer.send(topic, key=case.encode(), value=value, headers=headers)
        producer.flush(timeout=10)
    finally:
        producer.close()
    # The genuine command comes last on the case's partition: once it is decided, so are the rest.
    eventually(
        lambda: rep.get(f"/grievances/{case}").json(),
        until=lambda g: g["status"] == "acknowledged",
        timeout=30,
        what="the signed command to be decided",
    )
    assert rep.get(f"/grievances/{case}").json()["version"] == 2, "only the signed one acted"
    history = rep.get(f"/grievances/{case}/history").json()
    assert [e["actor"]["user_id"] for e in history["events"][1:]] == ["rep-p01"]
    ids = {meta.command_id for meta, _ in forged}
    parked = eventually(
        lambda: [
            r
            for r in read_topic(stack, f"{topic}.dlq")
            if json.loads(r.value).get("command_id") in ids
        ],
        until=lambda found: len(found) == len(ids),
        timeout=15,
        what="every forged command in the dead letters",
    )
    lines = [
        json.loads(line)
        for line in stack.log("intake", "worker").splitlines()
        if "record.dead_lettered" in line
    ]
    logged = {(x["topic"], x["partition"], x["offset"]) for x in lines}
    for record in parked:
        told = dict(record.headers)
        assert any(w in told["reason"] for w in (b"signature", b"signed with key", b"signed by"))
        where = (topic, int(told["source_partition"]), int(told["source_offset"]))
        assert where in logged, "each forged command is named in one log line"
    refused = [
        dict(r.headers)["reason"] for r in parked if r.value == posing.model_dump_json().encode()
    ]
    assert refused and b"'mediation.api', which may not send it here" in refused[0]
