"""The auditor's replay at scale, on the real broker: index, checkpoints, rebuild, lineage, 台账."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from contracts.envelope import format_ts
from services.audit import export, records, replay
from services.audit.index import index_path
from services.audit.replay import find
from services.common import kafka as kafka_kit
from services.intake.app import read_model
from services.intake.service import KIND
from tests.integration.audit_world import EVENTS, World, build_world

pytestmark = pytest.mark.integration


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
        scanned = records.case_records(settings, case_id)
        assert [r.position for r in found.records] == [r.position for r in scanned]
        expected = KIND.replay(world.written.events[case_id])
        assert KIND.replay(records.envelopes(found.records)) == expected
        done = world.stack.cli("audit", "replay", case_id, "--format", "json")
        assert done.returncode == 0, done.stderr
        body = json.loads(done.stdout)
        assert expected is not None
        assert body["state"] == expected.model_dump(mode="json")
        assert body["version"] == len(world.written.events[case_id])


def test_reads_are_ready_before_the_first_one(world: World) -> None:
    settings = world.stack.settings
    fresh = kafka_kit.log_consumer(settings, group_id=None)
    try:
        assert fresh._cluster.config["retry_backoff_ms"] == kafka_kit.READER_RETRY_MS
        assert fresh.partitions_for_topic(settings.topic("grievance.events"))
    finally:
        fresh.close()
    replay.ready(settings)
    with records.reader(settings, records.SEEK_BYTES) as consumer:
        # The reader a case's first read borrows already knows where each stream lies.
        for stream in ("grievance", "dispute", "suggestion", "followup"):
            assert consumer._cluster.partitions_for_topic(settings.topic(f"{stream}.events"))


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


def test_the_ledger_as_it_stands_equals_the_log_folded_now(world: World) -> None:
    settings = world.stack.settings
    auditor = export.local_exporter("demo")
    until_now = export.Period(None, None, as_of=datetime.now(UTC))
    folded = sorted(export.ledger_rows(settings, "demo", until_now, auditor, None), key=str)
    standing = export.Period(None, None)
    table = sorted(export.ledger_rows(settings, "demo", standing, auditor, None), key=str)
    assert len(table) == len(world.written.events)
    assert table == folded, "the index's table of cases folds the log as a replay does"
