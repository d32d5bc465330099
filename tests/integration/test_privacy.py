"""Erasure end to end: nothing a worker said is in clear anywhere, and erasing them reaches all."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kafka import KafkaConsumer

from contracts.catalog import PRIVACY_TOPIC
from contracts.personal import ERASED
from services.common.store import schema_name
from services.followup.policies import followup_id_for
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.polling import eventually
from tests.integration.reading import ok, read_topic

pytestmark = pytest.mark.integration

NAME, PHONE = "欧阳明远", "13987654321"
SUMMARY = "欧阳师傅被脚手架划伤"
DETAILS = "三号工地脚手架松动无人处理"
RESOLUTION = "项目部已加固脚手架并当面致歉"
MATTERS = "十一月工资被克扣两千元"
CLAIM = "补发被克扣的十一月工资"
COMMENT = "工友表示这次处理得很及时"
# What a named worker's suggestion says, and what came of it.
TITLE = "欧阳师傅建议夜班配发热餐"
RESPONSE = "领导班子同意欧阳师傅的夜班热餐建议"
NOTE = "欧阳师傅所在班组已配发夜班热餐"
# A query of the group, and the reason a member left it.
QUESTION = "欧阳师傅受伤为何未报工伤"
ANSWER = "欧阳师傅的工伤材料下周补报"
REJECTION = "欧阳师傅的工伤材料不能再拖"
LEAVING = "欧阳明远的班长调往外地项目"
WORDS = (
    *(NAME, PHONE, SUMMARY, DETAILS, RESOLUTION, MATTERS, CLAIM, COMMENT),
    *(TITLE, RESPONSE, NOTE, QUESTION, ANSWER, REJECTION, LEAVING),
)

UNIT = "demo/co/p01"
OFFICER = {"user": "fup-p01", "role": "followup_officer", "unit": UNIT}
CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
ADMIN = {"user": "admin-1", "role": "admin", "unit": "demo"}
AUDITOR = {"user": "aud-1", "role": "auditor", "unit": "demo"}
MEMBERS = ["chair-p01", "m2-p01", "m3-p01", "m4-p01", "m5-p01", "m6-p01"]


@pytest.fixture(scope="module")
def pstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every service that holds a worker's words, and the audit service that erases them."""
    with Stack(bootstrap, tmp_path_factory.mktemp("privacy"), "privacy") as s:
        s.start("intake")
        warm_up(s)
        for service in ("mediation", "followup", "suggestions", "audit"):
            s.start(service)
        yield s


def found_in(blob: bytes) -> list[str]:
    """The seeded words a blob holds, as UTF-8 or as JSON's escapes."""
    return [w for w in WORDS if w.encode() in blob or json.dumps(w)[1:-1].encode() in blob]


def everything_stored(stack: Stack) -> dict[str, bytes]:
    """The raw bytes of every topic of the deployment, of every file under its folder and of
    every table it keeps on a shared server."""
    consumer = KafkaConsumer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        topics = sorted(t for t in consumer.topics() if t.startswith(stack.prefix))
    finally:
        consumer.close()
    stored = {}
    for topic in topics:
        parts = []
        for record in read_topic(stack, topic):
            parts += [record.key or b"", record.value or b""]
            parts += [value for _, value in record.headers or []]
        stored[topic] = b"\n".join(parts)
    for path in Path(stack.var).rglob("*"):
        if path.is_file():
            stored[str(path)] = path.read_bytes()
    return stored | on_the_server(stack)


def on_the_server(stack: Stack) -> dict[str, bytes]:
    """Every value of every table in the deployment's schemas on the server, if it has one."""
    url = stack.env.get("DATABASE_URL")
    if not url:
        return {}
    stored = {}
    with psycopg.connect(url, autocommit=True) as db:
        tables = db.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE starts_with(schemaname, %s)",
            (schema_name(stack.prefix, ""),),
        ).fetchall()
        for schema, table in tables:
            values = [
                v if isinstance(v, bytes) else str(v).encode()
                for row in db.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
                for v in row
            ]
            stored[f"{schema}.{table}"] = b"\n".join(values)
    assert any(name.endswith(".cases") for name in stored), "the scan reads the read models"
    return stored


def opened(client: httpx.Client, path: str) -> dict[str, Any]:
    return ok(client.get(path))


def resolution_in_history(client: httpx.Client, gid: str) -> Any:
    """The resolution a grievance's history gives opened."""
    events = opened(client, f"/grievances/{gid}/history")["events"]
    return next(e for e in events if e["event_type"] == "grievance.resolved")["opened"][
        "resolution"
    ]


def member(stack: Stack, user: str) -> httpx.Client:
    return stack.client("suggestions", user=user, role="group_member", unit=UNIT)


def democratic_management(stack: Stack) -> tuple[str, str, str]:
    """A named worker's suggestion carried out, a query answered and rejected, a member replaced.

    Returns the suggestion, the query and the group.
    """
    with stack.client("suggestions", **CHAIR) as chair, stack.client("suggestions") as rep:
        formed = {
            "unit": UNIT,
            "members": MEMBERS,
            "leader": MEMBERS[0],
            "congress_session": "一届一次",
        }
        # Sent again with the same key until the worker has joined and answers.
        key = {"Idempotency-Key": f"privacy-group-{uuid.uuid4()}"}
        group = eventually(
            lambda: chair.post("/groups", json=formed, headers=key),
            until=lambda response: response.status_code == 201,
            timeout=90,
            what="the suggestions worker to answer a command",
        ).json()["case_id"]
        idea = {
            "unit": UNIT,
            "topic": "welfare",
            "title": TITLE,
            "content": DETAILS,
            "worker": {"name": NAME, "phone": PHONE},
        }
        sug = ok(rep.post("/suggestions", json=idea), 201)["case_id"]
        ok(chair.post(f"/suggestions/{sug}/open-review", json={"meeting": "月度例会"}))
        eventually(
            lambda: opened(rep, f"/suggestions/{sug}")["status"],
            until=lambda status: status == "under_review",
            what="the review to open",
        )
        for user in MEMBERS[:4]:
            with member(stack, user) as voter:
                ok(voter.post(f"/suggestions/{sug}/votes", json={"member": user, "vote": "for"}))
        ok(chair.post(f"/suggestions/{sug}/close-vote"))
        due = (date.today() + timedelta(days=14)).isoformat()
        ok(
            chair.post(
                f"/suggestions/{sug}/refer-to-leadership", json={"owner": "lead", "due": due}
            )
        )
        ok(chair.post(f"/suggestions/{sug}/leadership-response", json={"response": RESPONSE}))
        ok(chair.post(f"/suggestions/{sug}/implement", json={"note": NOTE}))
        with member(stack, MEMBERS[1]) as asker:
            query = {"unit": UNIT, "area": "safety", "question": QUESTION, "addressed_to": "经理"}
            qry = ok(asker.post("/queries", json=query), 201)["case_id"]
            ok(chair.post(f"/queries/{qry}/answer", json={"answer": ANSWER}))
            ok(asker.post(f"/queries/{qry}/reject-answer", json={"reason": REJECTION}))
        swap = {"outgoing": MEMBERS[5], "incoming": "m7-p01", "congress_session": "补选"}
        ok(chair.post(f"/groups/{group}/replace-member", json={**swap, "reason": LEAVING}))
    return sug, qry, group


def suggestion_texts(client: httpx.Client, sug: str) -> list[Any]:
    """What the suggestion's readers see of its title and of what came of it."""
    view = opened(client, f"/suggestions/{sug}")
    return [view["title"], view["leadership_response"], view["implementation"]]


# The one test that follows a worker through five services, and starts them.
@pytest.mark.timeout(600)
def test_a_worker_is_sealed_everywhere_and_erased_everywhere(pstack: Stack) -> None:
    sug, qry, group = democratic_management(pstack)
    with (
        pstack.client("intake") as rep,
        pstack.client("mediation", **CHAIR) as chair,
        pstack.client("followup", **OFFICER) as officer,
        pstack.client("suggestions") as sug_rep,
        pstack.client("audit", **ADMIN) as admin,
        pstack.client("audit", **AUDITOR) as auditor,
    ):
        body = {
            **GRIEVANCE,
            "summary": SUMMARY,
            "details": DETAILS,
            "complainant": {"name": NAME, "phone": PHONE},
        }
        gid = ok(rep.post("/grievances", json=body), 201)["case_id"]
        ok(rep.post(f"/grievances/{gid}/acknowledge", json={}))
        ok(
            rep.post(
                f"/grievances/{gid}/resolve", json={"how": "on_site", "resolution": RESOLUTION}
            )
        )
        resolved = ok(rep.get(f"/grievances/{gid}/history"))["events"][-1]
        fup = followup_id_for(resolved["event_id"], "callback")
        eventually(
            lambda: officer.get(f"/followups/{fup}"),
            until=lambda response: response.status_code == 200,
            what="the call-back to be scheduled",
        )
        comment = {"satisfaction": "satisfied", "comment": COMMENT}
        ok(officer.post(f"/followups/{fup}/contact", json=comment))
        application = {
            "unit": UNIT,
            "form": "written",
            "applicant": {"name": NAME, "phone": f"{PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}"},
            "respondent": {"employer": "演示建设集团有限公司", "management": ["pm-p01"]},
            "category": "remuneration",
            "matters": MATTERS,
            "claims": [{"description": CLAIM, "amount": "2000.00"}],
            "known_since": (date.today() - timedelta(days=30)).isoformat(),
        }
        applied = eventually(
            lambda: chair.post("/disputes", json=application),
            until=lambda response: response.status_code == 201,
            timeout=90,
            what="the mediation worker to open a dispute",
        )
        dsp = ok(applied, 201)["case_id"]

        grievance = opened(rep, f"/grievances/{gid}")
        dispute = opened(chair, f"/disputes/{dsp}")
        # Whoever may read them reads them, and one phone number is one person.
        assert grievance["complainant"] == {"name": NAME, "phone": PHONE}
        assert (grievance["details"], grievance["resolution"]) == (DETAILS, RESOLUTION)
        assert grievance["summary"] == SUMMARY
        listed = opened(rep, "/grievances")["items"]
        assert next(g["summary"] for g in listed if g["case_id"] == gid) == SUMMARY
        assert suggestion_texts(sug_rep, sug) == [TITLE, RESPONSE, NOTE]
        listed = opened(sug_rep, "/suggestions")["items"]
        assert next(s["title"] for s in listed if s["case_id"] == sug) == TITLE
        query = opened(sug_rep, f"/queries/{qry}")
        assert (query["question"], query["answer"]) == (QUESTION, ANSWER)
        assert query["rejection_reason"] == REJECTION
        replayed = opened(auditor, f"/audit/cases/{gid}")
        assert replayed["opened"] == {"summary": SUMMARY, "resolution": RESOLUTION}
        assert replayed["state"]["summary"]["kid"] == grievance["person_id"]
        replaced = opened(sug_rep, f"/groups/{group}/history")["events"][-1]
        assert replaced["opened"] == {"reason": LEAVING}
        assert dispute["matters"] == MATTERS and dispute["claims"][0]["description"] == CLAIM
        assert dispute["person_id"] == grievance["person_id"]
        assert opened(officer, f"/followups/{fup}")["comment"] == COMMENT
        assert resolution_in_history(rep, gid) == RESOLUTION

        stored = everything_stored(pstack)
        # What is not personal is there in clear: the scan reads what it should.
        assert any(b'"category":"canteen"' in blob for blob in stored.values())
        assert any(t.endswith("grievance.events") for t in stored)
        assert any(p.endswith(".sqlite") for p in stored)
        leaks = {where: words for where, blob in stored.items() if (words := found_in(blob))}
        assert leaks == {}

        erasure = ok(
            admin.post("/privacy/erasures", json={"phone": PHONE, "reason": "worker_request"}),
            201,
        )
        assert erasure["key_id"] == grievance["person_id"]

        def everywhere() -> list[Any]:
            g = opened(rep, f"/grievances/{gid}")
            d = opened(chair, f"/disputes/{dsp}")
            return [
                g["complainant"]["name"],
                g["complainant"]["phone"],
                g["details"],
                g["resolution"],
                resolution_in_history(rep, gid),
                d["applicant"]["name"],
                d["matters"],
                d["claims"][0]["description"],
                opened(officer, f"/followups/{fup}")["comment"],
                g["summary"],
                *suggestion_texts(sug_rep, sug),
                opened(auditor, f"/audit/cases/{gid}")["opened"]["summary"],
            ]

        eventually(
            everywhere,
            until=lambda shown: shown == [ERASED] * 14,
            timeout=15,
            what="every service to show the worker erased",
        )
        ledger = admin_free_export(pstack)
        assert NAME not in ledger and ERASED in ledger

        # The erasure names a key and a ground, nothing of the person.
        told = [
            json.loads(r.value) for r in read_topic(pstack, pstack.settings.topic(PRIVACY_TOPIC))
        ]
        assert [t["key_id"] for t in told] == [grievance["person_id"]]
        assert found_in(json.dumps(told, ensure_ascii=False).encode()) == []
        verified = pstack.cli("audit", "verify", "--all")
        assert verified.returncode == 0, verified.stdout + verified.stderr

        again = ok(rep.post("/grievances", json=body), 201)["case_id"]
        fresh = opened(rep, f"/grievances/{again}")
        assert fresh["person_id"] != grievance["person_id"]
        assert fresh["complainant"] == {"name": NAME, "phone": PHONE}
        assert opened(rep, f"/grievances/{gid}")["complainant"]["name"] == ERASED
        # Nothing more is recorded under the erased key: a clear refusal, not a failure.
        refused = rep.post(f"/grievances/{gid}/reopen", json={"reason": "工友再次反映"})
        assert refused.status_code == 409 and refused.json()["title"] == "Person erased"


def admin_free_export(stack: Stack) -> str:
    """The unit's ledger as its worker rep exports it, as text."""
    with stack.client("audit") as rep:
        response = rep.get("/audit/export", params={"unit": UNIT, "format": "csv"})
    assert response.status_code == 200, response.text
    return response.content.decode("utf-8-sig")


def test_only_an_admin_erases_and_a_bad_request_writes_nothing(pstack: Stack) -> None:
    topic = pstack.settings.topic(PRIVACY_TOPIC)
    before = len(read_topic(pstack, topic))
    with pstack.client("audit", **CHAIR) as chair, pstack.client("audit", **ADMIN) as admin:
        body = {"person_id": "PER-0123456789abcdef0123", "reason": "worker_request"}
        assert chair.post("/privacy/erasures", json=body).status_code == 403
        free_text = {"person_id": "PER-0123456789abcdef0123", "reason": "他本人要求"}
        assert admin.post("/privacy/erasures", json=free_text).status_code == 422
        both = {**body, "phone": PHONE}
        assert admin.post("/privacy/erasures", json=both).status_code == 422
        unknown = {"phone": "13000000000", "reason": "worker_request"}
        assert admin.post("/privacy/erasures", json=unknown).status_code == 404
    assert len(read_topic(pstack, topic)) == before


def test_the_command_line_erases_a_person_too(pstack: Stack) -> None:
    with pstack.client("intake") as rep:
        body = {**GRIEVANCE, "complainant": {"name": "命令行工友", "phone": "13911112222"}}
        gid = ok(rep.post("/grievances", json=body), 201)["case_id"]
        person = opened(rep, f"/grievances/{gid}")["person_id"]
        done = pstack.cli("privacy", "erase", "--person", person, "--reason", "consent_withdrawn")
        assert done.returncode == 0, done.stderr
        assert person in done.stdout
        eventually(
            lambda: opened(rep, f"/grievances/{gid}")["complainant"]["name"],
            until=lambda name: name == ERASED,
            timeout=15,
            what="the intake service to hear the erasure",
        )
    wrong = pstack.cli("privacy", "erase", "--person", person, "--reason", "because")
    assert wrong.returncode == 2 and "unknown reason" in wrong.stderr
