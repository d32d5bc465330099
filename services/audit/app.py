"""Entry points of the audit service: its HTTP app and its worker (the index and checkpoints)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from services.audit import proofs_api, replay
from services.audit.api import AuditContext, router
from services.audit.index import CaseIndex, index_path
from services.audit.indexer import AuditSettings, AuditWorker
from services.audit.records import end_offsets, event_partitions
from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.app import Health, build_app
from services.common.gauges import dead_letters
from services.common.kafka import STREAMS
from services.common.privacy import privacy
from services.common.privacy import router as privacy_router
from services.common.settings import Settings

log = logs.get(__name__)


async def _indexed(ctx: AuditContext, reachable: bool) -> dict[str, Any]:
    """Count the records the index holds and those it has yet to file (None before it exists)."""
    path = index_path(ctx.settings)
    if not path.exists():
        return {"indexed": None, "index_lag": None}
    index = CaseIndex(path, readonly=True)
    try:
        count, filed = index.count(), index.offsets()
    finally:
        index.close()
    lag = None
    if reachable:
        with suppress(TimeoutError, KafkaError):
            lag = await asyncio.wait_for(asyncio.to_thread(_unfiled, ctx.settings, filed), 3.0)
    return {"indexed": count, "index_lag": lag}


def _unfiled(settings: Settings, filed: dict[tuple[str, int], int]) -> int:
    """How many records the log holds beyond what the index has filed."""
    parts = event_partitions(settings, STREAMS)
    ends = end_offsets(settings, parts)
    return sum(max(0, ends[tp] - filed.get((tp.topic, tp.partition), 0)) for tp in parts)


async def _ready(settings: Settings) -> None:
    """Ready the reads before the first auditor asks; a broker not there yet only delays it."""
    try:
        await asyncio.to_thread(replay.ready, settings)
    except Exception as exc:  # the first read then does it, and reports what stands in its way
        log.warning("audit.reads_not_ready", error=str(exc)[:300])


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the audit HTTP app."""
    settings = settings or Settings()
    # The audit API sends no commands: its registry holds no metrics of its own yet.
    registry = CollectorRegistry()

    @asynccontextmanager
    async def context() -> AsyncIterator[AuditContext]:
        producer = kafka_kit.producer(settings, client_id="taizhang-audit")
        await producer.start()
        readied = asyncio.create_task(_ready(settings))
        try:
            async with privacy(settings) as keys:
                yield AuditContext(settings=settings, producer=producer, privacy=keys)
        finally:
            readied.cancel()
            await producer.stop()

    return build_app(
        settings,
        "audit",
        context=context,
        health=Health(
            "Report whether the broker answers, how many records the index holds and how many"
            " it has yet to file (`index_lag`).",
            _indexed,
        ),
        registry=lambda _ctx: registry,
        routers=[router, proofs_api.router, privacy_router],
        gauges=lambda _ctx: dead_letters(settings),
    )


def create_worker(settings: Settings | None = None) -> AuditWorker:
    """Build the audit worker: it keeps the per-case index and signs checkpoints."""
    base = settings or Settings()
    return AuditWorker(AuditSettings(**base.model_dump()))
