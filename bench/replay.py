"""Scenario 4, one case among N: its history and its state at a moment, and verifying the log.

Each case is read three ways: through the audit service's HTTP API (as it stands, and as it
stood at a moment), through `taizhang audit replay` as a user runs it (a new process each
time), and by the replay function inside this process. Then `taizhang audit verify --all`
is set against a raw kafka-python consumer reading the same topics to their ends.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from typing import Any

import httpx
from kafka import KafkaConsumer, TopicPartition

from bench.history import EVENTS_PER_CASE, case_id_of
from bench.plan import log
from bench.stack import Stack
from bench.stats import percentile
from services.audit import records
from services.audit import replay as audit_replay
from services.audit.replay import replay_case
from services.common.kafka import STREAMS
from services.common.settings import ROOT

# What a replay needs before it reads the log: the command line's start-up.
STARTUP = "from services.cli.main import assemble; assemble(['audit', 'replay'])"


def _timed(values: list[float], began: float) -> None:
    values.append((time.perf_counter() - began) * 1000)


def _spread(name: str, values: list[float]) -> dict[str, float]:
    return {
        f"{name}_p50_ms": round(percentile(values, 50), 1),
        f"{name}_p99_ms": round(percentile(values, 99), 1),
    }


def _http(stack: Stack, case_ids: list[str]) -> dict[str, list[float]]:
    """Time each case's history, then its state at the moment of its second event, over HTTP."""
    now_ms: list[float] = []
    then_ms: list[float] = []
    token = stack.token(user="aud-bench", role="auditor", unit="demo")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.url("audit"), headers=headers, timeout=60) as client:
        for case_id in case_ids:
            began = time.perf_counter()
            answer = client.get(f"/audit/cases/{case_id}")
            _timed(now_ms, began)
            view = answer.json()
            if answer.status_code != 200 or view["state"]["status"] != "closed":
                raise RuntimeError(f"GET /audit/cases/{case_id}: {answer.text[-500:]}")
            at = view["timeline"][1]["recorded_at"]
            began = time.perf_counter()
            answer = client.get(f"/audit/cases/{case_id}", params={"at": at})
            _timed(then_ms, began)
            if answer.status_code != 200 or answer.json()["version"] != 2:
                raise RuntimeError(f"GET /audit/cases/{case_id}?at={at}: {answer.text[-500:]}")
    return {"http": now_ms, "http_at": then_ms}


def one_case(stack: Stack, case_ids: list[str], replayed: int) -> dict[str, Any]:
    """Time the reads of random cases over HTTP; the first `replayed` also by command and here."""
    timed = _http(stack, case_ids)
    case_ids = case_ids[:replayed]
    cli_ms: list[float] = []
    inproc_ms: list[float] = []
    # How the command found each case's records: through the audit index or by a scan.
    sources: dict[str, int] = {}
    for case_id in case_ids:
        source = audit_replay.find(stack.settings, case_id).source
        sources[source] = sources.get(source, 0) + 1
        began = time.perf_counter()
        done = stack.cli("audit", "replay", case_id, "--format", "json")
        _timed(cli_ms, began)
        if done.returncode != 0 or json.loads(done.stdout)["state"]["status"] != "closed":
            raise RuntimeError(f"audit replay {case_id} failed: {done.stderr[-500:]}")
        began = time.perf_counter()
        view = replay_case(stack.settings, case_id=case_id)
        _timed(inproc_ms, began)
        if view["version"] != EVENTS_PER_CASE or view["findings"]:
            raise RuntimeError(f"{case_id} replayed to {view['version']}: {view['findings']}")
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", STARTUP], cwd=ROOT, check=True)
    startup_ms = (time.perf_counter() - began) * 1000
    return {
        "http_cases": len(timed["http"]),
        "cases": len(case_ids),
        "sources": sources,
        **_spread("http", timed["http"]),
        **_spread("http_at", timed["http_at"]),
        **_spread("cli", cli_ms),
        **_spread("in_process", inproc_ms),
        "cli_import_ms": round(startup_ms, 1),
    }


def _raw_read(stack: Stack, parts: list[TopicPartition], total: int) -> float:
    """Seconds a plain kafka-python consumer takes to read the partitions to their ends."""
    consumer = KafkaConsumer(
        bootstrap_servers=stack.settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    began = time.perf_counter()
    try:
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        seen = 0
        while seen < total:
            batch = consumer.poll(timeout_ms=1000, max_records=5000)
            if not batch:
                break
            seen += sum(len(msgs) for msgs in batch.values())
    finally:
        consumer.close()
    return time.perf_counter() - began


def verify_all(stack: Stack) -> dict[str, Any]:
    """Time `taizhang audit verify --all` and a raw consumer over the same events topics."""
    parts = records.event_partitions(stack.settings, STREAMS)
    total = sum(records.end_offsets(stack.settings, parts).values())
    raw_s = _raw_read(stack, parts, total)
    began = time.perf_counter()
    done = stack.cli("audit", "verify", "--all")
    verify_s = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"audit verify --all found something: {done.stdout[-800:]}")
    return {
        "records": total,
        "verify_s": round(verify_s, 2),
        "verify_per_s": round(total / verify_s),
        "raw_kafka_python_s": round(raw_s, 2),
        "raw_kafka_python_per_s": round(total / raw_s),
    }


def indexed(stack: Stack, timeout: float) -> float:
    """Wait until the audit index has filed the whole log; return the seconds waited."""
    began = time.monotonic()
    while True:
        health = httpx.get(f"{stack.url('audit')}/health", timeout=10).json()
        if health.get("index_lag") == 0:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"the audit index still lags {health.get('index_lag')} records")
        time.sleep(1)


def measure(stack: Stack, total_cases: int, picks: int, replayed: int) -> dict[str, Any]:
    """Read `picks` cases drawn (with a fixed seed) from the history; replay the first few."""
    log(f"  the audit index caught up after {indexed(stack, 3600):.0f}s more")
    rng = random.Random(8)
    case_ids = [case_id_of(n) for n in rng.sample(range(total_cases), min(picks, total_cases))]
    timed = one_case(stack, case_ids, replayed)
    log(f"  {timed}")
    return timed
