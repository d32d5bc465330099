"""`make bench`: start the broker and the services, run every scenario, write the results."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioTopicPartition
from kafka import KafkaConsumer, TopicPartition

from bench import loadgen, profile
from bench.history import EVENTS_PER_CASE, LOG_BODY, Case, case_id_of, grievance_cases
from bench.peers.apps import Grievance, ledger
from bench.report import plain, render
from bench.stats import Goal, Step, at_least, at_most, highest_sustained, percentile, rate_steps
from services.audit import records as audit
from services.cli import processes
from services.cli.broker import LocalBroker
from services.common import kafka as kafka_kit
from services.common.projector import Projector
from services.common.settings import ROOT, Settings
from services.common.vault import Sealer, SqliteKeyVault
from services.intake.service import KIND
from tests.integration.conftest import Stack, free_port, warm_up

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Plan:
    """How big each scenario is in this mode."""

    mode: str
    events: int
    step_seconds: float
    rates: list[int]
    append_cases: int
    replay_cases: int
    profile_seconds: float


QUICK = Plan("quick", 20_000, 4.0, rate_steps(25, 3200, 1.6), 1_000, 20, 6.0)
FULL = Plan("full", 1_000_000, 15.0, rate_steps(25, 6400, 1.4), 10_000, 20, 15.0)


def log(message: str) -> None:
    """Tell the person running the benchmark what is happening."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the machine --------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Describe the CPU, the cores, the memory and the software versions."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kb = int(info.readline().split()[1])
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    jars = sorted((ROOT / "var" / "kafka" / "libs").glob("kafka_2.13-*.jar"))
    packages = [
        "fastapi",
        "uvicorn",
        "pydantic",
        "faust-streaming",
        "aiokafka",
        "kafka-python",
        "httpx",
        "eventsourcing",
        "py-spy",
    ]
    versions: dict[str, str] = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    versions["kafka broker"] = jars[0].stem.split("-", 1)[1] if jars else "unknown"
    versions["java"] = (java.stderr.splitlines() or ["unknown"])[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "load_average_at_start": os.getloadavg(),
        "versions": versions,
    }


# --- processes ----------------------------------------------------------------


@contextmanager
def broker(home: Path) -> Iterator[str]:
    """Start the project's own broker on free ports; stop it afterwards."""
    node = LocalBroker(
        home=home / "kafka",
        libs=ROOT / "var" / "kafka" / "libs",
        port=free_port(),
        controller_port=free_port(),
    )
    took = node.start()
    log(f"broker ready in {took:.1f}s on {node.bootstrap}")
    try:
        yield node.bootstrap
    finally:
        node.stop()


def spawn_peer(stack: Stack, name: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start one peer endpoint in its own process, like a service's API."""
    port = free_port()
    var = stack.var / f"peer-{name}"
    var.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.peers.apps", name, str(port)],
        stdout=(var / "peer.log").open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **stack.env, "TAIZHANG_VAR_DIR": str(var)},
        cwd=ROOT,
    )
    processes.wait_healthy(f"http://127.0.0.1:{port}", 60, proc)
    return proc, port


def peak_rss_mb(pid: int) -> dict[str, float]:
    """Return a process's peak and current resident memory, in MB."""
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0]) / 1024
    return {"peak_mb": round(values["VmHWM"], 1), "now_mb": round(values["VmRSS"], 1)}


def wait_caught_up(stack: Stack, timeout: float) -> float:
    """Wait until every service's read model has applied everything; return the seconds."""
    began = time.monotonic()
    for service in stack.ports:
        while True:
            body = httpx.get(f"{stack.url(service)}/health", timeout=10).json()
            # Services without a read model (the portal, the audit index) report no lag.
            if body.get("lag", 0) == 0:
                break
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"{service} still lags {body.get('lag')} records")
            time.sleep(0.5)
    return time.monotonic() - began


# --- scenario 1: intake -------------------------------------------------------


def grievance_request(port: int, token: str) -> loadgen.Request:
    """The one request every intake target gets: a grievance with a named complainant."""
    body = json.dumps(LOG_BODY, ensure_ascii=False).encode()
    return loadgen.Request(
        "127.0.0.1", port, "/grievances", body, {"Authorization": f"Bearer {token}"}
    )


async def calibrate(port: int, token: str) -> dict[str, float]:
    """Compare the raw client with httpx against the lightest target: is the client the limit?"""
    request = grievance_request(port, token)
    pool = loadgen.Pool("127.0.0.1", port, 32)
    raw = await loadgen.closed_loop_rate(loadgen.raw_sender(pool, request), 32, 3.0)
    pool.close()
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
    ) as client:
        via_httpx = await loadgen.closed_loop_rate(loadgen.httpx_sender(client, request), 32, 3.0)
    return {"raw_http11_per_s": round(raw, 1), "httpx_per_s": round(via_httpx, 1)}


def reply_times(log_text: str) -> list[float]:
    """Return the command-to-reply times (ms) the intake API logged for new grievances."""
    times = []
    for line in log_text.splitlines():
        if '"command.answered"' not in line:
            continue
        entry = json.loads(line)
        if entry.get("command_type") == "log":
            times.append(float(entry["ms"]))
    return times


def log_size(path: Path) -> int:
    """Return how long a log file is now."""
    return path.stat().st_size


def log_since(path: Path, mark: int) -> str:
    """Return what a log file gained after `mark`."""
    with path.open("rb") as f:
        f.seek(mark)
        return f.read().decode(errors="replace")


async def step_up(
    name: str, port: int, token: str, plan: Plan, api_log: Path | None = None
) -> tuple[list[Step], list[dict[str, Any]]]:
    """Raise the arrival rate step by step until a step is not sustained."""
    request = grievance_request(port, token)
    steps: list[Step] = []
    inside: list[dict[str, Any]] = []
    # Warm every target the same way (connections, first-call paths), unrecorded.
    pool = loadgen.Pool("127.0.0.1", port, 512)
    await loadgen.open_loop(loadgen.raw_sender(pool, request), plan.rates[0], 2.0)
    pool.close()
    await asyncio.sleep(1.0)
    for rate in plan.rates:
        mark = log_size(api_log) if api_log else 0
        pool = loadgen.Pool("127.0.0.1", port, 512)
        step = await loadgen.open_loop(
            loadgen.raw_sender(pool, request), rate, plan.step_seconds, drain_s=20
        )
        pool.close()
        steps.append(step)
        if api_log:
            replies = reply_times(log_since(api_log, mark))
            inside.append(
                {
                    "target_rate": rate,
                    "reply_p50_ms": round(percentile(replies, 50), 1),
                    "reply_p99_ms": round(percentile(replies, 99), 1),
                }
            )
        log(
            f"  {name:>13} {rate:>5}/s: p50 {step.p50_ms:7.1f} ms  p99 {step.p99_ms:7.1f} ms"
            f"  p99.9 {step.p999_ms:7.1f} ms  ok {step.ok}/{step.sent}"
            f"  {'sustained' if step.sustained else 'NOT sustained'}"
        )
        # One hiccup of a shared machine should not end the ramp: stop after two misses in a row.
        if len(steps) >= 2 and not steps[-1].sustained and not steps[-2].sustained:
            break
        await asyncio.sleep(1.0)
    return steps, inside


# --- scenario 2: append -------------------------------------------------------


async def append_ours(settings: Settings, cases: list[Case]) -> dict[str, Any]:
    """Append the events as the decider does: a batch of commands per wait, acks=all."""
    worker = importlib.import_module("services.intake.app").create_worker(settings)
    commands = [batch for case in cases for batch in case.events]
    size = settings.decide_batch
    batches = [
        [env for command in commands[i : i + size] for env in command]
        for i in range(0, len(commands), size)
    ]
    began = time.perf_counter()
    for batch in batches:
        await worker.append(batch)
    took = time.perf_counter() - began
    await (await worker.producer()).stop()
    events = sum(len(b) for b in batches)
    return {"events": events, "seconds": round(took, 3), "events_per_s": round(events / took, 1)}


async def append_raw(settings: Settings, topic: str, cases: list[Case]) -> dict[str, Any]:
    """Send the same bytes with the same acks from a plain aiokafka producer, pipelined."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=1,
        request_timeout_ms=15_000,
    )
    await producer.start()
    envs = [env for case in cases for batch in case.events for env in batch]
    began = time.perf_counter()
    futures = [
        await producer.send(
            topic,
            key=env.case_id.encode(),
            value=env.to_bytes(),
            headers=[("event_type", env.event_type.encode())],
        )
        for env in envs
    ]
    for future in futures:
        await future
    took = time.perf_counter() - began
    await producer.stop()
    return {
        "events": len(envs),
        "seconds": round(took, 3),
        "events_per_s": round(len(envs) / took, 1),
    }


async def bulk_load(settings: Settings, sealer: Sealer, first: int, count: int, es: Any) -> float:
    """Write the rest of the history (raw producer) and the same history into eventsourcing."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    topic = settings.topic("grievance.events")
    began = time.perf_counter()
    pending: list[asyncio.Future[Any]] = []
    chunk: list[Case] = []
    for case in grievance_cases(count, sealer, first):
        for batch in case.events:
            for env in batch:
                pending.append(
                    await producer.send(
                        topic,
                        key=env.case_id.encode(),
                        value=env.to_bytes(),
                        headers=[("event_type", env.event_type.encode())],
                    )
                )
        chunk.append(case)
        if len(chunk) >= 250:
            save_peer_history(es, chunk)
            chunk = []
            for future in pending:
                await future
            pending = []
    save_peer_history(es, chunk)
    for future in pending:
        await future
    await producer.stop()
    return time.perf_counter() - began


def save_peer_history(es: Any, cases: list[Case]) -> None:
    """Store the same lifecycle of the same cases in the eventsourcing peer."""
    if not cases:
        return
    aggregates = []
    for case in cases:
        logged = case.logged
        grievance = Grievance(
            case_id=case.case_id,
            unit=logged["unit"],
            category=logged["category"],
            summary=logged["summary"],
            details=logged["details"],
            channel=logged["channel"],
            anonymous=logged["anonymous"],
            complainant=logged["complainant"],
        )
        grievance.acknowledge()
        grievance.resolve("on_site", "项目部与食堂承包方协商，每周增加两次面食和时令蔬菜。")
        grievance.close()
        aggregates.append(grievance)
    es.save(*aggregates)


# --- scenario 3: rebuild ------------------------------------------------------


def end_offsets(settings: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    """Return the end offset of every partition of the topics."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        parts = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        ends: dict[TopicPartition, int] = consumer.end_offsets(parts)
        return ends
    finally:
        consumer.close()


async def rebuild_ours(settings: Settings, scratch: Path) -> dict[str, Any]:
    """Rebuild every service's read model from offset 0 with the services' own projector."""
    fresh = settings.model_copy(update={"var_dir": scratch})
    producer = kafka_kit.producer(settings, client_id="taizhang-bench")
    await producer.start()
    models: dict[str, Any] = {}
    total_events, total_seconds = 0, 0.0
    for name, entry in processes.SERVICES.items():
        module = importlib.import_module(entry.module)
        if not hasattr(module, "read_model"):
            continue
        model = module.read_model(fresh)
        ends = end_offsets(settings, model.topics)
        records = sum(ends.values())
        projector = Projector(fresh, model, model.topics, producer, f"{name}-rebuild")
        began = time.perf_counter()
        await projector.start()
        started = time.perf_counter()
        for topic in model.topics:
            last = [
                (tp.partition, end - 1) for tp, end in ends.items() if tp.topic == topic and end
            ]
            if last and not await projector.wait_for(topic, last, timeout=3600):
                raise TimeoutError(f"the {name} read model did not reach the end of {topic}")
        took = time.perf_counter() - started
        await projector.stop()
        model.close()
        models[name] = {
            "records": records,
            "start_seconds": round(started - began, 3),
            "seconds": round(took, 3),
            "events_per_s": round(records / took, 1) if records else None,
        }
        total_events += records
        total_seconds += took
    await producer.stop()
    return {
        "models": models,
        "records": total_events,
        "seconds": round(total_seconds, 3),
        "events_per_s": round(total_events / total_seconds, 1),
    }


def rebuild_raw(settings: Settings, topics: list[str]) -> dict[str, Any]:
    """Read the same topics to their end with a plain kafka-python consumer: the ceiling."""
    ends = end_offsets(settings, topics)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
    )
    parts = [tp for tp, end in ends.items() if end > 0]
    began = time.perf_counter()
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    count, nbytes = 0, 0
    remaining = set(parts)
    while remaining:
        for tp, msgs in consumer.poll(timeout_ms=500, max_records=10_000).items():
            count += len(msgs)
            nbytes += sum(len(m.value or b"") for m in msgs)
            if consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
    took = time.perf_counter() - began
    consumer.close()
    return {
        "records": count,
        "mb": round(nbytes / 1e6, 1),
        "seconds": round(took, 3),
        "events_per_s": round(count / took, 1),
    }


async def rebuild_raw_aiokafka(settings: Settings, topics: list[str]) -> dict[str, Any]:
    """Read the same topics with a plain aiokafka consumer, the client the projector uses."""
    ends = end_offsets(settings, topics)
    parts = [AioTopicPartition(tp.topic, tp.partition) for tp, end in ends.items() if end > 0]
    target = {AioTopicPartition(tp.topic, tp.partition): end for tp, end in ends.items() if end}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    began = time.perf_counter()
    consumer.assign(parts)
    await consumer.seek_to_beginning(*parts)
    count, remaining = 0, set(parts)
    while remaining:
        batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
        for tp, msgs in batch.items():
            count += len(msgs)
            if msgs and msgs[-1].offset + 1 >= target[tp]:
                remaining.discard(tp)
    took = time.perf_counter() - began
    await consumer.stop()
    return {"records": count, "seconds": round(took, 3), "events_per_s": round(count / took, 1)}


def rebuild_eventsourcing(es: Any) -> dict[str, Any]:
    """Replay the eventsourcing notification log into aggregates held in memory."""
    began = time.perf_counter()
    aggregates: dict[Any, Any] = {}
    count, start = 0, 1
    while True:
        section = es.recorder.select_notifications(start=start, limit=1000)
        if not section:
            break
        for notification in section:
            domain_event = es.mapper.to_domain_event(notification)
            aggregates[domain_event.originator_id] = domain_event.mutate(
                aggregates.get(domain_event.originator_id)
            )
        count += len(section)
        start = section[-1].id + 1
    took = time.perf_counter() - began
    return {
        "records": count,
        "aggregates": len(aggregates),
        "seconds": round(took, 3),
        "events_per_s": round(count / took, 1),
    }


# --- scenario 4: one case among N ---------------------------------------------


def one_case(stack: Stack, case_ids: list[str]) -> dict[str, Any]:
    """Time `taizhang audit replay` for random cases, and the same reading done in-process."""
    cli_ms, inproc_ms = [], []
    for case_id in case_ids:
        began = time.perf_counter()
        done = stack.cli("audit", "replay", case_id, "--format", "json")
        cli_ms.append((time.perf_counter() - began) * 1000)
        if done.returncode != 0 or json.loads(done.stdout)["state"]["status"] != "closed":
            raise RuntimeError(f"audit replay {case_id} failed: {done.stderr[-500:]}")
        began = time.perf_counter()
        events = audit.envelopes(audit.case_records(stack.settings, case_id))
        state = KIND.replay(events)
        inproc_ms.append((time.perf_counter() - began) * 1000)
        if state is None or len(events) != EVENTS_PER_CASE:
            raise RuntimeError(f"{case_id} replayed to {len(events)} events")
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import services.cli.main"], cwd=ROOT, check=True)
    startup_ms = (time.perf_counter() - began) * 1000
    return {
        "cases": len(case_ids),
        "audit_service": "audit" in processes.SERVICES,
        "cli_p50_ms": round(percentile(cli_ms, 50), 1),
        "cli_p99_ms": round(percentile(cli_ms, 99), 1),
        "in_process_p50_ms": round(percentile(inproc_ms, 50), 1),
        "in_process_p99_ms": round(percentile(inproc_ms, 99), 1),
        "cli_import_ms": round(startup_ms, 1),
    }


# --- the run ------------------------------------------------------------------


async def run(plan: Plan) -> dict[str, Any]:
    """Run every scenario and return what was measured."""
    began = time.monotonic()
    results: dict[str, Any] = {"plan": plan.__dict__, "machine": machine()}
    scratch = Path(tempfile.mkdtemp(prefix="taizhang-bench-"))
    profiles = HERE / "out" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    peers: list[subprocess.Popen[bytes]] = []
    try:
        with broker(scratch) as bootstrap:
            stack = Stack(bootstrap, scratch, "stack")
            stack.env["TAIZHANG_RATE_LIMIT_PER_MINUTE"] = str(10**9)
            for service in processes.SERVICES:
                stack.start(service)
            warm_up(stack)
            try:
                ceiling, ceiling_port = spawn_peer(stack, "ceiling")
                es_peer, es_port = spawn_peer(stack, "eventsourcing")
                peers += [ceiling, es_peer]
                token = stack.token()
                log("services and peers are up; scenario 1: intake")
                results["loadgen"] = await calibrate(ceiling_port, token)
                log(f"  load generator against the ceiling: {results['loadgen']}")
                intake: dict[str, Any] = {}
                for name, port in (
                    ("http_ceiling", ceiling_port),
                    ("eventsourcing", es_port),
                    ("taizhang", stack.ports["intake"]),
                ):
                    api_log = stack.var / "intake-api.log" if name == "taizhang" else None
                    steps, inside = await step_up(name, port, token, plan, api_log)
                    intake[name] = {
                        "steps": [s.as_dict() for s in steps],
                        "sustained_per_s": highest_sustained(steps),
                    }
                    if inside:
                        intake[name]["inside"] = inside
                results["intake"] = intake

                log("scenario 2: append")
                vault = SqliteKeyVault(scratch / "history-vault.sqlite", stack.settings.master_key)
                sealer = Sealer(vault, stack.settings.master_key)
                sample = list(grievance_cases(plan.append_cases, sealer))
                raw_topic = stack.settings.topic("bench.raw-append")
                kafka_kit.ensure_topics(
                    stack.settings, [kafka_kit.TopicSpec(raw_topic, {"retention.ms": "-1"})]
                )
                ours = await append_ours(stack.settings, sample)
                raw = await append_raw(stack.settings, raw_topic, sample)
                results["append"] = {"taizhang": ours, "raw_aiokafka": raw}
                log(f"  ours {ours['events_per_s']:,.0f} events/s, raw {raw['events_per_s']:,.0f}")

                total_cases = max(plan.events // EVENTS_PER_CASE, plan.append_cases)
                es = ledger(scratch / "history-eventsourcing.sqlite")
                save_peer_history(es, sample)
                log(f"  loading the rest of {total_cases * EVENTS_PER_CASE:,} events")
                loaded = await bulk_load(
                    stack.settings, sealer, plan.append_cases, total_cases - plan.append_cases, es
                )
                results["history"] = {
                    "cases": total_cases,
                    "events": total_cases * EVENTS_PER_CASE,
                    "load_seconds": round(loaded, 1),
                }
                caught_up = wait_caught_up(stack, timeout=3600)
                results["history"]["services_caught_up_s"] = round(caught_up, 1)
                log(f"  services caught up in {caught_up:.1f}s")

                log("scenario 3: rebuild")
                topics = [stack.settings.topic(f"{s}.events") for s in kafka_kit.STREAMS]
                results["rebuild"] = {
                    "taizhang": await rebuild_ours(stack.settings, scratch / "rebuild"),
                    "raw_kafka_python": rebuild_raw(stack.settings, topics),
                    "raw_aiokafka": await rebuild_raw_aiokafka(stack.settings, topics),
                    "eventsourcing": rebuild_eventsourcing(es),
                }
                es.close()
                log(f"  {json.dumps(results['rebuild'])}")

                log("scenario 4: one case among N")
                rng = random.Random(8)
                picks = [case_id_of(n) for n in rng.sample(range(total_cases), plan.replay_cases)]
                results["one_case"] = one_case(stack, picks)
                log(f"  {results['one_case']}")

                log("scenario 5: memory")
                # The portal's worker runs nothing long: it has exited and holds no memory.
                memory = {
                    name: peak_rss_mb(p.pid) for name, p in stack.procs.items() if p.poll() is None
                }
                memory["peer http_ceiling"] = peak_rss_mb(ceiling.pid)
                memory["peer eventsourcing"] = peak_rss_mb(es_peer.pid)
                results["memory"] = memory
                log(f"  {memory}")

                results["goals"] = [g.as_dict() for g in goals(results)]
                if not all(g["met"] for g in results["goals"]):
                    results["profile"] = await profile_intake(
                        stack, token, plan, profiles, intake["taizhang"]["sustained_per_s"]
                    )
            finally:
                for proc in peers:
                    proc.terminate()
                    proc.wait(timeout=20)
                stack.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results["seconds"] = round(time.monotonic() - began, 1)
    return results


async def profile_intake(
    stack: Stack, token: str, plan: Plan, folder: Path, sustained: int
) -> dict[str, Any]:
    """Sample the intake processes with py-spy under load just above what they sustain."""
    rate = max(25, round(1.5 * sustained))
    spies = {}
    for part in ("api", "worker"):
        proc = stack.procs[f"intake-{part}"]
        spy = profile.record(proc.pid, plan.profile_seconds, folder / f"intake-{part}.txt")
        if spy is not None:
            spies[part] = spy
    if not spies:
        return {"note": "py-spy is not installed; pip install -e '.[bench]'"}
    await asyncio.sleep(0.5)
    pool = loadgen.Pool("127.0.0.1", stack.ports["intake"], 512)
    request = grievance_request(stack.ports["intake"], token)
    await loadgen.open_loop(
        loadgen.raw_sender(pool, request), rate, plan.profile_seconds - 1, drain_s=20
    )
    pool.close()
    for spy in spies.values():
        spy.wait(timeout=60)
    return {
        "rate_per_s": rate,
        "seconds": plan.profile_seconds,
        **{part: profile.summary(folder / f"intake-{part}.txt") for part in spies},
    }


def goals(results: dict[str, Any]) -> list[Goal]:
    """Judge the issue's goals against what was measured."""
    intake = results["intake"]
    ours = intake["taizhang"]["sustained_per_s"]
    peer = intake["eventsourcing"]["sustained_per_s"]
    found = [
        at_least("intake sustained at p99 < 50 ms", ours, 1000, "commands/s"),
        Goal(
            name="intake ahead of eventsourcing + SQLite",
            target=f"> {peer:,} commands/s",
            measured=f"{ours:,} commands/s",
            met=ours > peer,
            ratio=ours / peer if peer else None,
        ),
        at_least(
            "append vs raw aiokafka",
            results["append"]["taizhang"]["events_per_s"]
            / results["append"]["raw_aiokafka"]["events_per_s"]
            * 100,
            50,
            "% of raw",
        ),
        at_least(
            "rebuild vs raw consumer",
            results["rebuild"]["taizhang"]["events_per_s"]
            / results["rebuild"]["raw_kafka_python"]["events_per_s"]
            * 100,
            50,
            "% of raw",
        ),
        at_most("one-case replay p99 (CLI)", results["one_case"]["cli_p99_ms"], 50, "ms"),
    ]
    services = {k: v for k, v in results["memory"].items() if not k.startswith("peer")}
    heaviest = max(services, key=lambda k: services[k]["peak_mb"])
    found.append(
        at_most(f"peak RSS, heaviest ({heaviest})", services[heaviest]["peak_mb"], 300, "MB")
    )
    return found


def main() -> None:
    """Parse the mode and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="1M events, longer steps")
    parser.add_argument("--events", type=int, help="override the history size")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    parser.add_argument("--render", type=Path, help="only rewrite the report from a results file")
    args = parser.parse_args()
    if args.render:
        args.out.write_text(render(json.loads(args.render.read_text())))
        return
    plan = FULL if args.full else QUICK
    if args.events:
        plan = Plan(**{**plan.__dict__, "events": args.events})
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results = runner.run(run(plan))
    args.json.write_text(json.dumps(plain(results), indent=2, ensure_ascii=False) + "\n")
    args.out.write_text(render(results))
    log(f"done in {results['seconds']:.0f}s: {args.out} and {args.json}")


if __name__ == "__main__":
    main()
