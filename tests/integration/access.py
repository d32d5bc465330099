"""Who may do what over HTTP, declared once: every route × role × unit, and bad tokens.

Each row names a rule; a rule gives the status a role expects from a unit (`own`: the
case's unit, `child`: the case lies in a child of the actor's unit, `other`: a sibling
unit). Every route refuses a missing token, an expired one and one for another audience
with 401, except those marked public. A command route declares who is refused; a cell
where the role may change the case says None and is left to the stories, since asking it
would change the case. A row of None checks only the tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Scope = Literal["own", "child", "other"]
Rule = Callable[[str, Scope], int | None]
Rows = dict[tuple[str, str], Rule | None]
ROLES = (
    "worker_rep",
    "union_chair",
    "group_member",
    "mediator",
    "followup_officer",
    "auditor",
    "admin",
)
SCOPES: tuple[Scope, ...] = ("own", "child", "other")
CASE_UNIT = "demo/co/p01"
ACTOR_UNIT: dict[Scope, str] = {"own": CASE_UNIT, "child": "demo/co", "other": "demo/co/p02"}


def public(role: str, scope: Scope) -> int:
    """Anyone, with any token or none."""
    return 200


def unknown_receipt(role: str, scope: Scope) -> int:
    """The worker's receipt routes, open to anyone: a receipt that names no case finds nothing."""
    return 404


def empty_message(role: str, scope: Scope) -> int:
    """The local gateway of a development deployment takes any sender; an empty message is 422."""
    return 422


PUBLIC = (public, unknown_receipt, empty_message)


def reads(role: str, scope: Scope) -> int:
    """A case or a listing: within the actor's units, auditors everywhere, admins never."""
    if role == "admin":
        return 403
    if role == "auditor":
        return 200
    return 404 if scope == "other" else 200


def absent(role: str, scope: Scope) -> int:
    """A case id that names no case: not found, except that admins read no case at all."""
    return 403 if role == "admin" else 404


def confided(role: str, scope: Scope) -> int:
    """A dispute's history: its unit's chair and auditors (no mediator is assigned yet)."""
    if role == "admin":
        return 403
    if role == "auditor":
        return 200
    if scope == "other":
        return 404
    return 200 if role == "union_chair" else 403


def auditors(role: str, scope: Scope) -> int:
    """Replays, lineage and verdicts: auditors only."""
    return 200 if role == "auditor" else 403


def ledger(role: str, scope: Scope) -> int:
    """The 台账: anyone who sees the unit, but not admins."""
    if role == "admin":
        return 404
    if role == "auditor":
        return 200
    return 404 if scope == "other" else 200


def operators(role: str, scope: Scope) -> int:
    """Metrics: auditors and admins."""
    return 200 if role in ("auditor", "admin") else 403


def anyone(status: int) -> Rule:
    """Any signed-in role, answered with `status`."""
    return lambda role, scope: status


def admins(role: str, scope: Scope) -> int:
    """Revoking another user's tokens."""
    return 204 if role == "admin" else 403


def erasers(role: str, scope: Scope) -> int:
    """Erasing a person: admins only (the matrix sends no person, so an admin hears 422)."""
    return 422 if role == "admin" else 403


def proofs(role: str, scope: Scope) -> int:
    """A proof asked without saying of what: auditors hear 422, everyone else 403."""
    return 422 if role == "auditor" else 403


def bundles(role: str, scope: Scope) -> int | None:
    """A case's proof bundle: auditors (whether a head covers it yet is the stories' to say)."""
    return None if role == "auditor" else 403


def unit_reminders(role: str, scope: Scope) -> int | None:
    """A unit's reminders: its chair and auditors; who else is refused."""
    return None if role in ("union_chair", "auditor") else 403


def own(role: str, scope: Scope) -> int:
    """Each user's own messages and settings: everyone but admins, who act on no case."""
    return 403 if role == "admin" else 200


def opens(role: str, scope: Scope) -> int | None:
    """Opening a case in a unit: refused outside the actor's units and to those who only read."""
    if role in ("auditor", "admin") or scope == "other":
        return 403
    return None


def changes(role: str, scope: Scope) -> int | None:
    """A command on a case: not found outside the actor's units, refused to those who read."""
    if role == "auditor" or (role == "admin" and scope != "other"):
        return 403
    return 404 if scope == "other" else None


def nothing(role: str, scope: Scope) -> int:
    """A command on a case id that names no case."""
    return 404


def case_routes(
    prefix: str, read: Rule, history: Rule, verbs: tuple[str, ...], *, found: bool = True
) -> Rows:
    """The routes of one case resource: open, list, one case, its history, its verbs."""
    rows: Rows = {
        ("POST", prefix): opens if found else None,
        ("GET", prefix): reads,
        ("GET", f"{prefix}/{{case_id}}"): read,
        ("GET", f"{prefix}/{{case_id}}/history"): history,
    }
    rows.update(
        {("POST", f"{prefix}/{{case_id}}/{v}"): changes if found else nothing for v in verbs}
    )
    return rows


COMMON: Rows = {
    ("GET", "/health"): public,
    ("GET", "/metrics"): operators,
    ("POST", "/tokens/revoke"): anyone(204),
    ("POST", "/users/{user_id}/revoke"): admins,
}
GRIEVANCE_VERBS = (
    "acknowledge", "resolve", "escalate", "decision", "refer-to-mediation", "feedback",
    "close", "reopen", "withdraw",
)  # fmt: skip
SUGGESTION_VERBS = (
    "votes", "close-vote", "implement", "refer-to-leadership", "leadership-response",
    "open-review",
)  # fmt: skip
DISPUTE_VERBS = (
    "accept", "decline", "assign", "sessions", "extend", "agreement", "performed",
    "breached", "fail", "refer-to-arbitration",
)  # fmt: skip
FOLLOWUPS = case_routes(
    "/followups", absent, absent, ("progress", "contact", "complete"), found=False
)
del FOLLOWUPS[("POST", "/followups")]  # opened by the ledger itself, from other cases' events


def receipts(prefix: str) -> Rows:
    """A case service's receipt routes: the worker's own, and a rep issuing a new PIN."""
    return {
        ("POST", "/receipts/lookup"): unknown_receipt,
        ("POST", "/receipts/notes"): unknown_receipt,
        ("POST", f"{prefix}/{{case_id}}/receipt"): changes,
    }


MATRIX: dict[str, Rows] = {
    "intake": {
        **COMMON,
        **case_routes("/grievances", reads, reads, GRIEVANCE_VERBS),
        ("GET", "/stats"): reads,
        **receipts("/grievances"),
    },
    "suggestions": {
        **COMMON,
        **case_routes("/suggestions", reads, reads, SUGGESTION_VERBS),
        **case_routes(
            "/queries", absent, absent, ("answer", "accept-answer", "reject-answer"), found=False
        ),
        **case_routes("/groups", absent, absent, ("replace-member",), found=False),
        ("GET", "/stats"): reads,
    },
    "mediation": {
        **COMMON,
        **case_routes("/disputes", reads, confided, DISPUTE_VERBS),
        **receipts("/disputes"),
    },
    "followup": {**COMMON, **FOLLOWUPS, ("GET", "/stats"): reads},
    "audit": {
        **COMMON,
        ("GET", "/audit/cases/{case_id}"): auditors,
        ("GET", "/audit/cases/{case_id}/lineage"): auditors,
        ("GET", "/audit/verify/{case_id}"): auditors,
        ("GET", "/audit/export"): ledger,
        ("GET", "/audit/keys"): public,
        ("GET", "/audit/tree-heads"): auditors,
        ("GET", "/audit/proofs/inclusion"): proofs,
        ("GET", "/audit/proofs/consistency"): proofs,
        ("GET", "/audit/cases/{case_id}/bundle"): bundles,
        ("POST", "/privacy/erasures"): erasers,
    },
    "library": {
        **COMMON,
        **case_routes(
            "/typical-cases",
            absent,
            absent,
            ("appoint-reviewer", "approve", "edit", "publish", "return"),
            found=False,
        ),
        **case_routes("/classrooms", absent, absent, (), found=False),
        # Published typical cases are anonymised teaching: every signed-in role reads the list.
        ("GET", "/typical-cases"): anyone(200),
        **case_routes("/volunteers", absent, absent, ("availability", "retire"), found=False),
        **case_routes("/help", absent, absent, ("accept", "decline", "end", "record"), found=False),
        ("GET", "/stats"): reads,
    },
    "notify": {
        **COMMON,
        ("GET", "/notifications"): own,
        ("GET", "/notifications/unit"): unit_reminders,
        ("GET", "/notifications/{case_id}"): absent,
        ("GET", "/notifications/{case_id}/history"): absent,
        ("POST", "/notifications/{case_id}/acknowledge"): nothing,
        ("GET", "/preferences/me"): own,
        # Changing one's settings is a command: only the tokens are checked here.
        ("PUT", "/preferences/me"): None,
        # The local mailbox and gateway of a development deployment: what they received is
        # shown to any signed-in user; the gateway takes messages from the sender unsigned.
        ("GET", "/dev/mailbox"): None,
        ("GET", "/dev/gateway"): None,
        ("POST", "/dev/gateway/messages"): empty_message,
    },
}
