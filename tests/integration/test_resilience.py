"""Crashes, forgeries and poison on the real broker: nothing lost or doubled, all named."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from contracts.envelope import Actor, seal_envelope
from services.audit.records import partition_of
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.polling import eventually
from tests.integration.reading import read_topic, text_opener

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


def commands_for(stack: Stack, summaries: set[str]) -> list[dict[str, Any]]:
    """The commands on the stack's commands topic that log one of the given complaints."""
    records = read_topic(stack, f"{stack.prefix}grievance.commands")
    return summarised(stack, [json.loads(r.value) for r in records], summaries)


def summarised(
    stack: Stack, records: list[dict[str, Any]], summaries: set[str]
) -> list[dict[str, Any]]:
    """The records whose sealed summary opens to one of the given complaints."""
    with text_opener(stack) as opened:
        return [r for r in records if opened(r.get("payload", {}).get("summary")) in summaries]


def test_api_killed_after_storing_commands_answers_each_retry_once(crash_stack: Stack) -> None:
    keys = [f"stored-{uuid.uuid4()}" for _ in range(12)]
    summaries = {f"复核{key}" for key in keys}

    def log(key: str) -> httpx.Response:
        with crash_stack.client("intake") as rep:
            body = {**GRIEVANCE, "summary": f"复核{key}"}
            return rep.post("/grievances", json=body, headers={"Idempotency-Key": key})

    worker = crash_stack.procs["intake-worker"]
    # With the decider paused no answer can come, so the API dies holding every command.
    worker.send_signal(signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(len(keys)) as pool:
            calls = [pool.submit(log, key) for key in keys]
            stored = eventually(
                lambda: commands_for(crash_stack, summaries),
                until=lambda found: len(found) == len(keys),
                timeout=30,
                what="every command on the commands topic",
            )
            assert not any(call.done() for call in calls), "the API answered before it was killed"
            crash_stack.procs["intake-api"].send_signal(signal.SIGSTOP)
            crash_stack.kill("intake", "api")
            unanswered = [call.exception(timeout=30) for call in calls]
        assert all(isinstance(e, httpx.TransportError) for e in unanswered), unanswered
    finally:
        worker.send_signal(signal.SIGCONT)
    crash_stack.spawn("intake", "api")
    with crash_stack.client("intake") as rep:
        answers = []
        for key in keys:
            body = {**GRIEVANCE, "summary": f"复核{key}"}
            response = rep.post("/grievances", json=body, headers={"Idempotency-Key": key})
            assert response.status_code == 201, response.text
            assert response.headers["Idempotency-Key"] == key
            answers.append(response.json())
        again = [
            rep.post(
                "/grievances",
                json={**GRIEVANCE, "summary": f"复核{key}"},
                headers={"Idempotency-Key": key},
            ).json()
            for key in keys
        ]
        assert again == answers
        events = [
            json.loads(r.value)
            for r in read_topic(crash_stack, f"{crash_stack.prefix}grievance.events")
        ]
        mine = summarised(crash_stack, events, summaries)
        # Decided once, from the stored command, before any retry reached the new API.
        assert sorted(e["event_id"] for e in mine) == sorted(a["event_ids"][0] for a in answers)
        assert {e["causation_id"] for e in mine} == {c["command_id"] for c in stored}
        for answer in answers:
            view = rep.get(f"/grievances/{answer['case_id']}").json()
            assert view["version"] == 1 and view["summary"] in summaries
        # A decider killed mid-batch (the test above) may append a batch again: readers drop
        # the repeats, so the read model holds one row per distinct event.
        logged = {e["event_id"] for e in events if e["event_type"] == "grievance.logged"}
        assert rep.get("/grievances", params={"limit": 1}).json()["total"] == len(logged)
    print(
        f"\nAPI killed holding {len(stored)} stored commands: {len(answers)} acknowledged on"
        f" retry, {len(mine)} events on the topic, {len(logged)} rows in the read model"
    )


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
