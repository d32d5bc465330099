"""Entry points of the audit service: its HTTP app and its worker (the index and checkpoints)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.audit.api import AuditContext, router
from services.audit.index import CaseIndex, index_path
from services.audit.indexer import AuditSettings, AuditWorker
from services.common.app import Health, build_app
from services.common.gauges import dead_letters
from services.common.settings import Settings


async def _indexed(ctx: AuditContext, _reachable: bool) -> dict[str, Any]:
    """Count the records the index holds (None before the worker made it)."""
    path = index_path(ctx.settings)
    if not path.exists():
        return {"indexed": None}
    index = CaseIndex(path, readonly=True)
    try:
        return {"indexed": index.count()}
    finally:
        index.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the audit HTTP app."""
    settings = settings or Settings()
    # The audit API sends no commands: its registry holds no metrics of its own yet.
    registry = CollectorRegistry()

    @asynccontextmanager
    async def context() -> AsyncIterator[AuditContext]:
        yield AuditContext(settings=settings)

    return build_app(
        settings,
        "audit",
        context=context,
        health=Health(
            "Report whether the broker answers and how many records the index holds.", _indexed
        ),
        registry=lambda _ctx: registry,
        routers=[router],
        gauges=lambda _ctx: dead_letters(settings),
    )


def create_worker(settings: Settings | None = None) -> AuditWorker:
    """Build the audit worker: it keeps the per-case index and signs checkpoints."""
    base = settings or Settings()
    return AuditWorker(AuditSettings(**base.model_dump()))
