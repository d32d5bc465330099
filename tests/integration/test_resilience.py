"""Crashes, forgeries and poison on the real broker: nothing lost or doubled, all named."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from contracts.envelope import Actor, seal_envelope
from services.audit.records import partition_of
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.polling import eventually
from tests.integration.reading import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def crash_stack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: these tests kill processes and write forged records."""
    with Stack(bootstrap, tmp_path_factory.mktemp("crash"), "crash") as s:
        s.start("intake")
        warm_up(s)
        yield s


def producer(stack: Stack) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")


def test_worker_killed_mid_stream_loses_and_doubles_nothing(crash_stack: Stack) -> None:
    keys = [f"crash-{uuid.uuid4()}" for _ in range(60)]

    async def fire(client: httpx.AsyncClient, key: str) -> int:
        response = await client.post(
            "/grievances", json=GRIEVANCE, headers={"Idempotency-Key": key}
        )
        return response.status_code

    async def storm() -> list[int]:
        headers = {"Authorization": f"Bearer {crash_stack.token()}"}
        async with httpx.AsyncClient(
            base_url=crash_stack.url("intake"), headers=headers, timeout=90
        ) as c:
            tasks = [asyncio.create_task(fire(c, k)) for k in keys]
            await asyncio.sleep(0.3)
            crash_stack.kill("intake", "worker")
            crash_stack.spawn("intake", "worker")
            return list(await asyncio.gather(*tasks))

    statuses = asyncio.run(storm())
    assert set(statuses) <= {201, 503}, statuses
    # A client retries what was not confirmed, with the same key; every command lands once.
    with crash_stack.client("intake") as rep:
        case_ids = []
        for key in keys:
            response = rep.post("/grievances", json=GRIEVANCE, headers={"Idempotency-Key": key})
            assert response.status_code == 201, response.text
            case_ids.append(response.json()["case_id"])
        assert len(set(case_ids)) == len(keys)
        for case in case_ids:
            history = rep.get(f"/grievances/{case}/history").json()["events"]
            assert [e["case_version"] for e in history] == [1]
    verdict = crash_stack.cli("audit", "verify", "--all")
    assert verdict.returncode == 0, verdict.stdout


def test_api_killed_mid_projection_rebuilds_exactly(crash_stack: Stack) -> None:
    with crash_stack.client("intake") as rep:
        cases = [rep.post("/grievances", json=GRIEVANCE).json()["case_id"] for _ in range(10)]
        for case in cases:
            assert rep.post(f"/grievances/{case}/acknowledge", json={}).status_code == 200
        total = rep.get("/grievances", params={"limit": 1}).json()["total"]
    crash_stack.kill("intake", "api")
    crash_stack.spawn("intake", "api")
    with crash_stack.client("intake") as rep:
        assert rep.get("/grievances", params={"limit": 1}).json()["total"] == total
        for case in cases:
            history = rep.get(f"/grievances/{case}/history").json()["events"]
            assert [e["case_version"] for e in history] == [1, 2]


def test_forged_record_is_named_by_verify_and_kept_out_of_the_read_model(
    crash_stack: Stack,
) -> None:
    with crash_stack.client("intake") as rep:
        case = rep.post("/grievances", json=GRIEVANCE).json()["case_id"]
        assert rep.post(f"/grievances/{case}/acknowledge", json={}).status_code == 200
        genuine = rep.get(f"/grievances/{case}/history").json()["events"][-1]
    topic = f"{crash_stack.prefix}grievance.events"
    # A forger appends a "resolution" and recomputes its hash, but cannot know the chain.
    forged = seal_envelope(
        event_type="grievance.resolved",
        schema_version=1,
        case_id=case,
        case_version=3,
        occurred_at=datetime.fromisoformat(genuine["occurred_at"].replace("Z", "+00:00")),
        recorded_at=datetime.fromisoformat(genuine["recorded_at"].replace("Z", "+00:00")),
        actor=Actor.model_validate(genuine["actor"]),
        correlation_id=case,
        causation_id="forged",
        payload={"how": "on_site", "resolution": "已解决"},
        prev_hash="f" * 64,
        event_id=uuid.uuid4(),
    )
    # And alters a copy of the genuine event without being able to fix its hash.
    altered = {
        **{k: v for k, v in genuine.items() if k != "_position"},
        "event_type": "grievance.closed",
    }
    p = producer(crash_stack)
    first = p.send(topic, key=case.encode(), value=forged.to_bytes()).get(timeout=10)
    second = p.send(topic, key=case.encode(), value=json.dumps(altered).encode()).get(timeout=10)
    p.close()
    assert first.partition == partition_of(case, 6)
    result = crash_stack.cli("audit", "verify", case)
    assert result.returncode == 1, result.stdout
    assert f"{topic}/{first.partition}@{first.offset}" in result.stdout
    assert f"{topic}/{second.partition}@{second.offset}" in result.stdout
    assert "broken-chain" in result.stdout and "altered" in result.stdout
    with crash_stack.client("intake") as rep:
        eventually(
            lambda: rep.get("/health").json()["lag"],
            until=lambda lag: lag == 0,
            timeout=30,
            what="the read model to catch up past the forged records",
        )
        view = rep.get(f"/grievances/{case}").json()
        assert view["status"] == "acknowledged" and view["version"] == 2
    dead = read_topic(crash_stack, f"{topic}.dlq")
    offsets = {int(dict(r.headers)["source_offset"]) for r in dead if r.key == case.encode()}
    assert {first.offset, second.offset} <= offsets
    assert f'"offset": {first.offset}' in crash_stack.log("intake", "api")


def test_poison_records_go_to_dead_letters_and_processing_goes_on(crash_stack: Stack) -> None:
    events, commands = (f"{crash_stack.prefix}grievance.{t}" for t in ("events", "commands"))
    p = producer(crash_stack)
    bad_event = p.send(events, key=b"GRV-POISON000001", value=b"\x00not json").get(timeout=10)
    p.send(commands, key=b"GRV-POISON000002", value=b'{"command_type": 1}').get(timeout=10)
    p.close()
    with crash_stack.client("intake") as rep:
        after = rep.post("/grievances", json=GRIEVANCE)
        assert after.status_code == 201
        assert (
            rep.post(f"/grievances/{after.json()['case_id']}/acknowledge", json={}).status_code
            == 200
        )

    def parked(record: ConsumerRecord) -> bool:
        return bool(
            dict(record.headers)["source_offset"] == str(bad_event.offset).encode()
            and dict(record.headers)["source_partition"] == str(bad_event.partition).encode()
        )

    eventually(
        lambda: read_topic(crash_stack, f"{events}.dlq"),
        until=lambda dead: any(parked(r) for r in dead),
        timeout=30,
        what="the poison event in the events' dead letters",
    )
    dead_commands = eventually(
        lambda: read_topic(crash_stack, f"{commands}.dlq"),
        until=bool,
        timeout=30,
        what="the poison command in the commands' dead letters",
    )
    assert any(r.value == b'{"command_type": 1}' for r in dead_commands)
    api_log = crash_stack.log("intake", "api")
    assert "record.dead_lettered" in api_log and f'"offset": {bad_event.offset}' in api_log
    assert "record.dead_lettered" in crash_stack.log("intake", "worker")
