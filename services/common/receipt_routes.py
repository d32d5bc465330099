"""The receipt over HTTP: a worker's public lookup and note, and a rep's new PIN."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from contracts.envelope import Actor
from contracts.personal import Sealed
from contracts.receipt import AddWorkerNote, ReceiptRecord, ReissueReceipt
from services.common import logging as logs
from services.common import receipts
from services.common.bearer import CurrentActor
from services.common.bodies import Body
from services.common.commands import IdempotencyKey, submit
from services.common.context import Ctx, ServiceContext
from services.common.ids import keyed
from services.common.limits import forwarded
from services.common.problems import Problem
from services.common.queries import case_row_for, sealing_key
from services.common.receipt_guard import ReceiptGuard
from services.common.slips import OpenedResult, receipt_view

log = logs.get(__name__)
# What a worker's view of their case is made of, given the service and the case's state.
PublicView = Callable[[ServiceContext, Any], dict[str, Any]]
NOT_FOUND = (
    "no case has this receipt number and PIN; check both against the receipt (after a few"
    " wrong PINs the receipt is locked for a while)"
)
WORKER = "receipt-holder"
# Receipts given before PINs were hashed with HMAC are checked with scrypt, on threads of their
# own: few, since each holds 16 MiB while it hashes.
_SLOW_PINS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pin-check")


class ReceiptBody(Body):
    """A receipt number and its PIN, as the worker types them."""

    receipt: str = Field(min_length=9, max_length=20)
    pin: str = Field(pattern=r"^[0-9]{6}$")


class NoteBody(ReceiptBody):
    """What the worker says: a note, or that nobody has been in touch."""

    kind: Literal["note", "not_contacted"]
    note: str | None = Field(default=None, min_length=1, max_length=1000)


def client_of(request: Request, trusted: str) -> str:
    """Return a digest of who is asking: the peer, or the client a trusted proxy names."""
    peer = request.client.host if request.client else "unknown"
    client = forwarded(peer, request.headers.get("x-forwarded-for", ""), trusted)
    return hashlib.sha256(client.encode()).hexdigest()[:16]


def _record(ctx: ServiceContext, case_id: str) -> ReceiptRecord | None:
    """The receipt the case holds now (a reissued PIN replaces the one before)."""
    return receipts.latest([e["payload"] for e in ctx.model.history(case_id)])


async def _matches(ctx: ServiceContext, record: ReceiptRecord | None, pin: str) -> bool:
    """Check a PIN; an old receipt's scrypt runs beside the event loop, which keeps serving."""
    check = functools.partial(receipts.matches, ctx.settings.master_key, record, pin)
    if not receipts.slow(record):
        return check()
    return await asyncio.get_running_loop().run_in_executor(_SLOW_PINS, check)


async def _opened(
    ctx: ServiceContext, guard: ReceiptGuard, request: Request, body: ReceiptBody
) -> Any:
    """Return the row of the case a receipt and PIN open, or refuse, counting every try."""
    number = receipts.normalise(body.receipt)
    client = client_of(request, ctx.settings.trusted_proxies)
    kind = ctx.kind.prefix
    refused = guard.check(number or body.receipt.upper(), client)
    if refused is not None:
        log.info("receipt.lookup", kind=kind, outcome=refused.reason)
        detail = (
            "too many wrong PINs: this receipt is locked; try again later"
            if refused.reason == "locked"
            else "too many tries; wait a minute and try again"
        )
        raise Problem(
            429, "Too many tries", detail, headers={"Retry-After": str(refused.retry_after_s)}
        )
    row = None
    if number is not None and receipts.kind_of(number) in ctx.kind.prefixes:
        _, rows = ctx.model.query(units=None, filters={"receipt": number}, limit=1, offset=0)
        row = rows[0] if rows else None
    record = _record(ctx, row["case_id"]) if row is not None else None
    if not await _matches(ctx, record, body.pin):
        locked = guard.failed(number or body.receipt.upper())
        log.info("receipt.lookup", kind=kind, outcome="locked" if locked else "refused")
        raise Problem(404, "Not found", NOT_FOUND)
    assert row is not None, "only a case's own receipt matches"
    guard.succeeded(number or "")
    log.info("receipt.lookup", kind=kind, outcome="shown", case_id=row["case_id"])
    return row


def receipt_routes(
    case_router: APIRouter, public_router: APIRouter, public: PublicView, *, guard: ReceiptGuard
) -> None:
    """Add the receipt routes: POST <resource>/{id}/receipt, /receipts/lookup and /notes."""
    resource = case_router.prefix.strip("/")

    async def reissue(
        case_id: str, ctx: Ctx, actor: CurrentActor, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """Give the worker a new PIN for the case's receipt (the number stays)."""
        row = case_row_for(ctx, actor, case_id, acting=True)
        key = keyed(actor, f"{resource}/{case_id}/reissue_receipt", idempotency_key)
        slip = receipts.issue(ctx.settings.master_key, case_id, key.command_id)
        return await submit(
            ctx,
            actor,
            command_type="reissue_receipt",
            case_id=case_id,
            key=key,
            payload=ReissueReceipt(receipt=slip.record),
            request_body={},
            correlation_id=row["correlation_id"],
            extra={"receipt": receipt_view(ctx, slip)},
        )

    async def lookup(body: ReceiptBody, request: Request, ctx: Ctx) -> dict[str, Any]:
        """Show the worker the case a receipt number and PIN open, and nothing else."""
        row = await _opened(ctx, guard, request, body)
        state = ctx.kind.of(row["case_id"]).state.model_validate_json(row["state"])
        return {"receipt": state.receipt, **public(ctx, state)}

    async def note(
        body: NoteBody, request: Request, ctx: Ctx, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """Record the worker's note, or that they were not contacted, on the case."""
        row = await _opened(ctx, guard, request, body)
        if body.kind == "note" and body.note is None:
            raise Problem(422, "Invalid note", "write the note, or say you were not contacted")
        case_id = row["case_id"]
        actor = Actor(user_id=WORKER, role="system", unit=row["unit"])
        sealed = ctx.sealer.seal(sealing_key(row), body.note) if body.note else None
        return await submit(
            ctx,
            actor,
            command_type="add_worker_note",
            case_id=case_id,
            key=keyed(actor, f"receipts/{case_id}/note", idempotency_key),
            payload=AddWorkerNote(kind=body.kind, note=sealed),
            request_body=json.loads(body.model_dump_json(exclude={"pin"})),
            correlation_id=row["correlation_id"],
            status=201,
        )

    case_router.add_api_route(
        "/{case_id}/receipt", reissue, methods=["POST"], response_model=OpenedResult
    )
    public_router.add_api_route("/lookup", lookup, methods=["POST"])
    public_router.add_api_route("/notes", note, methods=["POST"], status_code=201)


def worker_said(ctx: ServiceContext, case_id: str, *, readable: bool) -> list[dict[str, Any]]:
    """What the worker wrote through the receipt page, opened for those who read personal data."""
    said = []
    for event in ctx.model.history(case_id):
        if not event["event_type"].endswith(".worker_noted"):
            continue
        sealed = event["payload"].get("note")
        text = None
        if sealed:
            text = ctx.sealer.open(Sealed.model_validate(sealed)) if readable else "[sealed]"
        said.append({"at": event["occurred_at"], "kind": event["payload"]["kind"], "note": text})
    return said
