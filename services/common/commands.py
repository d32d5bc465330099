"""The command routes each service declares as a table of verbs, and the route opening a case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from contracts.envelope import Actor
from services.common import receipts
from services.common.auth import READ_ALL
from services.common.bearer import CurrentActor
from services.common.bodies import CommandResult, Transition
from services.common.context import Ctx, ServiceContext
from services.common.ids import keyed, new_case_id
from services.common.openapi import KEY_HEADER as KEY_HEADER
from services.common.openapi import declare, param, responses
from services.common.prefer import PreferHeader
from services.common.problems import Problem
from services.common.queries import case_row_for, check_unit
from services.common.slips import OpenedResult, receipt_view
from services.common.submission import IdempotencyKey as IdempotencyKey
from services.common.submission import submit as submit


class Opens(Protocol):
    """A body that opens a case: it names the case's unit."""

    @property
    def unit(self) -> str:
        """The unit the case belongs to."""
        ...

    def model_dump(self, *, mode: str, exclude: set[str] | None = None) -> dict[str, Any]:
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
    # Volunteers may send it too, on the cases the case's rules let them work on.
    helpers: bool = False
    # The auditor sends it, who reads every unit and changes nothing else (set `roles`).
    auditors: bool = False


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
    # The worker is given a receipt (number and PIN) to follow the case without an account.
    receipt: bool = False


async def transition(
    ctx: ServiceContext,
    actor: Actor,
    row: Any,
    resource: str,
    command_type: str,
    body: Transition,
    payload: BaseModel,
    key: str | None,
    prefer: str | None = None,
) -> JSONResponse:
    """Send a command that moves an existing case (its read-model row) the actor may change."""
    case_id = row["case_id"]
    return await submit(
        ctx,
        actor,
        command_type=command_type,
        case_id=case_id,
        key=keyed(actor, f"{resource}/{case_id}/{command_type}", key),
        payload=payload,
        # A corrected ledger's file differs, its unchanged rows are the same request.
        request_body=body.model_dump(mode="json", exclude={"imported"}),
        occurred_at=body.occurred_at,
        expected_version=body.expected_version,
        correlation_id=row["correlation_id"],
        imported=body.imported,
        prefer=prefer,
    )


def _opening_route(router: APIRouter, opening: Opening[Any], resource: str) -> None:
    async def endpoint(
        body: Opens,
        ctx: ServiceContext,
        actor: Actor,
        idempotency_key: str | None = None,
        prefer: str | None = None,
    ) -> JSONResponse:
        check_unit(ctx, actor, body.unit, opening.what)
        key = keyed(actor, resource, idempotency_key)
        if opening.case_id is not None:
            case_id = opening.case_id(body)
        else:
            case_id = new_case_id(opening.prefix, key.command_id)
        payload = opening.payload(ctx, case_id, body)
        extra = None
        if opening.receipt:
            slip = receipts.issue(ctx.settings.master_key, case_id, key.command_id)
            payload = payload.model_copy(update={"receipt": slip.record})
            extra = {"receipt": receipt_view(ctx, slip)}
        return await submit(
            ctx,
            actor,
            command_type=opening.command,
            case_id=case_id,
            key=key,
            payload=payload,
            request_body=body.model_dump(mode="json", exclude={"imported"}),
            occurred_at=getattr(body, opening.occurred_at),
            status=201,
            location=f"{router.prefix}/{case_id}",
            extra=extra,
            imported=getattr(body, "imported", None),
            prefer=prefer,
        )

    params = [
        param("body", opening.body),
        param("ctx", Ctx),
        param("actor", CurrentActor),
        param("idempotency_key", IdempotencyKey, None),
        param("prefer", PreferHeader, None),
    ]
    declare(endpoint, opening.name, opening.description, params, JSONResponse)
    router.add_api_route(
        "",
        endpoint,
        methods=["POST"],
        status_code=201,
        response_model=OpenedResult if opening.receipt else CommandResult,
        responses=responses(201),
    )


def _verb_route(router: APIRouter, verb: Verb[Any], resource: str, prefix: str | None) -> None:
    async def endpoint(
        case_id: str,
        ctx: ServiceContext,
        actor: Actor,
        body: Transition | None = None,
        idempotency_key: str | None = None,
        prefer: str | None = None,
    ) -> JSONResponse:
        acting = not (verb.auditors and actor.role in READ_ALL)
        row = case_row_for(ctx, actor, case_id, acting=acting, prefix=prefix, helpers=verb.helpers)
        if verb.roles is not None and actor.role not in verb.roles:
            raise Problem(403, "Forbidden", f"a {actor.role} cannot {verb.command} here")
        given = body if body is not None else verb.body()
        payload = verb.payload(ctx, row, given)
        return await transition(
            ctx, actor, row, resource, verb.command, given, payload, idempotency_key, prefer
        )

    case_id = param("case_id", str)
    context = [param("ctx", Ctx), param("actor", CurrentActor)]
    key = [param("idempotency_key", IdempotencyKey, None), param("prefer", PreferHeader, None)]
    if verb.optional:
        params = [case_id, *context, param("body", verb.body | None, None), *key]
    else:
        params = [case_id, param("body", verb.body), *context, *key]
    name = verb.name or verb.path.replace("-", "_")
    declare(endpoint, name, verb.description, params, JSONResponse)
    router.add_api_route(
        f"/{{case_id}}/{verb.path}",
        endpoint,
        methods=["POST"],
        response_model=CommandResult,
        responses=responses(200),
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
