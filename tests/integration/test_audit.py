"""The auditor's replay at scale, on the real broker: index, checkpoints, rebuild, lineage, 台账."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient
from openpyxl import load_workbook

from contracts.envelope import Envelope, format_ts, parse_record, seal_envelope
from services.audit import ledger
from services.audit.index import index_path
from services.audit.replay import find
from services.intake.app import read_model
from services.intake.service import KIND
from tests.integration import history
from tests.integration.conftest import Stack
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration
EVENTS = 10_000


@dataclass
class World:
    """A deployment holding a generated history, with intake and audit running on it."""

    stack: Stack
    written: history.Generated
    parent: str
    child: str

    def case(self, n: int) -> str:
        return sorted(self.written.events)[n]


def _health(stack: Stack, service: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{stack.url(service)}/health", timeout=5).json()
    return body


def build_world(bootstrap: str, root: Path, events: int) -> World:
    """Write a history, start intake and audit on it, and wait until they have caught up."""
    stack = Stack(bootstrap, root, "audit")
    stack.env["TAIZHANG_CHECKPOINT_INTERVAL_S"] = "1"
    written = history.write(stack.settings, history.generate(events))
    # A case opened in the name of another, by one of its events: a lineage link.
    parent = sorted(written.events)[0]
    cause = written.events[parent][-1]
    child = f"GRV-{uuid.uuid4().hex[:12].upper()}"
    steps = history.grievance_script(random.Random(1), "demo/co/p01")[:2]
    linked = history.decide_case(
        KIND,
        child,
        steps,
        cause.recorded_at + timedelta(minutes=5),
        correlation_id=parent,
        causation_id=str(cause.event_id),
    )
    extra = history.write(stack.settings, iter([(child, linked)]))
    written.events.update(extra.events)
    try:
        stack.start("intake")
        stack.start("audit")
        timeout = 120 + events / 500
        eventually(
            lambda: _health(stack, "intake"),
            until=lambda health: health.get("lag") == 0,
            timeout=timeout,
            interval=0.5,
            ignoring=(httpx.HTTPError,),
            what="intake to project the history",
        )
        eventually(
            lambda: _health(stack, "audit"),
            until=lambda health: health.get("indexed") == written.count,
            timeout=timeout,
            interval=0.5,
            ignoring=(httpx.HTTPError,),
            what=f"the audit index to hold the history's {written.count} events",
        )
        eventually(
            lambda: stack.log("audit", "worker"),
            until=lambda log: "audit.checkpoint.published" in log,
            timeout=120,
            interval=0.5,
            what="the audit worker to sign a checkpoint",
        )
    except BaseException:
        stack.stop()
        raise
    return World(stack, written, parent, child)


@pytest.fixture(scope="module")
def world(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(bootstrap, tmp_path_factory.mktemp("audit"), EVENTS)
    yield w
    w.stack.stop()


def test_replay_through_the_index_equals_a_full_scan(world: World) -> None:
    settings = world.stack.settings
    for case_id in (world.case(1), world.case(len(world.written.events) // 2), world.child):
        started = time.perf_counter()
        found = find(settings, case_id)
        took = time.perf_counter() - started
        assert found.source == "index"
        assert took < 1.0, f"one case took {took:.2f}s through the index"
        scanned = ledger.case_records(settings, case_id)
        assert [r.position for r in found.records] == [r.position for r in scanned]
        expected = KIND.replay(world.written.events[case_id])
        assert KIND.replay(ledger.envelopes(found.records)) == expected
        done = world.stack.cli("audit", "replay", case_id, "--format", "json")
        assert done.returncode == 0, done.stderr
        body = json.loads(done.stdout)
        assert expected is not None
        assert body["state"] == expected.model_dump(mode="json")
        assert body["version"] == len(world.written.events[case_id])


def test_replay_at_a_time_shows_the_case_as_it_stood(world: World) -> None:
    case_id = next(c for c, evs in sorted(world.written.events.items()) if len(evs) >= 4)
    events = world.written.events[case_id]
    at = format_ts(events[1].recorded_at + timedelta(seconds=1))
    done = world.stack.cli("audit", "replay", case_id, "--at", at, "--format", "json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["version"] == 2 and body["state"]["status"] == "acknowledged"
    assert [a["user_id"] for a in body["actors"]] == [events[0].actor.user_id]
    assert [d["deadline"] for d in body["open_deadlines"]] == ["answer_due"]
    table = world.stack.cli("audit", "replay", case_id, "--at", at)
    assert table.returncode == 0 and "grievance.acknowledged" in table.stdout
    assert "answer_due" in table.stdout


def test_replay_before_the_case_existed_says_so(world: World) -> None:
    case_id = world.case(3)
    before = format_ts(world.written.events[case_id][0].recorded_at - timedelta(days=1))
    done = world.stack.cli("audit", "replay", case_id, "--at", before)
    assert done.returncode == 3
    assert "did not exist yet" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["audit", "replay", "GRV-ZZZZZZZZZZZZ"], 3, "no case GRV-ZZZZZZZZZZZZ"),
        (["audit", "replay", "not-a-case"], 2, "is not a case id"),
        (["audit", "verify", "GRV-lower-case!"], 2, "is not a case id"),
        (["audit", "replay", "GRV-ZZZZZZZZZZZZ", "--at", "yesterday"], 2, "not an ISO time"),
        (["audit", "lineage", "GRV-ZZZZZZZZZZZZ"], 3, "no case GRV-ZZZZZZZZZZZZ"),
        (["export", "ledger", "--unit", "demo/co", "--out", "x.txt", "--format", "pdf"], 2, "xlsx"),
    ],
)
def test_bad_input_is_one_line_and_a_distinct_exit_code(
    world: World, args: list[str], code: int, words: str
) -> None:
    done = world.stack.cli(*args)
    assert done.returncode == code, done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_unreachable_broker_is_one_line_and_exit_4(world: World) -> None:
    dead = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    saved = dict(world.stack.env)
    world.stack.env.update(dead)
    try:
        for args in (["audit", "verify", "--all"], ["audit", "replay", "GRV-000000000001"]):
            # Even through the index a replay fetches its records from the broker.
            assert index_path(world.stack.settings).exists()
            done = world.stack.cli(*args)
            assert done.returncode == 4, (args, done.stderr)
            assert "cannot read the log at 127.0.0.1:1" in done.stderr
            assert "Traceback" not in done.stderr
    finally:
        world.stack.env.clear()
        world.stack.env.update(saved)


def test_lineage_follows_the_causing_event(world: World) -> None:
    done = world.stack.cli("audit", "lineage", world.child)
    assert done.returncode == 0, done.stderr
    assert done.stdout.index(world.parent) < done.stdout.index(world.child)
    cause = world.written.events[world.parent][-1]
    assert f"← {cause.event_type}" in done.stdout
    with world.stack.client("audit", user="aud-1", role="auditor", unit="demo") as client:
        body = client.get(f"/audit/cases/{world.child}/lineage").json()
    assert body["root"] == world.parent and body["cases"] == [world.parent, world.child]
    assert body["links"][0]["event_id"] == str(world.written.events[world.child][0].event_id)
    assert body["links"][0]["caused_by"] == cause.event_type


def test_http_is_for_auditors_only(world: World) -> None:
    case_id = world.case(5)
    events = world.written.events[case_id]
    with world.stack.client("audit", user="aud-1", role="auditor", unit="demo") as client:
        now = client.get(f"/audit/cases/{case_id}")
        assert now.status_code == 200 and now.json()["version"] == len(events)
        at = format_ts(events[0].recorded_at)
        then = client.get(f"/audit/cases/{case_id}", params={"at": at})
        assert then.status_code == 200 and then.json()["version"] == 1
        before = client.get(
            f"/audit/cases/{case_id}",
            params={"at": format_ts(events[0].recorded_at - timedelta(days=1))},
        )
        assert before.status_code == 404 and "did not exist yet" in before.json()["detail"]
        verdict = client.get(f"/audit/verify/{case_id}").json()
        assert verdict["clean"] is True and verdict["version"] == len(events)
        assert verdict["head"] == events[-1].hash
        bad = client.get("/audit/cases/not-a-case")
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert client.get("/audit/cases/GRV-ZZZZZZZZZZZZ").status_code == 404
    with world.stack.client("audit") as rep:
        assert rep.get(f"/audit/cases/{case_id}").status_code == 403
        assert rep.get(f"/audit/verify/{case_id}").status_code == 403


def test_rebuild_equals_the_live_read_model(world: World) -> None:
    done = world.stack.cli("audit", "rebuild")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intake: " in done.stdout and "equals the live read model" in done.stdout
    assert "events/s" in done.stdout
    assert "DIFFERENT" not in done.stdout


def test_the_ledger_export_opens_and_matches_the_read_model(world: World, tmp_path: Path) -> None:
    path = tmp_path / "taizhang.xlsx"
    done = world.stack.cli(
        "export", "ledger", "--unit", "demo/co/p02", "--from", "2026-01-01",
        "--to", "2026-12-31", "--format", "xlsx", "--out", str(path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sheet = load_workbook(path).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[1], rows[2:]
    assert header[:9] == (
        "case_id", "type", "unit", "opened", "status", "category", "days_open", "outcome",
        "satisfaction",
    )  # fmt: skip
    model = read_model(world.stack.settings)
    try:
        total, live = model.query(units=["demo/co/p02"], filters={}, limit=10**6, offset=0)
    finally:
        model.close()
    assert total > 0 and len(body) == total
    by_id = {r[0]: r for r in body}
    for row in live:
        line = by_id[row["case_id"]]
        state = json.loads(row["state"])
        assert line[2] == row["unit"] and line[4] == row["status"]
        assert line[5] == state["category"]
        assert (line[7] or None) == state["resolved_how"]
    assert "person" not in header, "an auditor's export carries no personal data"
    rep_csv = tmp_path / "rep.csv"
    as_rep = world.stack.cli(
        "export", "ledger", "--unit", "demo/co/p02", "--format", "csv", "--out", str(rep_csv),
        "--token", world.stack.token(user="rep-p02", unit="demo/co/p02"),
    )  # fmt: skip
    assert as_rep.returncode == 0, as_rep.stderr
    assert rep_csv.read_text(encoding="utf-8-sig").splitlines()[0].endswith(",person")
    outsider = world.stack.cli(
        "export", "ledger", "--unit", "demo/co/p02", "--format", "csv", "--out", str(rep_csv),
        "--token", world.stack.token(user="rep-p01", unit="demo/co/p01"),
    )  # fmt: skip
    assert outsider.returncode == 3 and "cannot export" in outsider.stderr


# --- tampering: these run last, they damage the log of this module's deployment ---------


def _forge(env: Envelope, **changes: Any) -> Envelope:
    fields = {
        "event_type": env.event_type,
        "schema_version": env.schema_version,
        "case_id": env.case_id,
        "case_version": env.case_version,
        "occurred_at": env.occurred_at,
        "recorded_at": env.recorded_at,
        "actor": env.actor,
        "correlation_id": env.correlation_id,
        "causation_id": env.causation_id,
        "payload": env.payload,
        "prev_hash": env.prev_hash,
        "event_id": env.event_id,
    }
    return seal_envelope(**{**fields, **changes})


def test_verify_all_is_clean_then_finds_every_kind_of_tampering(world: World) -> None:
    stack, settings = world.stack, world.stack.settings
    clean = stack.cli("audit", "verify", "--all")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 finding(s)" in clean.stdout and "signature holds" in clean.stdout
    assert "verifying" in clean.stderr
    stack.kill("audit", "worker")  # no newer checkpoint may bless what follows

    long_cases = [c for c, evs in sorted(world.written.events.items()) if len(evs) >= 4]
    topic = settings.topic("grievance.events")
    by_partition: dict[int, list[str]] = {}
    for c in long_cases:
        by_partition.setdefault(ledger.partition_of(c, settings.partitions), []).append(c)
    victim_partition = max(by_partition, key=lambda p: len(by_partition[p]))
    rewritten, truncated = by_partition[victim_partition][:2]
    others = [
        c for c in long_cases if ledger.partition_of(c, settings.partitions) != victim_partition
    ]
    forged_case, gap_case, schema_case = others[:3]

    # A case deleted and re-appended wholesale: the partition is emptied and written again,
    # every other case byte for byte, one case with a new history that chains perfectly,
    # another cut short.
    tp = TopicPartition(topic, victim_partition)
    originals = [r for r in ledger.read_partitions(settings, [tp])]
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        ends = ledger.end_offsets(settings, [tp])
        admin.delete_records({tp: ends[tp]})
    finally:
        admin.close()
    new_history: list[Envelope] = []
    prev = "0" * 64
    for env in world.written.events[rewritten]:
        payload = dict(env.payload)
        if env.event_type == "grievance.logged":
            payload["summary"] = "另一段历史"
        forged = _forge(env, payload=payload, prev_hash=prev)
        new_history.append(forged)
        prev = forged.hash
    cut = len(world.written.events[truncated]) - 1
    again: list[tuple[str, bytes]] = []
    for rec in originals:
        if rec.key == rewritten:
            continue
        if rec.key == truncated:
            _, env = parse_record(rec.value)
            if env.case_version > cut:
                continue
        again.append((str(rec.key), rec.value))
    again += [(rewritten, e.to_bytes()) for e in new_history]
    history.send(settings, again)

    # A forged event: content changed after it was hashed.
    last = world.written.events[forged_case][-1]
    wire = last.to_wire()
    wire["case_version"] = last.case_version + 1
    wire["prev_hash"] = last.hash
    wire["actor"] = {**wire["actor"], "user_id": "someone-else"}
    history.send(settings, [(forged_case, json.dumps(wire).encode())])
    # A version gap: a well-chained event that skips a version.
    last = world.written.events[gap_case][-1]
    gap = _forge(last, case_version=last.case_version + 2, prev_hash=last.hash,
                 event_id=uuid.uuid4())  # fmt: skip
    history.send(settings, [(gap_case, gap.to_bytes())])
    # A schema-invalid record: hashed and chained, but its payload breaks the contract.
    last = world.written.events[schema_case][-1]
    bad = _forge(
        last,
        event_type="grievance.resolved",
        payload={"how": "by magic"},
        case_version=last.case_version + 1,
        prev_hash=last.hash,
        event_id=uuid.uuid4(),
    )
    history.send(settings, [(schema_case, bad.to_bytes())])
    # A reference to a case that is not in the log.
    orphan = f"GRV-{uuid.uuid4().hex[:12].upper()}"
    opened = history.decide_case(
        KIND, orphan, history.grievance_script(random.Random(2), "demo/co/p03")[:1],
        last.recorded_at, correlation_id="GRV-NOSUCHCASE01",
    )  # fmt: skip
    history.send(settings, [(orphan, e.to_bytes()) for e in opened])

    found = stack.cli("audit", "verify", "--all")
    assert found.returncode == 1, found.stdout + found.stderr
    lines = found.stdout.splitlines()

    def finding(kind: str, case_id: str) -> str:
        hits = [line for line in lines if line.startswith(f"{kind} {case_id} at {topic}/")]
        assert len(hits) == 1, (kind, case_id, found.stdout[-3000:])
        return hits[0]

    assert "rewritten" in finding("checkpoint", rewritten)
    assert "truncated" in finding("checkpoint", truncated)
    assert "@" in finding("altered", forged_case)
    assert "expected version" in finding("gap", gap_case)
    assert "grievance.resolved" in finding("schema", schema_case)
    assert "GRV-NOSUCHCASE01" in finding("reference", orphan)
    assert "6 finding(s)" in found.stdout
