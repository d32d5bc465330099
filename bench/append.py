"""Scenario 2, append: events written as the decider writes them against a raw producer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.history import EVENTS_PER_CASE, LOG_BODY, RESOLUTION, Case, grievance_cases
from bench.peers.apps import Grievance
from bench.plan import Plan, log
from bench.stack import WORKERS_WAIT_S, Stack
from contracts import catalog
from services.cli import processes
from services.common import kafka as kafka_kit
from services.common.keys import publish_key, signer_for
from services.common.partitions import Partitions
from services.common.settings import Settings
from services.common.vault import Sealer, SqliteKeyVault


def history_sealer(settings: Settings, scratch: Path) -> Sealer:
    """Return the sealer of the history's personal data, with its own key vault."""
    vault = SqliteKeyVault(scratch / "history-vault.sqlite", settings.master_key)
    return Sealer(vault, settings.master_key)


async def append_ours(settings: Settings, cases: list[Case]) -> dict[str, Any]:
    """Append the events as the decider does: a batch of commands per transaction, acks=all."""
    worker = processes.create_worker(catalog.SERVICES["intake"], settings)
    # Writers of their own: the running decider's transactional ids would fence each other.
    live = worker.partitions
    worker.partitions = Partitions(
        settings,
        writer=f"{live.writer}-bench",
        events_topic=live.events_topic,
        heads_topic=live.heads_topic,
        signer=live.signer,
    )
    commands = [batch for case in cases for batch in case.events]
    size = settings.decide_batch
    batches = [
        [env for command in commands[i : i + size] for env in command]
        for i in range(0, len(commands), size)
    ]
    # Every partition's writer claimed before the clock, as a running decider holds them.
    for partition in range(settings.partitions):
        await worker.partitions.claim(partition)
    began = time.perf_counter()
    for batch in batches:
        await worker.append(batch)
    took = time.perf_counter() - began
    await worker.partitions.close()
    await (await worker.producer()).stop()
    events = sum(len(b) for b in batches)
    return {"events": events, "seconds": round(took, 3), "events_per_s": round(events / took, 1)}


def raw_topic_spec(settings: Settings) -> kafka_kit.TopicSpec:
    """The raw producer's topic: the events topic's partitions and settings, under its own name."""
    events = settings.topic("grievance.events")
    spec = next(t for t in kafka_kit.stream_topics(settings, "grievance") if t.name == events)
    return kafka_kit.TopicSpec(settings.topic("bench.raw-append"), dict(spec.config))


async def append_raw(settings: Settings, topic: str, cases: list[Case]) -> dict[str, Any]:
    """Send the same bytes and headers with the same producer settings, every send in flight."""
    producer = kafka_kit.producer(settings, client_id="taizhang-bench-raw")
    await producer.start()
    # The same bytes the decider writes, signed before the clock starts.
    signer = signer_for(settings, "intake")
    envs = [signer.seal(env) for case in cases for batch in case.events for env in batch]
    # Warm the topic as the events topic is warm: metadata known, every partition written once.
    warm = [
        await producer.send(topic, key=b"warm", value=b"{}", partition=p)
        for p in range(settings.partitions)
    ]
    await asyncio.gather(*warm)
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
    # Signed as the decider signs, so every reader believes the history.
    signer = signer_for(settings, "intake")
    await asyncio.to_thread(publish_key, settings, signer)
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
                        value=signer.seal(env).to_bytes(),
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
            summary=LOG_BODY["summary"],
            details=logged["details"],
            channel=logged["channel"],
            anonymous=logged["anonymous"],
            complainant=logged["complainant"],
        )
        grievance.acknowledge()
        grievance.resolve("on_site", RESOLUTION)
        grievance.close()
        aggregates.append(grievance)
    es.save(*aggregates)


async def measure(settings: Settings, sample: list[Case]) -> dict[str, Any]:
    """Append the sample as the decider does, then the same bytes from a raw producer."""
    spec = raw_topic_spec(settings)
    kafka_kit.ensure_topics(settings, [spec])
    ours = await append_ours(settings, sample)
    raw = await append_raw(settings, spec.name, sample)
    log(f"  ours {ours['events_per_s']:,.0f} events/s, raw {raw['events_per_s']:,.0f}")
    return {"taizhang": ours, "raw_aiokafka": raw}


async def load_history(
    stack: Stack, plan: Plan, sealer: Sealer, sample: list[Case], es: Any
) -> dict[str, Any]:
    """Load the rest of the history on the ledger and the peer; wait for the read models."""
    total_cases = max(plan.events // EVENTS_PER_CASE, plan.append_cases)
    save_peer_history(es, sample)
    log(f"  loading the rest of {total_cases * EVENTS_PER_CASE:,} events")
    loaded = await bulk_load(
        stack.settings, sealer, plan.append_cases, total_cases - plan.append_cases, es
    )
    history: dict[str, Any] = {
        "cases": total_cases,
        "events": total_cases * EVENTS_PER_CASE,
        "load_seconds": round(loaded, 1),
    }
    caught_up = stack.wait_caught_up(timeout=3600)
    history["services_caught_up_s"] = round(caught_up, 1)
    log(f"  services caught up in {caught_up:.1f}s")
    # The reads that follow are measured on a machine the workers no longer share with it.
    answered, left = stack.wait_workers(timeout=WORKERS_WAIT_S)
    history["workers_caught_up_s"] = round(caught_up + answered, 1)
    history["workers_left"] = left
    log(f"  workers caught up {caught_up + answered:.1f}s after the last write; left {left}")
    return history
