"""Read models on PostgreSQL: every kind of case kept and read back, crashes, a dropped schema."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition

from services.common.store import schema_name
from services.followup.policies import followup_id_for
from tests.integration.conftest import GRIEVANCE, Stack
from tests.integration.polling import eventually
from tests.integration.reading import ok
from tests.integration.test_mediation_http import application
from tests.integration.test_suggestions_http import (
    CHAIR,
    LAB,
    MEMBERS,
    SUGGESTION,
    units_file,
    warm_up,
)

pytestmark = [pytest.mark.integration, pytest.mark.one_store]

MEDIATOR_CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
OFFICER = {"user": "fup-p01", "role": "followup_officer", "unit": "demo/co/p01"}
SERVICES = ("intake", "suggestions", "mediation", "followup")


@pytest.fixture(scope="module")
def pg(
    bootstrap: str, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Four services whose read models are on the tests' PostgreSQL server."""
    root = tmp_path_factory.mktemp("readmodel-postgres")
    with Stack(bootstrap, root, "pg", database_url=postgres_url) as stack:
        stack.env["TAIZHANG_UNITS_FILE"] = str(units_file(root))
        for service in SERVICES:
            stack.start(service)
        warm_up(stack)
        yield stack


def rows(stack: Stack, service: str, sql: str) -> list[tuple[Any, ...]]:
    """What a service's schema answers, read straight from the server."""
    url = stack.env["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f'SET search_path TO "{schema_name(stack.prefix, service)}"')
        return db.execute(sql).fetchall()


def committed_ids(stack: Stack, topic: str) -> list[str]:
    """The event ids a topic holds in committed transactions, in order per partition."""
    consumer = KafkaConsumer(
        bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"],
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        consumer_timeout_ms=2000,
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        return [json.loads(r.value)["event_id"] for r in consumer]
    finally:
        consumer.close()


def exactly_once(stack: Stack, service: str, stream: str) -> None:
    """Every committed event of a stream is in the service's read model once, and nothing else."""
    expected = committed_ids(stack, stack.settings.topic(f"{stream}.events"))

    def stored() -> list[str]:
        return [str(r[0]) for r in rows(stack, service, "SELECT event_id FROM events")]

    kept = eventually(
        stored,
        until=lambda found: sorted(found) == sorted(expected),
        timeout=60,
        what=f"the {service} read model to hold every {stream} event",
    )
    assert len(kept) == len(set(kept)) == len(expected)


def logged(intake: httpx.Client) -> str:
    return str(ok(intake.post("/grievances", json=GRIEVANCE), 201)["case_id"])


def resolved(intake: httpx.Client, gid: str) -> str:
    """Acknowledge and resolve a grievance; return the id of the call-back it schedules."""
    ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
    ok(intake.post(f"/grievances/{gid}/resolve", json={"how": "on_site", "resolution": "已整改"}))
    last = ok(intake.get(f"/grievances/{gid}/history"))["events"][-1]
    return followup_id_for(last["event_id"], "callback")


def shown(client: httpx.Client, path: str) -> dict[str, Any]:
    response = eventually(
        lambda: client.get(path),
        until=lambda r: r.status_code == 200,
        timeout=60,
        what=f"{path} to be shown",
    )
    return ok(response)


def test_cases_of_every_kind_are_kept_on_the_server_and_read_back(pg: Stack) -> None:
    with (
        pg.client("intake") as intake,
        pg.client("followup", **OFFICER) as officer,
        pg.client("mediation", **MEDIATOR_CHAIR) as mediation,
        pg.client("suggestions", user=CHAIR, role="union_chair", unit=LAB) as chair,
    ):
        gid = logged(intake)
        fup = resolved(intake, gid)
        group = {"unit": LAB, "members": MEMBERS, "leader": CHAIR, "congress_session": "第一次"}
        ok(chair.post("/groups", json=group), 201)
        sug = str(ok(chair.post("/suggestions", json=SUGGESTION), 201)["case_id"])
        ok(chair.post(f"/suggestions/{sug}/open-review", json={"meeting": "月度例会"}))
        ok(chair.post(f"/suggestions/{sug}/votes", json={"member": CHAIR, "vote": "for"}))
        dsp = str(ok(mediation.post("/disputes", json=application()), 201)["case_id"])

        assert ok(intake.get(f"/grievances/{gid}"))["status"] == "resolved"
        assert ok(chair.get(f"/suggestions/{sug}"))["tally"]["votes_for"] == 1
        assert ok(mediation.get(f"/disputes/{dsp}"))["category"] == "remuneration"
        assert shown(officer, f"/followups/{fup}")["source_case_id"] == gid
    for service, case in (("intake", gid), ("suggestions", sug), ("mediation", dsp)):
        assert rows(pg, service, f"SELECT status FROM cases WHERE case_id = '{case}'")
        assert not (pg.settings.data_dir / f"{service}.sqlite").exists()
    assert rows(pg, "followup", f"SELECT 1 FROM cases WHERE case_id = '{fup}'")
    assert rows(pg, "followup", f"SELECT 1 FROM source_people WHERE case_id = '{gid}'")


def test_projectors_killed_between_batches_neither_skip_nor_double_an_event(pg: Stack) -> None:
    with pg.client("intake") as intake, pg.client("followup", **OFFICER) as officer:
        # The follow-up projector is down while intake's events and its worker's come in.
        pg.kill("followup", "api")
        calls = [resolved(intake, logged(intake)) for _ in range(5)]
        # Intake's projector dies with commands just answered, perhaps inside a batch.
        pg.kill("intake", "api")
        pg.spawn("intake", "api")
        pg.spawn("followup", "api")
        for fup in calls:
            shown(officer, f"/followups/{fup}")
    exactly_once(pg, "intake", "grievance")
    exactly_once(pg, "followup", "followup")
    assert not any("quarantined" in line for line in pg.log("intake", "api").splitlines())


def test_a_dropped_schema_is_built_again_from_offset_0(pg: Stack) -> None:
    cases = "SELECT case_id, version, hash, unit FROM cases ORDER BY case_id"
    before = rows(pg, "intake", cases)
    pg.kill("intake", "api", signal.SIGTERM)
    with psycopg.connect(pg.env["DATABASE_URL"], autocommit=True) as db:
        db.execute(f'DROP SCHEMA "{schema_name(pg.prefix, "intake")}" CASCADE')
    pg.spawn("intake", "api")
    rebuilt = eventually(
        lambda: rows(pg, "intake", cases),
        until=lambda found: found == before,
        timeout=60,
        what="the dropped intake schema to be built again",
    )
    assert len(rebuilt) >= 7
    exactly_once(pg, "intake", "grievance")
    # Each case as a rep of its own unit sees it: the warm-up's lies outside demo/co.
    for case_id, version, _, unit in rebuilt:
        with pg.client("intake", unit=unit) as intake:
            assert ok(intake.get(f"/grievances/{case_id}"))["version"] == version
