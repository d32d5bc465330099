"""The benchmark harness's arithmetic, load schedule and report, without a broker."""

from __future__ import annotations

import ast
import asyncio
import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench.cpu import per_command
from bench.goals import goals
from bench.intake import path_times, reply_times
from bench.loadgen import HttpError, open_loop, parse_head
from bench.profile import fold, own_share, waiting_share
from bench.report import plain, render
from bench.signatures import measure as signatures_measure
from bench.stats import Step, at_least, at_most, highest_sustained, percentile, rate_steps


def step(rate: int, p99: float, ok: int, errors: int = 0, achieved: float | None = None) -> Step:
    return Step(rate, 1.0, ok + errors, ok, errors, achieved or rate, 1.0, p99, p99, p99)


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 99.9) == 100
    assert percentile(values, 0) == 1
    assert percentile([7.0], 99.9) == 7
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_rates_step_up_by_a_factor_and_stop_at_the_ceiling() -> None:
    assert rate_steps(100, 1000, 2) == [100, 200, 400, 800]
    steps = rate_steps(25, 3200, 1.6)
    assert steps[0] == 25 and steps[-1] <= 3200 and round(steps[-1] * 1.6) > 3200
    assert all(b > a for a, b in itertools.pairwise(steps))
    with pytest.raises(ValueError):
        rate_steps(100, 50, 2)


def test_a_step_is_sustained_only_with_every_answer_in_time_and_at_rate() -> None:
    assert step(100, 49.9, ok=100).sustained
    assert not step(100, 50.0, ok=100).sustained
    assert not step(100, 10.0, ok=99, errors=1).sustained
    assert not step(100, 10.0, ok=100, achieved=90).sustained
    steps = [step(100, 10, 100), step(200, 20, 200), step(400, 80, 400), step(800, 10, 800)]
    assert highest_sustained(steps) == 800
    assert highest_sustained([step(100, 80, 100)]) == 0


def test_goals_carry_their_ratio_and_verdict() -> None:
    floor = at_least("append", 40, 50, "% of raw")
    assert not floor.met and floor.ratio == pytest.approx(0.8)
    ceiling = at_most("replay p99", 20, 50, "ms")
    assert ceiling.met and ceiling.ratio == pytest.approx(0.4)


async def test_latency_counts_from_the_schedule_so_queueing_shows() -> None:
    lock = asyncio.Lock()

    async def serial() -> int:
        async with lock:
            await asyncio.sleep(0.02)
        return 201

    # 100/s for 0.3 s into a server that takes 20 ms each: the 30th waits ~0.3 s in line.
    result = await open_loop(serial, 100, 0.3)
    assert result.sent == 30 and result.ok == 30 and result.errors == 0
    assert result.p50_ms >= 20
    assert result.max_ms > 250
    assert not result.sustained


async def test_refusals_and_broken_connections_count_as_errors() -> None:
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls % 3 == 0:
            raise HttpError("closed")
        return 201 if calls % 3 == 1 else 503

    result = await open_loop(flaky, 200, 0.15)
    assert result.sent == 30 and result.ok == 10 and result.errors == 20


def test_response_heads_are_parsed() -> None:
    head = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nContent-Length: 42\r\n\r\n"
    assert parse_head(head) == (201, 42)
    with pytest.raises(HttpError):
        parse_head(b"garbage\r\n\r\n")


def test_profiles_fold_into_leaf_and_own_frames() -> None:
    lines = [
        "run (mode/worker.py:1);handle (/w/services/common/worker.py:9);"
        "seal_envelope (/w/contracts/envelope.py:3);sha256 (hashlib.py:1) 3",
        "run (mode/worker.py:1);select (/usr/lib/python3.11/selectors.py:468) 7",
        "not a sample line",
    ]
    total, leaves, own = fold(lines)
    assert total == 10
    assert leaves["sha256 (hashlib.py)"] == 3
    assert own["seal_envelope (contracts/envelope.py)"] == 3
    assert own["(outside our code)"] == 7
    assert waiting_share(leaves, total) == pytest.approx(70)
    assert own_share(own, total) == pytest.approx(30)


def results() -> dict[str, Any]:
    steps = [step(25, 10, 100).as_dict(), step(40, 80, 160).as_dict()]
    timing = {"events": 100, "seconds": 1.0, "events_per_s": 100.0}
    return {
        "plan": {"mode": "quick", "step_seconds": 4.0, "rates": [25, 40]},
        "machine": {
            "cpu": "Test CPU",
            "cores": 2,
            "memory_gb": 4.0,
            "os": "Linux",
            "load_average_at_start": [1.0, 1.0, 1.0],
            "versions": {"python": "3.11"},
        },
        "seconds": 100.0,
        "loadgen": {"raw_http11_per_s": 5000.0, "httpx_per_s": 900.0},
        "intake": {"taizhang": {"steps": steps, "sustained_per_s": 25}},
        "append": {"taizhang": timing, "raw_aiokafka": {**timing, "events_per_s": 1000.0}},
        "history": {"cases": 25, "events": 100, "load_seconds": 1.0, "services_caught_up_s": 0.5},
        "rebuild": {
            "models": {
                "intake": {
                    "topics": ["grievance.events"],
                    "records": 100,
                    "taizhang": {**timing, "seconds": 2.0},
                    "raw_aiokafka": timing,
                    "raw_kafka_python": {**timing, "seconds": 4.0},
                }
            },
            "taizhang": {**timing, "seconds": 2.0},
            "raw_aiokafka": timing,
            "raw_kafka_python": {**timing, "seconds": 4.0},
            "eventsourcing": {**timing, "records": 100},
        },
        "one_case": {
            "cases": 5,
            "cli_p50_ms": 600.0,
            "cli_p99_ms": 700.0,
            "in_process_p50_ms": 30.0,
            "in_process_p99_ms": 40.0,
            "cli_import_ms": 500.0,
            "sources": {"index": 5},
        },
        "memory": {"intake-api": {"peak_mb": 90.0, "now_mb": 80.0}},
        "signing": {
            "events": 5000,
            "hash_us": 10.0,
            "sign_us": 60.0,
            "verify_us": 120.0,
            "sign_vs_hash": 6.0,
            "verify_vs_hash": 12.0,
        },
        "goals": [
            at_least("append vs raw aiokafka", 10, 50, "% of raw").as_dict(),
            at_most("peak RSS, heaviest (intake-api)", 90, 300, "MB").as_dict(),
        ],
    }


def test_the_report_has_the_machine_every_scenario_and_the_verdicts() -> None:
    text = render(results())
    assert "Test CPU, 2 cores" in text
    assert "| append vs raw aiokafka | >= 50 % of raw | 10 % of raw | 0.20 | **missed** |" in text
    assert "| peak RSS, heaviest (intake-api) | < 300 MB | 90 MB | 0.30 | met |" in text
    assert "| taizhang | 40 | 40 | 1.0 | 80.0 | 80.0 | 160 / 160 | no |" in text
    for heading in ("## 1. Intake", "## 2. Append", "## 3. Replay", "## 4. One case", "## 5."):
        assert heading in text
    assert "| sign | 60.0 | 6.00 |" in text and "| check | 120.0 | 12.00 |" in text
    # Each read model is set against raw consumers of the same records.
    assert "| intake | 100 | 2.00 | 1.00 | 4.00 | 50 % |" in text
    assert "All 5 cases were found through the audit index." in text
    closing = text.split("## Closing note", 1)[1]
    assert "**append vs raw aiokafka**" in closing and "TAIZHANG_DECIDE_BATCH" in closing
    assert "**peak RSS" not in closing and "Met in this run: peak RSS" in closing


def test_the_closing_note_says_where_intake_time_and_cpu_went() -> None:
    data = results()
    data["goals"].append(at_least("intake sustained at p99 < 50 ms", 25, 1000, "cmd/s").as_dict())
    laps = {"batch_read_p50_ms": 0.4, "batch_store_p50_ms": 6.0, "batch_reply_p50_ms": 2.0}
    data["profile"] = {
        "rate_per_s": 38,
        "seconds": 6.0,
        "step": step(38, 30.0, 228).as_dict(),
        "path": {"reply_p50_ms": 9.5, "shown_p50_ms": 1.5, "commands_per_batch": 3.0, **laps},
        "cpu": {
            "broker": {"idle_cpu_pct": 5.0, "load_cpu_pct": 60.0, "ms_per_command": 12.0},
            "intake-api": {"idle_cpu_pct": 1.0, "load_cpu_pct": 90.0, "ms_per_command": 20.0},
            "notify-api": {"idle_cpu_pct": 1.0, "load_cpu_pct": 1.0, "ms_per_command": 0.1},
        },
        "api": {
            "samples": 10,
            "waiting_pct": 10.0,
            "own_pct": 80.0,
            "leaf": [],
            "own": [("pin_hash (services/common/receipts.py)", 70.0)],
        },
        "worker": {"samples": 10, "waiting_pct": 40.0, "own_pct": 5.0, "leaf": [], "own": []},
    }
    closing = render(data).split("## Closing note", 1)[1]
    assert "the API waited 9.5 ms (p50) from sending a command to the decider's reply" in closing
    assert "1.5 ms more for its read model" in closing and "held 3 commands" in closing
    assert "a command cost 32.1 ms of CPU across all processes" in closing
    assert "2 processes each spending 0.5 ms or more" in closing
    assert "spent 70 % of its samples hashing receipt PINs" in closing
    # 0.4 + 6.0 + 2.0 ms in the batch, the rest of the 9.5 ms to the reply between processes.
    assert "8.4 ms were the decider's batch, 1.1 ms storing the command" in closing
    assert "| intake-api | 1.0 | 90.0 | 20.00 |" in closing
    assert "waiting in" not in closing or "40 % waiting" in closing


def test_results_are_strict_json() -> None:
    assert plain({"a": [math.nan, 1.0], "b": (2, math.nan)}) == {"a": [None, 1.0], "b": [2, None]}


def test_reply_times_are_read_from_the_logged_answers_to_new_grievances() -> None:
    lines = [
        json.dumps({"event": "command.answered", "command_type": "log", "ms": 9.5}),
        json.dumps({"event": "command.answered", "command_type": "close", "ms": 99.0}),
        json.dumps({"event": "request.done", "command_type": "log", "ms": 1.0}),
        "not json and not an answer",
    ]
    assert reply_times("\n".join(lines)) == [9.5]


def test_goals_are_judged_from_every_scenario() -> None:
    data = results()
    data["intake"]["eventsourcing"] = {"steps": [], "sustained_per_s": 20}
    data["intake"]["http_ceiling"] = {"steps": [], "sustained_per_s": 100}
    data["memory"]["peer eventsourcing"] = {"peak_mb": 900.0, "now_mb": 900.0}
    verdicts = {g.name: g for g in goals(data)}
    # 25 against 20: ahead, but not the 1.5 times the goal asks for.
    ahead = verdicts["intake ahead of eventsourcing + SQLite"]
    assert not ahead.met and ahead.ratio == pytest.approx(25 / 20 / 1.5)
    assert not verdicts["intake against the HTTP ceiling"].met
    data["intake"]["http_ceiling"]["sustained_per_s"] = 50
    assert next(g for g in goals(data) if g.name == "intake against the HTTP ceiling").met
    assert verdicts["append vs raw aiokafka"].measured == "10 % of raw"
    # The same records in 1 s raw and 2 s through the projector: half the raw rate.
    assert verdicts["rebuild vs raw aiokafka, same records"].met
    assert not verdicts["one-case replay p99 (CLI)"].met
    # The peers' memory is reported beside the ledger's but not judged.
    assert verdicts["peak RSS, heaviest (intake-api)"].met


def test_the_harness_imports_nothing_from_the_tests() -> None:
    import bench

    for path in Path(bench.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "tests" or n.startswith("tests.") for n in names), path


def test_signing_and_checking_are_timed_beside_hashing_alone() -> None:
    measured = signatures_measure(50)
    assert measured["events"] == 50
    assert measured["hash_us"] > 0 and measured["sign_us"] > 0 and measured["verify_us"] > 0
    ratio = measured["sign_us"] / measured["hash_us"]
    assert abs(measured["sign_vs_hash"] - ratio) < 0.05 * ratio + 0.01


def test_cpu_per_command_takes_off_what_a_process_burns_idle() -> None:
    idle = (2.0, {"broker": 0.2, "intake-api": 0.0, "notify-worker": 0.4})
    load = (4.0, {"broker": 2.4, "intake-api": 3.0, "notify-worker": 0.6})
    table = per_command(idle, load, 100)
    # The broker burns 10 % idle: 0.4 s of its 2.4 s would have been spent anyway.
    assert table["broker"] == {"idle_cpu_pct": 10.0, "load_cpu_pct": 60.0, "ms_per_command": 20.0}
    assert table["intake-api"]["ms_per_command"] == 30.0
    # Less than idle under load is no cost, never a negative one.
    assert table["notify-worker"]["ms_per_command"] == 0.0
    assert list(table) == ["intake-api", "broker", "notify-worker"]


def test_path_times_are_read_from_the_api_and_worker_logs() -> None:
    api = "\n".join(
        json.dumps({"event": "command.answered", "command_type": "log", "ms": ms, "shown_ms": 1.0})
        for ms in (8.0, 9.0, 10.0)
    )
    worker = "\n".join(
        json.dumps(
            {
                "event": "batch.decided",
                "commands": n,
                "read_ms": 0.5,
                "store_ms": 6.0,
                "reply_ms": 2,
            }
        )
        for n in (1, 3, 5)
    )
    times = path_times(api, worker)
    assert times["reply_p50_ms"] == 9.0 and times["shown_p50_ms"] == 1.0
    assert times["batches"] == 3 and times["commands_per_batch"] == 3.0
    assert times["batch_store_p50_ms"] == 6.0 and times["batch_reply_p50_ms"] == 2.0
