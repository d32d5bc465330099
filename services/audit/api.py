"""HTTP routes of the audit service: a case as it stood, its lineage, its verdict; the 台账."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from contracts.envelope import Actor
from services.audit import export, replay, verdicts
from services.audit.lineage import IndexNotReady, indexed
from services.audit.records import CaseIdError, LogUnreachable, NoSuchCase, reading
from services.common.asof import AsOf
from services.common.bearer import CurrentActor
from services.common.bodies import Day, Moment
from services.common.keys import audit_key, believed_keys, published_keys
from services.common.privacy import Privacy
from services.common.problems import Problem
from services.common.queries import check_period, opened
from services.common.settings import Settings
from services.common.signing import KeyRing
from services.common.units import load_units

router = APIRouter(prefix="/audit", tags=["audit"])
# The free text a case's state may hold sealed, opened for the auditor beside the state.
TEXTS = (
    "summary",
    "title",
    "question",
    "resolution",
    "decision",
    "answer",
    "rejection_reason",
    "implementation",
    "leadership_response",
)


@dataclass
class AuditContext:
    """What the audit routes need, built once at start-up."""

    settings: Settings
    # Erasures are sent from here: the one service that reads every stream's cases.
    producer: AIOKafkaProducer
    privacy: Privacy


def audit_context(request: Request) -> AuditContext:
    """Return the audit service's context."""
    ctx: AuditContext = request.app.state.ctx
    return ctx


def auditor(actor: CurrentActor) -> Actor:
    """Let auditors through; everyone else is refused."""
    if actor.role != "auditor":
        raise Problem(403, "Forbidden", "only auditors replay and verify case histories")
    return actor


Ctx = Annotated[AuditContext, Depends(audit_context)]
Auditor = Annotated[Actor, Depends(auditor)]


@contextmanager
def _problems() -> Iterator[None]:
    """Answer a bad case id, a case not found and a silent broker as problems."""
    try:
        yield
    except CaseIdError as exc:
        raise Problem(422, "Invalid case id", str(exc)) from exc
    except NoSuchCase as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except LogUnreachable as exc:
        raise Problem(503, "Broker unreachable", f"cannot read the log: {exc}") from exc


@router.get("/cases/{case_id}")
async def case_at(
    case_id: str,
    ctx: Ctx,
    _: Auditor,
    at: Annotated[Moment | None, Query(description="ISO time with a timezone")] = None,
) -> dict[str, Any]:
    """Return a case rebuilt from the log as it stood at `at` (as it stands if omitted).

    The state is as rebuilt, its free text sealed; `opened` gives that text to the auditor.
    """
    try:
        with _problems():
            stood = await asyncio.to_thread(
                replay.replay_case, ctx.settings, case_id=case_id, at=at
            )
    except replay.NotYet as exc:
        raise Problem(404, "Not yet", str(exc)) from exc
    texts = await asyncio.to_thread(opened, ctx.privacy.sealer, stood["state"] or {}, TEXTS)
    return {**stood, "opened": texts}


@router.get("/cases/{case_id}/lineage")
async def lineage(case_id: str, ctx: Ctx, _: Auditor) -> dict[str, Any]:
    """Return every case linked to this one across services, with each link's causing event."""
    try:
        with _problems():
            tree = indexed(ctx.settings, case_id=case_id)
    except IndexNotReady as exc:
        raise Problem(503, "Index not ready", str(exc)) from exc
    return {
        "case_id": case_id,
        "root": tree.root,
        "cases": tree.cases,
        "links": [
            {
                "from": link.parent,
                "to": link.child,
                "event_type": link.event_type,
                "event_id": link.event_id,
                "caused_by": link.caused,
                "position": str(link.position) if link.position else None,
            }
            for link in tree.links
        ],
    }


@router.get("/verify/{case_id}")
async def verify(case_id: str, ctx: Ctx, _: Auditor) -> dict[str, Any]:
    """Check one case as the CLI does: chain, versions, schemas, signatures and the checkpoint.

    Says which checkpoint and which service keys the verdict relied on, and names the
    offset of anything wrong.
    """
    with _problems():
        report = await asyncio.to_thread(verdicts.verify_log, ctx.settings, case_id=case_id)
    verdict = report.verdict
    version, head = verdict.heads.get(case_id, (0, ""))
    return {
        "case_id": case_id,
        "clean": verdict.clean,
        "events": verdict.events,
        "redeliveries": verdict.redeliveries,
        "version": version,
        "head": head,
        **report.summary(),
        "findings": [
            {
                "kind": f.kind,
                "case_id": f.case_id,
                "topic": f.position.topic,
                "partition": f.position.partition,
                "offset": f.position.offset,
                "detail": f.detail,
            }
            for f in verdict.findings
        ],
    }


@router.get("/keys")
async def keys(ctx: Ctx) -> dict[str, Any]:
    """Return every service key published, and whether this deployment believes it (pinned).

    Public keys are base64url of their 32 raw Ed25519 bytes; an event's signature is made
    over `taizhang-event-v1:` and its hash. Anyone may read them: they are public.
    """
    with _problems(), reading():
        published, believed = await asyncio.to_thread(_keys, ctx.settings)
    return {
        "keys": [
            {**key.to_record(), "believed": key.key_id in believed}
            for key in sorted(published, key=lambda k: k.key_id)
        ],
        "pinned": bool(ctx.settings.pinned_keys.strip()),
        "checkpoint_key": audit_key(ctx.settings),
    }


def _keys(settings: Settings) -> tuple[KeyRing, set[str]]:
    published = published_keys(settings)
    return published, set(believed_keys(settings).ids())


MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def _ledger_file(
    ctx: AuditContext, unit: str, period: export.Period, actor: Actor, fmt: str
) -> tuple[int, Path]:
    """Build the ledger in a scratch file; return its row count and where it lies.

    The caller removes the file's folder once it is sent.
    """
    scratch = Path(tempfile.mkdtemp(prefix="taizhang-ledger-"))
    try:
        path = scratch / f"ledger.{fmt}"
        count = export.write_ledger(
            ctx.settings,
            unit=unit,
            period=period,
            actor=actor,
            path=path,
            fmt=fmt,
            sealer=ctx.privacy.sealer,
        )
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return count, path


@router.get("/export")
async def export_ledger(
    ctx: Ctx,
    actor: CurrentActor,
    unit: str,
    from_: Annotated[Day | None, Query(alias="from")] = None,
    to: Day | None = None,
    fmt: Annotated[Literal["xlsx", "csv"], Query(alias="format")] = "xlsx",
    as_of: AsOf = None,
) -> Response:
    """Return a unit's 台账 as xlsx or csv: one row per case of every service, as the CLI writes.

    With `as_of`, the cases as the ledger had recorded them by that instant.
    """
    if load_units(ctx.settings.units_file).get(unit) is None:
        raise Problem(422, "Unknown unit", f"there is no unit {unit!r}")
    check_period(from_, to)
    period = export.Period(from_, to, as_of)
    try:
        count, path = await asyncio.to_thread(_ledger_file, ctx, unit, period, actor, fmt)
    except export.NotPermitted as exc:
        msg = f"a {actor.role} of {actor.unit} cannot export {unit}"
        raise Problem(404, "Not found", msg) from exc
    name = f"ledger-{unit.replace('/', '-')}-{from_ or 'start'}-{to or 'today'}.{fmt}"
    # Sent from the file a piece at a time: a ledger of a hundred thousand cases is never
    # held whole in memory.
    return FileResponse(
        path,
        media_type=MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Ledger-Rows": str(count),
        },
        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
    )
