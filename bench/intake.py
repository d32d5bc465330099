"""Scenario 1, intake: `POST /grievances` at rising rates against the ledger and its peers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from bench import cpu, loadgen, profile
from bench.history import LOG_BODY
from bench.plan import Plan, log
from bench.stack import Stack
from bench.stats import Step, highest_sustained, percentile

# The ledger answering once the decision is durable, before its reads show it.
DECIDED = "taizhang_decided"


def grievance_request(port: int, token: str, prefer: str | None = None) -> loadgen.Request:
    """The one request every intake target gets: a grievance with a named complainant."""
    body = json.dumps(LOG_BODY, ensure_ascii=False).encode()
    headers = {"Authorization": f"Bearer {token}"} | ({"Prefer": prefer} if prefer else {})
    return loadgen.Request("127.0.0.1", port, "/grievances", body, headers)


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
    name: str,
    port: int,
    token: str,
    plan: Plan,
    api_log: Path | None = None,
    prefer: str | None = None,
) -> tuple[list[Step], list[dict[str, Any]]]:
    """Raise the arrival rate step by step until a step is not sustained."""
    request = grievance_request(port, token, prefer)
    steps: list[Step] = []
    inside: list[dict[str, Any]] = []
    # Warm every target the same way, unrecorded: its connections and first-call paths, and
    # a broker's compiled hot paths, which a broker started moments before has yet to build.
    pool = loadgen.Pool("127.0.0.1", port, 512)
    await loadgen.open_loop(loadgen.raw_sender(pool, request), plan.rates[0], plan.warm_seconds)
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


async def measure(stack: Stack, plan: Plan, token: str) -> tuple[dict[str, float], dict[str, Any]]:
    """Check the load generator, then ramp the HTTP ceiling, eventsourcing and the ledger."""
    ceiling = stack.peer_ports["ceiling"]
    check = await calibrate(ceiling, token)
    log(f"  load generator against the ceiling: {check}")
    intake: dict[str, Any] = {}
    for name, port in (
        ("http_ceiling", ceiling),
        ("eventsourcing", stack.peer_ports["eventsourcing"]),
        ("taizhang", stack.ports["intake"]),
        (DECIDED, stack.ports["intake"]),
    ):
        ours = name in ("taizhang", DECIDED)
        api_log = stack.log_file("intake", "api") if ours else None
        prefer = "wait-for=decision" if name == DECIDED else None
        steps, inside = await step_up(name, port, token, plan, api_log, prefer)
        intake[name] = {
            "steps": [s.as_dict() for s in steps],
            "sustained_per_s": highest_sustained(steps),
        }
        if inside:
            intake[name]["inside"] = inside
    return check, intake


def path_times(api_text: str, worker_text: str) -> dict[str, Any]:
    """Return the medians of where a command's time went, from the intake API and worker logs."""
    answered = [json.loads(x) for x in api_text.splitlines() if '"command.answered"' in x]
    batches = [json.loads(x) for x in worker_text.splitlines() if '"batch.decided"' in x]
    logged = [e for e in answered if e.get("command_type") == "log"]

    def median(values: list[float]) -> float:
        return round(percentile(values, 50), 2)

    return {
        "reply_p50_ms": median([float(e["ms"]) for e in logged]),
        "shown_p50_ms": median([float(e.get("shown_ms", 0.0)) for e in logged]),
        "batches": len(batches),
        "commands_per_batch": median([float(b["commands"]) for b in batches]),
        **{
            f"batch_{lap}_p50_ms": median(
                [float(b[f"{lap}_ms"]) for b in batches if f"{lap}_ms" in b]
            )
            for lap in ("read", "store", "reply")
        },
    }


async def profile_intake(
    stack: Stack, token: str, plan: Plan, folder: Path, sustained: int
) -> dict[str, Any]:
    """Measure the CPU every process spends per command, and sample the intake processes.

    The load is the highest rate the ledger sustained, so the figures are those of
    commands answered in time; each process's idle CPU is measured first and taken off.
    """
    rate = max(plan.rates[0], sustained)
    meter = cpu.Meter(stack.pids())
    meter.start()
    await asyncio.sleep(plan.profile_seconds / 2)
    idle = meter.stop()
    spies = {}
    for part in ("api", "worker"):
        proc = stack.procs[f"intake-{part}"]
        spy = profile.record(proc.pid, plan.profile_seconds, folder / f"intake-{part}.txt")
        if spy is not None:
            spies[part] = spy
    logs = {part: stack.log_file("intake", part) for part in ("api", "worker")}
    marks = {part: log_size(path) for part, path in logs.items()}
    pool = loadgen.Pool("127.0.0.1", stack.ports["intake"], 512)
    request = grievance_request(stack.ports["intake"], token)
    meter.start()
    step = await loadgen.open_loop(
        loadgen.raw_sender(pool, request), rate, plan.profile_seconds - 1, drain_s=20
    )
    load = meter.stop()
    pool.close()
    for spy in spies.values():
        spy.wait(timeout=60)
    texts = {part: log_since(path, marks[part]) for part, path in logs.items()}
    return {
        "rate_per_s": rate,
        "seconds": plan.profile_seconds,
        "step": step.as_dict(),
        "cpu": cpu.per_command(idle, load, step.ok),
        "path": path_times(texts["api"], texts["worker"]),
        **{part: profile.summary(folder / f"intake-{part}.txt") for part in spies},
    }
