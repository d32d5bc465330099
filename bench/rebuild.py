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


async def rebuild_ours(settings: Settings, scratch: Path) -> dict[str, Any]:
    """Rebuild every service's read model from offset 0 with the services' own projector."""
    fresh = settings.model_copy(update={"var_dir": scratch, "database_url": None})
    producer = kafka_kit.producer(settings, client_id="taizhang-bench")
    await producer.start()
    models: dict[str, Any] = {}
    total_events, total_seconds = 0, 0.0
    for name, entry in catalog.SERVICES.items():
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


async def measure(settings: Settings, scratch: Path, es: Any) -> dict[str, Any]:
    """Rebuild with the services' projector, two raw consumers and the eventsourcing peer."""
    topics = [settings.topic(f"{s}.events") for s in catalog.STREAMS]
    rebuilt = {
        "taizhang": await rebuild_ours(settings, scratch),
        "raw_kafka_python": rebuild_raw(settings, topics),
        "raw_aiokafka": await rebuild_raw_aiokafka(settings, topics),
        "eventsourcing": rebuild_eventsourcing(es),
    }
    log(f"  {json.dumps(rebuilt)}")
    return rebuilt
