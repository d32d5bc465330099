"""Sending a command over HTTP: make it durable, await its decision, and answer the caller."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from contracts.commands import CommandEnvelope, Reply
from contracts.envelope import Actor, now_utc
from services.common import logging as logs
from services.common.bodies import CommandResult, Imported, backdate_days, check_backdate
from services.common.bus import BrokerUnavailable
from services.common.context import ServiceContext
from services.common.ids import Keyed, fingerprint
from services.common.openapi import KEY_HEADER
from services.common.prefer import APPLIED_HEADER, DECIDED, waits_for_reads
from services.common.problems import Problem

log = logs.get(__name__)
IdempotencyKey = Annotated[str | None, Header(alias=KEY_HEADER, max_length=128)]
RETRY_AFTER_S = 5
# How long an answer waits for the read model to show what was decided.
READ_MODEL_WITHIN_S = 5.0


async def submit(
    ctx: ServiceContext,
    actor: Actor,
    *,
    command_type: str,
    case_id: str,
    key: Keyed,
    payload: BaseModel,
    request_body: Any,
    occurred_at: datetime | None = None,
    expected_version: int | None = None,
    correlation_id: str | None = None,
    status: int = 200,
    location: str | None = None,
    extra: dict[str, Any] | None = None,
    imported: Imported | None = None,
    prefer: str | None = None,
) -> JSONResponse:
    """Send a command, wait for its decision and for the read model to show it, and answer.

    Every answer, refusals and 503 included, names the command's Idempotency-Key; `extra`
    joins the answer of a command that was carried out. A caller who prefers it (`prefer`)
    is answered once the decision is durable, without waiting for the read model.
    """
    issued = now_utc()
    limit = backdate_days(
        actor.role,
        imported,
        ctx.settings.max_backdate_days,
        ctx.settings.import_max_backdate_days,
    )
    check_backdate(occurred_at, issued, limit)
    meta = CommandEnvelope(
        command_id=key.command_id,
        command_type=command_type,
        case_id=case_id,
        actor=actor,
        issued_at=issued,
        occurred_at=occurred_at or issued,
        expected_version=expected_version,
        correlation_id=correlation_id or case_id,
        # An imported command names the ledger file and row it was read from.
        causation_id=imported.cause if imported is not None else key.command_id,
        payload=payload.model_dump(mode="json"),
        fingerprint=fingerprint(ctx.settings.master_key, command_type, case_id, request_body),
    )
    headers = {KEY_HEADER: key.key}
    reads = waits_for_reads(prefer)
    if not reads:
        headers[APPLIED_HEADER] = DECIDED
    started = time.perf_counter()
    try:
        reply: Reply = await ctx.bus.send(meta)
    except BrokerUnavailable as exc:
        raise _unavailable(ctx, meta, key, exc) from exc
    took = time.perf_counter() - started
    ctx.metrics.latency.labels(command_type).observe(took)
    outcome = "ok" if reply.ok else "refused"
    ctx.metrics.commands.labels(command_type, outcome).inc()
    shown_ms = 0.0
    if reads and reply.ok and reply.positions:
        events_topic = ctx.settings.topic(f"{ctx.kind.stream}.events")
        # The decision stands; a read model that cannot catch up only makes the answer stale.
        shown = ctx.projector.wait_for(events_topic, reply.positions, timeout=READ_MODEL_WITHIN_S)
        await ctx.bus.unless_lost(shown, READ_MODEL_WITHIN_S)
        shown_ms = (time.perf_counter() - started - took) * 1000
    log.info(
        "command.answered",
        case_id=case_id,
        command_id=key.command_id,
        command_type=command_type,
        outcome=outcome,
        status=reply.refusal.status if reply.refusal else status,
        ms=round(took * 1000, 1),
        shown_ms=round(shown_ms, 1),
    )
    if not reply.ok:
        assert reply.refusal is not None
        refused = reply.refusal
        raise Problem(refused.status, refused.title, refused.detail, headers=headers)
    result = CommandResult(case_id=reply.case_id, version=reply.version, event_ids=reply.event_ids)
    if location is not None:
        headers["Location"] = location
    return JSONResponse(
        {**result.model_dump(), **(extra or {})}, status_code=status, headers=headers
    )


def _unavailable(
    ctx: ServiceContext, meta: CommandEnvelope, key: Keyed, exc: BrokerUnavailable
) -> Problem:
    """The 503 for a command the ledger could not take or decide: retry with the same key."""
    ctx.metrics.commands.labels(meta.command_type, "unavailable").inc()
    log.warning(
        "command.unavailable",
        case_id=meta.case_id,
        command_id=meta.command_id,
        command_type=meta.command_type,
        stored=exc.stored,
        reason=str(exc),
    )
    if exc.stored:
        advice = (
            "it may still take effect: send it again with the same Idempotency-Key to get its"
            " outcome, and never without it"
        )
    else:
        advice = "this attempt recorded nothing: send it again with the same Idempotency-Key"
    return Problem(
        503,
        "Ledger unavailable",
        f"{exc}; {advice}",
        headers={KEY_HEADER: key.key, "Retry-After": str(RETRY_AFTER_S)},
        idempotency_key=key.key,
    )
