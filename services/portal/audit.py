"""Pages of an auditor: find a case, replay it at any instant, check its chain, follow its links.

Everything shown comes from the audit service: `GET /audit/cases/{id}?at=` for the case as it
stood, `/audit/verify/{id}` for the chain and `/audit/cases/{id}/lineage` for its links.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contracts.catalog import CASE_ID, CASE_TYPES
from services.common.units import within
from services.portal.client import ApiError
from services.portal.web import Page, UserPage, friendly

router = APIRouter()
AUDITED = tuple(CASE_TYPES)
FORMATS = ("xlsx", "csv")
# The vocabulary of statuses each kind of case is labelled with (groups have no status words).
STATUS_GROUP = {p: f"{c.noun.replace('-', '')}_status" for p, c in CASE_TYPES.items() if p != "GRP"}
# Fields of a state shown in the replay, in this order, when set.
SHOWN = (
    "category",
    "kind",
    "summary",
    "title",
    "question",
    "resolved_how",
    "resolution",
    "escalation_owner",
    "escalation_due",
    "decision",
    "dispute_id",
    "grievance_id",
    "source_case_id",
    "owner",
    "due",
    "satisfaction",
    "feedback_count",
    "reopen_count",
    "mediator",
    "deadline",
    "limitation_date",
    "sessions",
    "outcome",
    "answer",
    "implementation",
    "closed_at",
)
STATE_LABELS = {
    "category": "field.category",
    "kind": "field.followup_kind",
    "summary": "field.summary",
    "title": "field.title",
    "question": "field.question",
    "resolved_how": "field.how",
    "resolution": "field.resolution",
    "escalation_owner": "field.owner",
    "escalation_due": "field.due",
    "decision": "field.decision",
    "dispute_id": "case.lineage",
    "grievance_id": "case.lineage",
    "source_case_id": "field.source_case",
    "owner": "field.owner",
    "due": "field.due",
    "satisfaction": "field.satisfaction",
    "mediator": "field.mediator",
    "deadline": "field.deadline",
    "limitation_date": "field.limitation",
    "sessions": "field.sessions",
    "outcome": "field.tally",
    "answer": "field.answer",
    "implementation": "field.resolution",
}


def chosen_moment(timeline: list[dict[str, Any]], at: int | None) -> tuple[int, str | None]:
    """The slider's position (1 = first event) and the recorded time the service replays to."""
    if not timeline:
        return 0, None
    chosen = len(timeline) if at is None else max(1, min(at, len(timeline)))
    moment = None if chosen == len(timeline) else str(timeline[chosen - 1]["recorded_at"])
    return chosen, moment


def chain_badge(verdict: dict[str, Any] | None) -> dict[str, Any] | None:
    """The chain badge from the audit service's verdict: where it first broke, what it relied on.

    The verdict is the one the CLI gives, signatures and the checkpoint included.
    """
    if verdict is None:
        return None
    keys = ", ".join((verdict.get("keys") or {}).get("relied_on") or []) or "—"
    point = verdict.get("checkpoint") or {}
    relied = {"keys": keys, "checkpoint": point.get("position") or "—"}
    if verdict.get("clean"):
        return {"ok": True, "count": verdict.get("events", 0), **relied}
    first = (verdict.get("findings") or [{}])[0]
    where = "/".join(str(first.get(k, "?")) for k in ("topic", "partition", "offset"))
    return {
        "ok": False,
        "what": str(first.get("kind", "")).replace("_", " "),
        "position": where,
        "count": verdict.get("events", 0),
        **relied,
    }


def lineage_tree(lineage: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The lineage as rows of a tree, root first, each child under the case that caused it."""
    if not lineage:
        return []
    children: dict[str, list[dict[str, Any]]] = {}
    for link in lineage.get("links", []):
        children.setdefault(str(link["from"]), []).append(link)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()

    def walk(case: str, depth: int, via: dict[str, Any] | None) -> None:
        rows.append({"case_id": case, "depth": depth, "via": via})
        if case in seen:
            return
        seen.add(case)
        for link in children.get(case, []):
            walk(str(link["to"]), depth + 1, link)

    walk(str(lineage.get("root", lineage.get("case_id", ""))), 0, None)
    return rows


async def _optional(page: Page, path: str) -> dict[str, Any] | None:
    """A part of the page that may be missing (index still building) without failing it."""
    try:
        found: dict[str, Any] = await page.get("audit", path)
    except ApiError:
        return None
    return found


def _refused(page: Page, exc: ApiError, wanted: str) -> Response:
    error = friendly(page.words, exc)
    if exc.status == 503:
        error = {"message": page.words("audit.unavailable"), "detail": ""}
    return _find_page(page, wanted, status=exc.status, error=error)


def _find_page(
    page: Page, wanted: str, status: int = 200, error: dict[str, str] | None = None
) -> Response:
    actor = page.user()
    units = [
        u for u in page.portal.units.units if actor.role == "auditor" or within(actor.unit, u.id)
    ]
    return page.render(
        "audit_find.html",
        status=status,
        error=error,
        wanted=wanted,
        units=units,
        formats=FORMATS,
        prefixes=AUDITED,
    )


def _day(value: str | None) -> str | None:
    try:
        return date.fromisoformat(value).isoformat() if value else None
    except ValueError:
        return None


@router.get("/audit", response_class=HTMLResponse)
async def find(page: UserPage, case: str | None = None) -> Response:
    """Find a case by its id; export a unit's ledger."""
    wanted = (case or "").strip().upper()
    if wanted:
        if CASE_ID.match(wanted) and wanted[:3] in AUDITED:
            return RedirectResponse(f"/audit/{wanted}", status_code=303)
        error = {"message": page.words("error.404"), "detail": ""}
        return _find_page(page, case or "", status=404, error=error)
    return _find_page(page, "")


@router.get("/audit/export", response_class=HTMLResponse)
async def export(
    page: UserPage,
    unit: str = "",
    from_: str | None = None,
    to: str | None = None,
    fmt: str = "xlsx",
) -> Response:
    """Hand on the unit's ledger the audit service builds, as a file to save."""
    params = {
        "unit": unit or page.user().unit,
        "from": _day(from_),
        "to": _day(to),
        "format": fmt if fmt in FORMATS else "xlsx",
    }
    try:
        found = await page.download("audit", "/audit/export", params)
    except ApiError as exc:
        return _refused(page, exc, "")
    headers = {
        k: v
        for k, v in found.headers.items()
        if k.lower() in ("content-disposition", "x-ledger-rows")
    }
    return Response(found.content, media_type=found.headers["content-type"], headers=headers)


@router.get("/audit/{case_id}", response_class=HTMLResponse)
async def replay(case_id: str, page: UserPage, at: int | None = None) -> Response:
    """The case's timeline with a slider; each position asks the audit service for that moment."""
    prefix = case_id[:3]
    if not CASE_ID.match(case_id) or prefix not in AUDITED:
        error = {"message": page.words("error.404"), "detail": ""}
        return _find_page(page, case_id, status=404, error=error)
    path = f"/audit/cases/{case_id}"
    try:
        latest = await page.get("audit", path)
        timeline: list[dict[str, Any]] = latest["timeline"]
        chosen, moment = chosen_moment(timeline, at)
        stood = latest if moment is None else await page.get("audit", path, {"at": moment})
    except ApiError as exc:
        return _refused(page, exc, case_id)
    return page.render(
        "audit.html",
        case_id=case_id,
        events=timeline,
        # Sealed free text is shown as the audit service opened it, never as its ciphertext.
        state={**(stood.get("state") or {}), **(stood.get("opened") or {})},
        version=stood.get("version"),
        deadlines=stood.get("open_deadlines", []),
        chosen=chosen,
        chain=chain_badge(await _optional(page, f"/audit/verify/{case_id}")),
        lineage=lineage_tree(await _optional(page, f"{path}/lineage")),
        status_group=STATUS_GROUP.get(prefix, ""),
        shown=SHOWN,
        state_labels=STATE_LABELS,
    )
