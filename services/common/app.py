"""The one way every service assembles its HTTP app: lifespan, limits, errors, health, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from contracts.catalog import CASE_TYPES, SERVICES
from services.common import access, heap
from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.bearer import CurrentClaims
from services.common.bus import CommandBus
from services.common.context import Metrics, ServiceContext
from services.common.decider import CaseKind
from services.common.gauges import Gauge, isolation, render
from services.common.limits import LimitsMiddleware
from services.common.presence import WorkerWatch
from services.common.privacy import privacy
from services.common.problems import LastResort, Problem, install_problem_handlers
from services.common.projector import Projector
from services.common.readmodel import ReadModel
from services.common.revocations import Revocations
from services.common.settings import Settings
from services.common.units import load_units

log = logs.get(__name__)
C = TypeVar("C")
METRICS_ROLES = ("auditor", "admin")
WORKER_HEALTH = (
    "`worker` says whether the service's worker holds its consumer group, and `worker_gone_s`"
    " how long it has not; the answer is 503 while the broker does not answer, or once the"
    " worker has been gone longer than the grace (TAIZHANG_WORKER_GRACE_S)."
)


@dataclass(frozen=True)
class Health(Generic[C]):
    """What a service's /health says beyond whether the broker answers."""

    description: str
    # The fields after `status` and `broker`, given the context and whether the broker answered.
    detail: Callable[[C, bool], Awaitable[dict[str, Any]]]


def build_app(
    settings: Settings,
    service: str,
    *,
    context: Callable[[], AbstractAsyncContextManager[C]],
    health: Health[C],
    registry: Callable[[C], CollectorRegistry],
    routers: Sequence[APIRouter],
    gauges: Callable[[C], Awaitable[list[Gauge]]] | None = None,
) -> FastAPI:
    """Assemble a service's HTTP app around the context its routes read, open for its life.

    `gauges` are read afresh on each /metrics request, beside the registry's own metrics.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        revocations = Revocations(settings)
        await revocations.start()
        app.state.revocations = revocations
        try:
            async with context() as ctx:
                app.state.ctx = ctx
                heap.settle(f"{service}-api")
                yield
        finally:
            await revocations.stop()

    app = FastAPI(title=SERVICES[service].title, version="1", lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(
        LimitsMiddleware,
        settings=settings,
        max_body=settings.max_body_bytes,
        per_minute=settings.rate_limit_per_minute,
    )
    # Added last, so outermost: it answers for whatever fails beneath it, the limits included.
    app.add_middleware(LastResort)
    install_problem_handlers(app)

    watch = WorkerWatch(settings, service) if SERVICES[service].has_worker else None

    async def report(request: Request) -> JSONResponse:
        reachable = await kafka_kit.broker_reachable(settings)
        detail = await health.detail(request.app.state.ctx, reachable)
        worker = await watch.report(reachable) if watch else {"worker": None}
        healthy = reachable and not (watch and watch.overdue())
        body = {"status": "ok" if healthy else "degraded", "broker": reachable, **detail, **worker}
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def metrics(request: Request, claims: CurrentClaims) -> Response:
        """Expose Prometheus metrics, to auditors and admins."""
        if claims.actor.role not in METRICS_ROLES:
            raise Problem(403, "Forbidden", "metrics are for auditors and admins")
        exposed = generate_latest(registry(request.app.state.ctx))
        if gauges is not None:
            exposed += render(await gauges(request.app.state.ctx))
        return Response(exposed, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(
        "/health",
        report,
        methods=["GET"],
        tags=["operations"],
        name="health",
        description=f"{health.description} {WORKER_HEALTH}",
    )
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["operations"])
    for router in (*routers, access.router):
        app.include_router(router)
    return app


@asynccontextmanager
async def case_context(
    settings: Settings,
    kind: CaseKind[Any],
    model_factory: Callable[[Settings], ReadModel[Any]],
) -> AsyncIterator[ServiceContext]:
    """Connect a case service to the broker and its read model, and let go of both at the end."""
    resource = CASE_TYPES[kind.prefix].resource
    producer = kafka_kit.producer(settings, client_id=f"taizhang-{resource}")
    await producer.start()
    model = model_factory(settings)
    # The service's own events are what its callers wait to see; other services' may gather.
    projector = Projector(
        settings, model, model.topics, producer, f"{resource}-read-model", waited_on={model.topic}
    )
    bus = CommandBus(settings, kind.stream, producer)
    async with privacy(settings) as keys:
        ctx = ServiceContext(
            settings=settings,
            kind=kind,
            resource=resource,
            bus=bus,
            projector=projector,
            model=model,
            sealer=keys.sealer,
            units=load_units(settings.units_file),
            metrics=Metrics(),
        )
        await bus.start()
        await projector.start()
        log.info("service.started", resource=resource)
        try:
            yield ctx
        finally:
            await projector.stop()
            await bus.stop()
            await producer.stop()
            model.close()


async def _lag(ctx: ServiceContext, reachable: bool) -> dict[str, Any]:
    return {"lag": await ctx.projector.lag() if reachable else None}


def case_app(
    settings: Settings,
    service: str,
    kind: CaseKind[Any],
    model_factory: Callable[[Settings], ReadModel[Any]],
    routers: Sequence[APIRouter],
) -> FastAPI:
    """Assemble a case service's HTTP app: its kind's commands, its read model, its routes."""
    return build_app(
        settings,
        service,
        context=lambda: case_context(settings, kind, model_factory),
        health=Health("Report whether the broker answers and how far the read model lags.", _lag),
        registry=lambda ctx: ctx.metrics.registry,
        routers=routers,
        gauges=isolation,
    )
