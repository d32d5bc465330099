"""Pages of an auditor: find a case, replay it at any instant, check its chain, follow its links.

Today the case's events come from the owning service's `/history` and are folded here, for
display only, by the same `evolve` functions the services use. Once the audit service runs,
`GET /audit/cases/{id}?at=`, `/lineage` and `/audit/verify/{id}` replace the fold and the check.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contracts.envelope import GENESIS_HASH, Envelope, chain_hash
from services.cli.processes import KINDS, kind_of
from services.portal.client import ApiError
from services.portal.web import UserPage, friendly

router = APIRouter()
CASE_ID = re.compile(r"^[A-Z]{3}-[0-9A-Z]{4,40}$")
HISTORY = {
    "GRV": ("intake", "/grievances/{id}/history"),
    "SUG": ("suggestions", "/suggestions/{id}/history"),
    "QRY": ("suggestions", "/queries/{id}/history"),
    "GRP": ("suggestions", "/groups/{id}/history"),
    "DSP": ("mediation", "/disputes/{id}/history"),
}
STATUS_GROUP = {
    "GRV": "grievance_status",
    "SUG": "suggestion_status",
    "QRY": "query_status",
    "DSP": "dispute_status",
}
# Fields of a state shown in the replay, in this order, when set.
SHOWN = (
    "category",
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
    "mediator": "field.mediator",
    "deadline": "field.deadline",
    "limitation_date": "field.limitation",
    "sessions": "field.sessions",
    "outcome": "field.tally",
    "answer": "field.answer",
    "implementation": "field.resolution",
}


def check_chain(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Check each event's hash and its link to the one before; name the first broken link."""
    previous = GENESIS_HASH
    for expected, raw in enumerate(events, start=1):
        body = {k: v for k, v in raw.items() if not k.startswith("_")}
        if (
            body.get("case_version") != expected
            or body.get("prev_hash") != previous
            or chain_hash(body) != body.get("hash")
        ):
            position = raw.get("_position") or []
            where = "/".join(str(p) for p in position) if position else "?"
            return {"ok": False, "version": expected, "position": where, "count": len(events)}
        previous = str(body["hash"])
    return {"ok": True, "count": len(events)}


def snapshots(case_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold the events one by one: the case's state after each of them."""
    kind = kind_of(case_id)
    envelopes = [
        Envelope.model_validate({k: v for k, v in e.items() if not k.startswith("_")})
        for e in events
    ]
    states = []
    for i in range(len(envelopes)):
        state = kind.replay(envelopes[: i + 1])
        states.append(state.model_dump(mode="json") if state is not None else {})
    return states


def links(case_id: str, events: list[dict[str, Any]], last: dict[str, Any]) -> list[str]:
    """Every other case this one names: its correlation, its causes and its linked cases."""
    found: list[str] = []
    candidates = [e.get("correlation_id") for e in events] + [
        last.get("dispute_id"),
        last.get("grievance_id"),
        *(e.get("payload", {}).get("dispute_id") for e in events),
    ]
    for other in candidates:
        fits = isinstance(other, str) and CASE_ID.match(other) and other != case_id
        if fits and other not in found:
            found.append(str(other))
    return found


@router.get("/audit", response_class=HTMLResponse)
async def find(page: UserPage, case: str | None = None) -> Response:
    """Find a case by its id."""
    page.user()
    wanted = (case or "").strip().upper()
    if wanted:
        if CASE_ID.match(wanted) and wanted[:3] in HISTORY:
            return RedirectResponse(f"/audit/{wanted}", status_code=303)
        error = {"message": page.words("error.404"), "detail": ""}
        return page.render("audit_find.html", status=404, error=error, wanted=case)
    return page.render("audit_find.html", wanted="")


@router.get("/audit/{case_id}", response_class=HTMLResponse)
async def replay(case_id: str, page: UserPage, at: int | None = None) -> Response:
    """The case's timeline with a slider that shows it as it stood at each event."""
    prefix = case_id[:3]
    if not CASE_ID.match(case_id) or prefix not in HISTORY or prefix not in KINDS:
        error = {"message": page.words("error.404"), "detail": ""}
        return page.render("audit_find.html", status=404, error=error, wanted=case_id)
    service, path = HISTORY[prefix]
    try:
        events = (await page.get(service, path.format(id=case_id)))["events"]
    except ApiError as exc:
        return page.render(
            "audit_find.html", status=exc.status, error=friendly(page.words, exc), wanted=case_id
        )
    states = snapshots(case_id, events)
    chosen = len(states) if at is None else max(1, min(at, len(states)))
    return page.render(
        "audit.html",
        case_id=case_id,
        events=events,
        states=states,
        chosen=chosen,
        chain=check_chain(events),
        linked=links(case_id, events, states[-1] if states else {}),
        status_group=STATUS_GROUP.get(prefix, ""),
        shown=SHOWN,
        state_labels=STATE_LABELS,
    )
