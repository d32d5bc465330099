"""Scenario 7, export: a unit's 台账 of a hundred thousand cases, streamed over HTTP.

The cases are written straight to the grievance stream's events topic, decided by the
intake service's own rules and signed as its decider signs, in a unit of their own; once
the audit's index has filed them, the unit's ledger is fetched from the audit service as a
user downloads it, and the time and the audit process's memory before and after are kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from bench.history import BEGINNING, case_id_of, command_for, sealed_steps
from bench.memory import peak_rss_mb
from bench.plan import log
from bench.stack import WORKERS_WAIT_S, Stack
from contracts.envelope import Actor, Envelope
from services.common.decider import Head, process
from services.common.keys import publish_key, signer_for
from services.common.vault import Sealer
from services.intake.service import KIND

CASES = 100_000
UNIT = "demo/co/p02"
REP = Actor(user_id="rep-p02", role="worker_rep", unit=UNIT)
# Case numbers apart from the history's own.
FIRST = 50_000_000
Steps = list[tuple[str, dict[str, Any]]]


def steps(sealer: Sealer) -> Steps:
    """Log, acknowledge, resolve on site and close: one worker's texts, sealed once for all."""
    return sealed_steps(sealer, UNIT, "13900000002")


def case_events(number: int, steps: Steps) -> list[Envelope]:
    """One closed grievance's events, as the decider decides and chains them."""
    case_id = case_id_of(FIRST + number)
    at = BEGINNING + timedelta(seconds=number)
    head, events = Head(), []
    for index, (command_type, payload) in enumerate(steps):
        moment = at + timedelta(hours=index)
        outcome = process(
            KIND, head, command_for(case_id, index, command_type, payload, moment, REP)
        )
        if not outcome.reply.ok:
            raise RuntimeError(f"{case_id} {command_type} was refused: {outcome.reply.refusal}")
        head = outcome.head.model_copy(update={"answered": {}})
        events += outcome.events
    return events


def all_events(count: int, sealer: Sealer) -> Iterator[Envelope]:
    """Every event of `count` cases of the unit, case by case."""
    decided = steps(sealer)
    for number in range(count):
        yield from case_events(number, decided)


async def fill(stack: Stack, sealer: Sealer, count: int) -> float:
    """Write the cases' events to the events topic, signed; return the seconds it took."""
    settings = stack.settings
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    topic = settings.topic("grievance.events")
    signer = signer_for(settings, "intake")
    await asyncio.to_thread(publish_key, settings, signer)
    began = time.perf_counter()
    pending: list[asyncio.Future[Any]] = []
    try:
        for env in all_events(count, sealer):
            pending.append(
                await producer.send(
                    topic,
                    key=env.case_id.encode(),
                    value=signer.seal(env).to_bytes(),
                    headers=[("event_type", env.event_type.encode())],
                )
            )
            if len(pending) >= 4000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - began


def indexed(stack: Stack, timeout: float) -> float:
    """Wait until the audit's index has filed every record of the log; return the seconds."""
    began = time.perf_counter()
    while True:
        body = httpx.get(f"{stack.url('audit')}/health", timeout=30).json()
        if body.get("index_lag") == 0:
            return time.perf_counter() - began
        if time.perf_counter() - began > timeout:
            raise TimeoutError(f"the audit index still lags {body.get('index_lag')} records")
        time.sleep(1)


def download(stack: Stack, fmt: str) -> dict[str, Any]:
    """Fetch the unit's ledger as a user does, a piece at a time; return what it took."""
    # An auditor of the unit: every row, and no one's name opened.
    token = stack.token(user="auditor-p02", role="auditor", unit=UNIT)
    headers = {"Authorization": f"Bearer {token}"}
    began = time.perf_counter()
    size = 0
    with (
        httpx.Client(base_url=stack.url("audit"), headers=headers, timeout=600) as client,
        client.stream("GET", "/audit/export", params={"unit": UNIT, "format": fmt}) as response,
    ):
        response.raise_for_status()
        rows = int(response.headers.get("X-Ledger-Rows", "0"))
        for piece in response.iter_bytes():
            size += len(piece)
    took = time.perf_counter() - began
    return {"rows": rows, "bytes": size, "seconds": round(took, 2)}


async def measure(stack: Stack, sealer: Sealer, count: int = CASES) -> dict[str, Any]:
    """Fill the unit's cases, wait for the index, then stream its ledger as csv and xlsx."""
    log(f"  writing {count:,} cases of {UNIT}")
    filled = await fill(stack, sealer, count)
    waited = await asyncio.to_thread(indexed, stack, 3600)
    answered, left = await asyncio.to_thread(stack.wait_workers, WORKERS_WAIT_S)
    audit = stack.procs[stack.part_name("audit", "api")].pid
    before = peak_rss_mb(audit)
    measured: dict[str, Any] = {
        "cases": count,
        "unit": UNIT,
        "fill_s": round(filled, 1),
        "indexed_s": round(waited, 1),
        "workers_caught_up_s": round(waited + answered, 1),
        "workers_left": left,
        "rss_before": before,
    }
    for fmt in ("csv", "xlsx"):
        measured[fmt] = await asyncio.to_thread(download, stack, fmt)
        measured[f"rss_after_{fmt}"] = peak_rss_mb(audit)
    log(f"  {measured}")
    return measured
