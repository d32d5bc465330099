"""The HTTP kit every service shares: problem+json, limits, auth, commands, health."""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.commands import CommandEnvelope, Reply
from contracts.envelope import Actor, format_ts, now_utc
from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.auth import NO_CONTENT, READ_ALL, TokenError, can_act, can_see, read_token
from services.common.bus import BrokerUnavailable, CommandBus
from services.common.calendar import end_of_day
from services.common.decider import CaseKind
from services.common.ids import command_id_for, fingerprint
from services.common.projector import Projector
from services.common.readmodel import ReadModel
from services.common.settings import Settings
from services.common.units import Units, load_units
from services.common.vault import Sealer, SqliteKeyVault

log = logs.get(__name__)
PROBLEM = "application/problem+json"


class Problem(Exception):
    """An RFC 9457 problem to return to the client."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem_response(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """Render a problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = [
        {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    where = f"{first['field']}: " if first["field"] else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}{first['message']}{more}", errors


def install_problem_handlers(app: FastAPI) -> None:
    """Turn every error into problem+json with a message a person can act on."""

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _validation_detail(exc)
        return problem_response(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, _title(exc.status_code), str(exc.detail))

    @app.exception_handler(BrokerUnavailable)
    async def _broker(_: Request, exc: BrokerUnavailable) -> JSONResponse:
        response = problem_response(503, "Ledger unavailable", str(exc))
        response.headers["Retry-After"] = "5"
        return response


def _title(status: int) -> str:
    return {
        400: "Bad request",
        401: "Not signed in",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict",
        413: "Request too large",
        415: "Unsupported media type",
        429: "Too many requests",
    }.get(status, "Error")


class _TooLarge(Exception):
    """A body grew past the limit while being read."""


class LimitsMiddleware:
    """Refuse oversized bodies (413) and over-eager clients (429) before any work is done."""

    def __init__(self, app: ASGIApp, max_body: int, per_minute: int) -> None:
        self.app, self.max_body, self.per_minute = app, max_body, per_minute
        self._seen: dict[str, deque[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._reject(send, 413, f"the body is over {self.max_body} bytes")
            return
        client = headers.get(b"authorization", b"") or str(scope.get("client")).encode()
        if self._limited(hashlib.sha256(client).hexdigest()):
            await self._reject(send, 429, "too many requests; slow down and retry in a minute")
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return message

        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._reject(send, 413, f"the body is over {self.max_body} bytes")

    def _limited(self, key: str) -> bool:
        now = time.monotonic()
        window = self._seen.setdefault(key, deque())
        while window and window[0] < now - 60:
            window.popleft()
        window.append(now)
        return len(window) > self.per_minute

    async def _reject(self, send: Send, status: int, detail: str) -> None:
        body = json.dumps(
            {"type": "about:blank", "title": _title(status), "status": status, "detail": detail}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Transition(Body):
    """Fields every transition may carry."""

    expected_version: int | None = Field(default=None, ge=0)
    occurred_at: AwareDatetime | None = None


class CommandResult(BaseModel):
    """What a successful command returns."""

    case_id: str
    version: int
    event_ids: list[str]


@dataclass
class Metrics:
    """Prometheus metrics of one service process."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.commands = Counter(
            "taizhang_commands_total",
            "Commands answered",
            ["command_type", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "taizhang_command_seconds",
            "Time to a decided command",
            ["command_type"],
            registry=self.registry,
        )


@dataclass
class ServiceContext:
    """What a service's HTTP layer needs, built once at start-up."""

    settings: Settings
    kind: CaseKind[Any]
    resource: str
    bus: CommandBus
    projector: Projector
    model: ReadModel[Any]
    sealer: Sealer
    units: Units
    metrics: Metrics


def context(request: Request) -> ServiceContext:
    """Return the service context."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def current_actor(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
    """Return the signed-in actor from the bearer token."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Problem(401, "Not signed in", "send Authorization: Bearer <token>")
    try:
        return read_token(context(request).settings, authorization[7:].strip())
    except TokenError as exc:
        raise Problem(401, "Not signed in", f"the token is not valid: {exc}") from exc


Ctx = Annotated[ServiceContext, Depends(context)]
CurrentActor = Annotated[Actor, Depends(current_actor)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


def period(first: date | None, last: date | None) -> dict[str, str | None]:
    """Turn inclusive local dates (China) into the read model's UTC opened-at bounds."""
    return {
        "opened_from": format_ts(end_of_day(first - timedelta(days=1))) if first else None,
        "opened_to": format_ts(end_of_day(last)) if last else None,
    }


def case_row_for(ctx: ServiceContext, actor: Actor, case_id: str, *, acting: bool) -> Any:
    """Return a case the actor may see (404 otherwise), and refuse changes they may not make."""
    row = ctx.model.get(case_id) if ctx.kind.owns(case_id) else None
    if row is None or not can_see(actor, row["unit"]):
        raise Problem(404, "Not found", f"no {ctx.resource[:-1]} {case_id} in your units")
    if acting and not can_act(actor, row["unit"]):
        raise Problem(403, "Forbidden", f"a {actor.role} reads cases but cannot change them")
    return row


async def submit(
    ctx: ServiceContext,
    actor: Actor,
    *,
    command_type: str,
    case_id: str,
    command_id: str,
    payload: BaseModel,
    request_body: Any,
    occurred_at: datetime | None = None,
    expected_version: int | None = None,
    correlation_id: str | None = None,
) -> CommandResult:
    """Send a command, wait for its decision and for the read model to show it."""
    issued = now_utc()
    meta = CommandEnvelope(
        command_id=command_id,
        command_type=command_type,
        case_id=case_id,
        actor=actor,
        issued_at=issued,
        occurred_at=occurred_at or issued,
        expected_version=expected_version,
        correlation_id=correlation_id or case_id,
        causation_id=command_id,
        payload=payload.model_dump(mode="json"),
        fingerprint=fingerprint(ctx.settings.master_key, command_type, case_id, request_body),
    )
    started = time.perf_counter()
    reply: Reply = await ctx.bus.send(meta)
    took = time.perf_counter() - started
    ctx.metrics.latency.labels(command_type).observe(took)
    outcome = "ok" if reply.ok else "refused"
    ctx.metrics.commands.labels(command_type, outcome).inc()
    log.info(
        "command.answered",
        case_id=case_id,
        command_id=command_id,
        command_type=command_type,
        outcome=outcome,
        status=reply.refusal.status if reply.refusal else 200,
        ms=round(took * 1000, 1),
    )
    if not reply.ok:
        assert reply.refusal is not None
        raise Problem(reply.refusal.status, reply.refusal.title, reply.refusal.detail)
    if reply.positions:
        events_topic = ctx.settings.topic(f"{ctx.kind.stream}.events")
        await ctx.projector.wait_for(events_topic, reply.positions, timeout=5.0)
    return CommandResult(case_id=reply.case_id, version=reply.version, event_ids=reply.event_ids)


async def transition(
    ctx: ServiceContext,
    actor: Actor,
    case_id: str,
    command_type: str,
    body: Transition,
    payload: BaseModel,
    key: str | None,
    *,
    resource: str | None = None,
    row: Any = None,
) -> CommandResult:
    """Send a command that moves an existing case the actor may change."""
    row = row if row is not None else case_row_for(ctx, actor, case_id, acting=True)
    path = f"{resource or ctx.resource}/{case_id}/{command_type}"
    return await submit(
        ctx,
        actor,
        command_type=command_type,
        case_id=case_id,
        command_id=command_id_for(actor, path, key),
        payload=payload,
        request_body=body.model_dump(mode="json"),
        occurred_at=body.occurred_at,
        expected_version=body.expected_version,
        correlation_id=row["correlation_id"],
    )


def created(result: CommandResult, location: str) -> JSONResponse:
    """Answer an opened case with 201 and its location."""
    return JSONResponse(result.model_dump(), status_code=201, headers={"Location": location})


def no_admin(actor: Actor) -> None:
    """Refuse case content to administrators."""
    if actor.role in NO_CONTENT:
        raise Problem(
            403, "Forbidden", "administrators manage units, users and keys, not case content"
        )


def check_unit(ctx: ServiceContext, actor: Actor, unit: str, what: str) -> None:
    """Refuse an unknown unit (422) or one outside the actor's reach (403)."""
    if ctx.units.get(unit) is None:
        raise Problem(422, "Unknown unit", f"there is no unit {unit!r}")
    if not can_act(actor, unit):
        raise Problem(403, "Forbidden", f"you cannot {what} for {unit}")


def list_scope(actor: Actor, unit: str | None) -> list[str] | None:
    """Return the unit subtrees a listing covers (None: all, for auditors)."""
    if unit is not None and not can_see(actor, unit):
        raise Problem(404, "Not found", f"unit {unit} is not among your units")
    return [unit] if unit else (None if actor.role in READ_ALL else [actor.unit])


def case_view(row: Any) -> dict[str, Any]:
    """Render a read-model row as the case's JSON view."""
    view: dict[str, Any] = {"case_id": row["case_id"], "version": row["version"]}
    view.update(json.loads(row["state"]))
    view["updated_at"] = row["updated_at"]
    view["correlation_id"] = row["correlation_id"]
    return view


def sealing_key(ctx: ServiceContext, case_id: str) -> str:
    """The key that seals a case's free text: its person's, or the case's own if anonymous."""
    row = ctx.model.get(case_id)
    person = json.loads(row["state"]).get("person_id") if row else None
    return str(person or f"CASE-{case_id}")


def build_app(
    settings: Settings,
    kind: CaseKind[Any],
    *,
    title: str,
    resource: str,
    model_factory: Callable[[Settings], ReadModel[Any]],
    routers: list[Any],
    on_start: Callable[[ServiceContext], Awaitable[None]] | None = None,
) -> FastAPI:
    """Assemble a case service's HTTP app: lifespan, limits, errors, health, metrics, routes."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = kafka_kit.producer(settings, client_id=f"taizhang-{resource}")
        await producer.start()
        model = model_factory(settings)
        projector = Projector(settings, model, model.topics, producer, f"{resource}-read-model")
        bus = CommandBus(settings, kind.stream, producer)
        vault = SqliteKeyVault(settings.var_dir / "vault.sqlite", settings.master_key)
        ctx = ServiceContext(
            settings=settings,
            kind=kind,
            resource=resource,
            bus=bus,
            projector=projector,
            model=model,
            sealer=Sealer(vault, settings.master_key),
            units=load_units(settings.units_file),
            metrics=Metrics(),
        )
        app.state.ctx = ctx
        await bus.start()
        await projector.start()
        if on_start:
            await on_start(ctx)
        log.info("service.started", resource=resource)
        try:
            yield
        finally:
            await projector.stop()
            await bus.stop()
            await producer.stop()
            model.close()
            vault.close()

    app = FastAPI(title=title, version="1", lifespan=lifespan)
    app.add_middleware(
        LimitsMiddleware,
        max_body=settings.max_body_bytes,
        per_minute=settings.rate_limit_per_minute,
    )
    install_problem_handlers(app)

    @app.get("/health", tags=["operations"])
    async def health(ctx: Ctx) -> JSONResponse:
        """Report whether the broker answers and how far the read model lags."""
        reachable = await kafka_kit.broker_reachable(ctx.settings)
        lag = await ctx.projector.lag() if reachable else None
        body = {"status": "ok" if reachable else "degraded", "broker": reachable, "lag": lag}
        return JSONResponse(body, status_code=200 if reachable else 503)

    @app.get("/metrics", tags=["operations"])
    async def metrics(ctx: Ctx) -> Response:
        """Expose Prometheus metrics."""
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    return app
