"""Sending commands over HTTP, and the command routes each service declares as a table."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from contracts.commands import CommandEnvelope, Reply
from contracts.envelope import Actor, now_utc
from services.common import logging as logs
from services.common.bearer import CurrentActor
from services.common.bodies import CommandResult, Transition, check_backdate
from services.common.context import Ctx, ServiceContext
from services.common.ids import command_id_for, fingerprint, new_case_id
from services.common.problems import Problem
from services.common.queries import case_row_for, check_unit

log = logs.get(__name__)
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


class Opens(Protocol):
    """A body that opens a case: it names the case's unit."""

    @property
    def unit(self) -> str:
        """The unit the case belongs to."""
        ...

    def model_dump(self, *, mode: str) -> dict[str, Any]:
        """The body as sent."""
        ...


B = TypeVar("B", bound=Transition)
N = TypeVar("N", bound=Opens)


@dataclass(frozen=True)
class Verb(Generic[B]):
    """One command on an existing case, sent by POST <resource>/{case_id}/<path>."""

    path: str
    command: str
    description: str
    body: type[B]
    # Turns the body into the command's payload, given the context and the case's row.
    payload: Callable[[ServiceContext, Any, B], BaseModel]
    # The body may be left out; its defaults are sent then.
    optional: bool = False
    # Who may send it; None leaves it to anyone who may change the case.
    roles: tuple[str, ...] | None = None
    # The operation's name, where it is not the path's.
    name: str | None = None


@dataclass(frozen=True)
class Opening(Generic[N]):
    """The command that opens a case, sent by POST <resource>."""

    name: str
    description: str
    command: str
    body: type[N]
    prefix: str
    # Turns the body into the command's payload, given the context and the new case's id.
    payload: Callable[[ServiceContext, str, N], BaseModel]
    # What the caller does for the unit, as the refusal words it: "log grievances".
    what: str
    # The body field that says when it happened, if not at the moment it is sent.
    occurred_at: str
    # A case whose id follows from its body rather than from the command (one group per unit).
    case_id: Callable[[N], str] | None = None


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
    check_backdate(occurred_at, issued, ctx.settings.max_backdate_days)
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
    row: Any,
    resource: str,
    command_type: str,
    body: Transition,
    payload: BaseModel,
    key: str | None,
) -> CommandResult:
    """Send a command that moves an existing case (its read-model row) the actor may change."""
    case_id = row["case_id"]
    return await submit(
        ctx,
        actor,
        command_type=command_type,
        case_id=case_id,
        command_id=command_id_for(actor, f"{resource}/{case_id}/{command_type}", key),
        payload=payload,
        request_body=body.model_dump(mode="json"),
        occurred_at=body.occurred_at,
        expected_version=body.expected_version,
        correlation_id=row["correlation_id"],
    )


def created(result: CommandResult, location: str) -> JSONResponse:
    """Answer an opened case with 201 and its location."""
    return JSONResponse(result.model_dump(), status_code=201, headers={"Location": location})


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Parameter(name, kind, annotation=annotation, default=default)


def _declare(
    endpoint: Callable[..., Awaitable[Any]],
    name: str,
    description: str,
    params: list[inspect.Parameter],
    returns: Any,
) -> None:
    """Give a made endpoint the name, description and typed parameters OpenAPI shows."""
    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = description
    # The route reads its parameters (the body model above all) from this signature.
    vars(endpoint)["__signature__"] = inspect.Signature(params, return_annotation=returns)


def _opening_route(router: APIRouter, opening: Opening[Any], resource: str) -> None:
    async def endpoint(
        body: Opens, ctx: ServiceContext, actor: Actor, idempotency_key: str | None = None
    ) -> JSONResponse:
        check_unit(ctx, actor, body.unit, opening.what)
        command_id = command_id_for(actor, resource, idempotency_key)
        if opening.case_id is not None:
            case_id = opening.case_id(body)
        else:
            case_id = new_case_id(opening.prefix, command_id)
        result = await submit(
            ctx,
            actor,
            command_type=opening.command,
            case_id=case_id,
            command_id=command_id,
            payload=opening.payload(ctx, case_id, body),
            request_body=body.model_dump(mode="json"),
            occurred_at=getattr(body, opening.occurred_at),
        )
        return created(result, f"{router.prefix}/{case_id}")

    params = [
        _param("body", opening.body),
        _param("ctx", Ctx),
        _param("actor", CurrentActor),
        _param("idempotency_key", IdempotencyKey, None),
    ]
    _declare(endpoint, opening.name, opening.description, params, JSONResponse)
    router.add_api_route(
        "", endpoint, methods=["POST"], status_code=201, response_model=CommandResult
    )


def _verb_route(router: APIRouter, verb: Verb[Any], resource: str, prefix: str | None) -> None:
    async def endpoint(
        case_id: str,
        ctx: ServiceContext,
        actor: Actor,
        body: Transition | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        row = case_row_for(ctx, actor, case_id, acting=True, prefix=prefix)
        if verb.roles is not None and actor.role not in verb.roles:
            raise Problem(403, "Forbidden", f"a {actor.role} cannot {verb.command} here")
        given = body if body is not None else verb.body()
        payload = verb.payload(ctx, row, given)
        return await transition(
            ctx, actor, row, resource, verb.command, given, payload, idempotency_key
        )

    case_id = _param("case_id", str)
    context = [_param("ctx", Ctx), _param("actor", CurrentActor)]
    key = _param("idempotency_key", IdempotencyKey, None)
    if verb.optional:
        params = [case_id, *context, _param("body", verb.body | None, None), key]
    else:
        params = [case_id, _param("body", verb.body), *context, key]
    name = verb.name or verb.path.replace("-", "_")
    _declare(endpoint, name, verb.description, params, CommandResult)
    router.add_api_route(
        f"/{{case_id}}/{verb.path}", endpoint, methods=["POST"], response_model=CommandResult
    )


def command_routes(
    router: APIRouter,
    verbs: Sequence[Verb[Any]],
    *,
    opening: Opening[Any] | None = None,
    prefix: str | None = None,
) -> None:
    """Add a case router's command routes: the one that opens a case, then one per verb.

    `prefix` limits the routes to cases of one kind, on a stream that decides several.
    """
    resource = router.prefix.strip("/")
    if opening is not None:
        _opening_route(router, opening, resource)
    for verb in verbs:
        _verb_route(router, verb, resource, prefix)
