"""The chair's ledger upload: the dry-run report of every row first, then the import itself."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from contracts.envelope import Actor
from services.common.units import within
from services.ledgerimport import report
from services.ledgerimport.plans import SERVICE, Kind
from services.ledgerimport.send import Pace, send_rows
from services.ledgerimport.workbook import NotALedger, read
from services.portal.web import Page, UserPage, form_of

router = APIRouter()
KINDS: tuple[Kind, ...] = ("grievance", "suggestion", "dispute")
# The portal imports at a gentle pace: the services keep serving the day's work meanwhile.
RATE = 20.0


def _chair(page: Page) -> Actor | None:
    actor = page.user()
    return actor if actor.role == "union_chair" else None


def _folder(page: Page) -> Path:
    folder = page.portal.settings.data_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _units(page: Page, actor: Actor) -> list[str]:
    return [u.id for u in page.portal.units.units if within(actor.unit, u.id)]


def _form(page: Page, actor: Actor, error: dict[str, str] | None = None, **more: Any) -> Response:
    status = int(error.get("status", "422")) if error else 200
    return page.render(
        "import.html", status=status, error=error, units=_units(page, actor), kinds=KINDS, **more
    )


def _refused(page: Page) -> Response:
    error = {"message": page.words("import.chairs_only"), "detail": ""}
    return page.render("problem.html", status=403, error=error)


@router.get("/import", response_class=HTMLResponse)
async def import_page(page: UserPage) -> Response:
    """The upload form: the workbook, its unit and what kind of ledger it is."""
    actor = _chair(page)
    return _refused(page) if actor is None else _form(page, actor)


@router.post("/import", response_class=HTMLResponse)
async def dry_run(page: UserPage, request: Request) -> Response:
    """Read the workbook and show what each row would become; nothing is written yet."""
    actor = _chair(page)
    if actor is None:
        return _refused(page)
    form = await request.form()
    upload, unit, kind = form.get("file"), str(form.get("unit", "")), str(form.get("kind", ""))
    if not isinstance(upload, UploadFile) or unit not in _units(page, actor) or kind not in KINDS:
        return _form(page, actor, {"message": page.words("import.choose"), "detail": ""})
    scratch = _folder(page) / f"upload-{uuid.uuid4().hex}.xlsx"
    scratch.write_bytes(await upload.read())
    try:
        sheet = read(scratch)
    except NotALedger as exc:
        scratch.unlink(missing_ok=True)
        return _form(page, actor, {"message": page.words("import.unreadable"), "detail": str(exc)})
    kept = _folder(page) / f"{sheet.sha256}.xlsx"
    scratch.replace(kept)
    chosen: Kind = kind
    plans, unreadable = report.planned(chosen, unit, sheet)
    return _form(
        page,
        actor,
        name=upload.filename or kept.name,
        sheet=sheet,
        unit=unit,
        kind=kind,
        plans=plans,
        unreadable=unreadable,
        lines=report.dry_run(actor, chosen, plans, unreadable),
    )


@router.post("/import/confirm", response_class=HTMLResponse)
async def confirm(page: UserPage, request: Request) -> Response:
    """Import the workbook the dry run showed, and say what each row added."""
    actor = _chair(page)
    if actor is None:
        return _refused(page)
    values = await form_of(request)
    sha, unit, kind = values.get("sha256", ""), values.get("unit", ""), values.get("kind", "")
    kept = _folder(page) / f"{sha}.xlsx"
    if not re.fullmatch(r"[0-9a-f]{64}", sha) or not kept.exists() or kind not in KINDS:
        return _form(page, actor, {"message": page.words("import.again"), "detail": ""})
    if unit not in _units(page, actor):
        return _form(page, actor, {"message": page.words("import.choose"), "detail": ""})
    chosen: Kind = kind
    sheet = read(kept)
    plans, unreadable = report.planned(chosen, unit, sheet)
    base = page.api.urls[SERVICE[chosen]]

    def run() -> list[str]:
        headers = {"Authorization": f"Bearer {page.token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            results = send_rows(
                client, actor, chosen, sheet.sha256, plans, Pace(RATE), lambda: None
            )
        return report.outcome(results, unreadable)

    lines = await asyncio.to_thread(run)
    kept.unlink(missing_ok=True)
    return _form(page, actor, done=True, lines=lines, unit=unit, kind=kind)
