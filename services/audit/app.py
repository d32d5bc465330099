"""Entry points of the audit service: its HTTP app and its worker (the index and checkpoints)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from services.audit.api import AuditContext, Ctx, router
from services.audit.index import CaseIndex, index_path
from services.audit.indexer import AuditSettings, AuditWorker
from services.common import kafka as kafka_kit
from services.common.http import LimitsMiddleware, install_problem_handlers
from services.common.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the audit HTTP app."""
    settings = settings or Settings()
    registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ctx = AuditContext(settings=settings)
        yield

    app = FastAPI(title="Taizhang audit (监督审计)", version="1", lifespan=lifespan)
    app.add_middleware(
        LimitsMiddleware,
        max_body=settings.max_body_bytes,
        per_minute=settings.rate_limit_per_minute,
    )
    install_problem_handlers(app)

    @app.get("/health", tags=["operations"])
    async def health(ctx: Ctx) -> JSONResponse:
        """Report whether the broker answers and how many records the index holds."""
        reachable = await kafka_kit.broker_reachable(ctx.settings)
        path = index_path(ctx.settings)
        indexed = None
        if path.exists():
            index = CaseIndex(path, readonly=True)
            try:
                indexed = index.count()
            finally:
                index.close()
        body = {
            "status": "ok" if reachable else "degraded",
            "broker": reachable,
            "indexed": indexed,
        }
        return JSONResponse(body, status_code=200 if reachable else 503)

    @app.get("/metrics", tags=["operations"])
    async def metrics() -> Response:
        """Expose Prometheus metrics."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
    return app


def create_worker(settings: Settings | None = None) -> AuditWorker:
    """Build the audit worker: it keeps the per-case index and signs checkpoints."""
    base = settings or Settings()
    return AuditWorker(AuditSettings(**base.model_dump()))
