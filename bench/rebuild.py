"""Scenario 3, rebuild: every read model from offset 0 against raw consumers and eventsourcing."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as AioTopicPartition
from kafka import KafkaConsumer, TopicPartition

from bench.plan import log
from contracts import catalog
from services.common import kafka as kafka_kit
from services.common.projector import Projector
from services.common.settings import Settings


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


async def rebuild_ours(
    settings: Settings, scratch: Path, name: str, model: Any, producer: Any
) -> dict[str, Any]:
    """Rebuild one service's read model from offset 0 with the services' own projector."""
    ends = end_offsets(settings, model.topics)
    projector = Projector(
        settings.model_copy(update={"var_dir": scratch, "database_url": None}),
        model,
        model.topics,
        producer,
        f"{name}-rebuild",
    )
    began = time.perf_counter()
    await projector.start()
    started = time.perf_counter()
    for topic in model.topics:
        last = [(tp.partition, end - 1) for tp, end in ends.items() if tp.topic == topic and end]
        if last and not await projector.wait_for(topic, last, timeout=3600):
            raise TimeoutError(f"the {name} read model did not reach the end of {topic}")
    took = time.perf_counter() - started
    await projector.stop()
    model.close()
    return {"start_seconds": round(started - began, 3), "seconds": round(took, 3)}


def rebuild_raw(settings: Settings, topics: list[str]) -> dict[str, Any]:
    """Read the topics to their end as the projector does, with a plain kafka-python consumer."""
    ends = end_offsets(settings, topics)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    parts = [tp for tp, end in ends.items() if end > 0]
    if not parts:
        consumer.close()
        return {"records": 0, "seconds": 0.0}
    began = time.perf_counter()
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    count = 0
    remaining = set(parts)
    while remaining:
        count += sum(len(m) for m in consumer.poll(timeout_ms=500, max_records=10_000).values())
        # Transaction markers take offsets too: a partition is read once its position is at the end.
        remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
    took = time.perf_counter() - began
    consumer.close()
    return {"records": count, "seconds": round(took, 3)}


async def rebuild_raw_aiokafka(settings: Settings, topics: list[str]) -> dict[str, Any]:
    """Read the same records with a plain aiokafka consumer, the client the projector uses."""
    ends = end_offsets(settings, topics)
    target = {AioTopicPartition(tp.topic, tp.partition): end for tp, end in ends.items() if end}
    if not target:
        return {"records": 0, "seconds": 0.0}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    began = time.perf_counter()
    consumer.assign(list(target))
    await consumer.seek_to_beginning(*target)
    count, remaining = 0, set(target)
    while remaining:
        batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
        count += sum(len(msgs) for msgs in batch.values())
        remaining = {tp for tp in remaining if await consumer.position(tp) < target[tp]}
    took = time.perf_counter() - began
    await consumer.stop()
    return {"records": count, "seconds": round(took, 3)}


def _rate(records: int, seconds: float) -> float | None:
    return round(records / seconds, 1) if records and seconds > 0 else None


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


async def measure(settings: Settings, scratch: Path, es: Any) -> dict[str, Any]:
    """Rebuild each read model, then read its topics with raw aiokafka and kafka-python.

    Each read model is set against raw consumers of exactly its own topics, read committed
    as its projector reads them, so every path reads the same records.
    """
    producer = kafka_kit.producer(settings, client_id="taizhang-bench")
    await producer.start()
    models: dict[str, Any] = {}
    try:
        for name, entry in catalog.SERVICES.items():
            module = importlib.import_module(entry.module)
            if not hasattr(module, "read_model"):
                continue
            model = module.read_model(
                settings.model_copy(update={"var_dir": scratch, "database_url": None})
            )
            topics = list(model.topics)
            paths = {
                "taizhang": await rebuild_ours(settings, scratch, name, model, producer),
                "raw_aiokafka": await rebuild_raw_aiokafka(settings, topics),
                "raw_kafka_python": rebuild_raw(settings, topics),
            }
            records = paths["raw_aiokafka"]["records"]
            for timed in paths.values():
                timed["events_per_s"] = _rate(records, timed["seconds"])
            models[name] = {"topics": topics, "records": records, **paths}
    finally:
        await producer.stop()
    totals: dict[str, Any] = {}
    records = sum(m["records"] for m in models.values())
    for reader in ("taizhang", "raw_aiokafka", "raw_kafka_python"):
        seconds = sum(m[reader]["seconds"] for m in models.values())
        totals[reader] = {
            "records": records,
            "seconds": round(seconds, 3),
            "events_per_s": _rate(records, seconds),
        }
    rebuilt = {"models": models, **totals, "eventsourcing": rebuild_eventsourcing(es)}
    log(f"  {json.dumps(totals)}")
    return rebuilt
