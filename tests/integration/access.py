"""Who may do what over HTTP, declared once: every route × role × unit, and bad tokens.

Each row names a rule; a rule gives the status a role expects from a unit (`own`: the
case's unit, `child`: the case lies in a child of the actor's unit, `other`: a sibling
unit). Every route refuses a missing token, an expired one and one for another audience
with 401, except those marked public. A command route declares who may change the case
and who is refused: a cell that says CHANGES is asked too, and holds when the command is
carried out (2xx) or refused by the case's own rules for its state or content (409, 422),
never for who asks (401, 403) or for where (404). A cell of None, and a row of None, is
left to the stories; such a row checks only the tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

Scope = Literal["own", "child", "other"]
# The role may change the case: carried out, or refused for the case's state or content.
CHANGES: Final = "changes"
Want = int | Literal["changes"] | None
Rule = Callable[[str, Scope], Want]
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


def holds(want: Want, got: int) -> bool:
    """Whether an answer is the one a cell declares."""
    if want == CHANGES:
        return 200 <= got < 300 or got in (409, 422)
    return got == want


def opens(*allowed: str) -> Rule:
    """Opening a case in a unit: `allowed` roles may, within their units; everyone else is
    refused, and so is everyone outside their units."""

    def rule(role: str, scope: Scope) -> Want:
        if scope == "other" or role not in allowed:
            return 403
        return CHANGES

    return rule


def may(*allowed: str, assigned: bool = False) -> Rule:
    """A command on a case: not found outside the actor's units, refused to those who only
    read; within them `allowed` roles change the case and other roles are refused.

    `assigned`: case work a named mediator does once assigned (the matrix's dispute is
    assigned to the mediator of its own unit), which refuses every other mediator.
    """

    def rule(role: str, scope: Scope) -> Want:
        if role == "auditor" or (role == "admin" and scope != "other"):
            return 403
        if scope == "other":
            return 404
        if assigned and role == "mediator" and scope != "own":
            return 403
        return CHANGES if role in allowed else 403

    return rule


def changes(role: str, scope: Scope) -> Want:
    """A command on a case whose rules the stories check: outside the actor's units not
    found, refused to those who read."""
    if role == "auditor" or (role == "admin" and scope != "other"):
        return 403
    return 404 if scope == "other" else None


def nothing(role: str, scope: Scope) -> int:
    """A command on a case id that names no case."""
    return 404


def case_routes(prefix: str, read: Rule, history: Rule, verbs: dict[str, Rule]) -> Rows:
    """The routes of one case resource the matrix holds a case of: list, one case, its
    history, then its verbs (reads first: the verbs change the case)."""
    rows: Rows = {
        ("GET", prefix): reads,
        ("GET", f"{prefix}/{{case_id}}"): read,
        ("GET", f"{prefix}/{{case_id}}/history"): history,
    }
    rows.update({("POST", f"{prefix}/{{case_id}}/{v}"): rule for v, rule in verbs.items()})
    return rows


def absent_routes(prefix: str, verbs: tuple[str, ...]) -> Rows:
    """The routes of a case resource the matrix holds no case of: refusals only."""
    rows: Rows = {
        ("POST", prefix): None,
        ("GET", prefix): reads,
        ("GET", f"{prefix}/{{case_id}}"): absent,
        ("GET", f"{prefix}/{{case_id}}/history"): absent,
    }
    rows.update({("POST", f"{prefix}/{{case_id}}/{v}"): nothing for v in verbs})
    return rows


COMMON: Rows = {
    ("GET", "/health"): public,
    ("GET", "/metrics"): operators,
    ("POST", "/tokens/revoke"): anyone(204),
    ("POST", "/users/{user_id}/revoke"): admins,
}
# Who works on each kind of case, as its service's rules say.
REPS = ("worker_rep", "union_chair")
SUBMITTERS = ("worker_rep", "group_member", "union_chair")
GROUP = ("group_member", "union_chair")
COMMITTEE = ("union_chair", "mediator")
REPS_AND_COMMITTEE = ("worker_rep", *COMMITTEE)
# In the order asked: the grievance is acknowledged, resolved, ... and withdrawn at last.
GRIEVANCE_VERBS: dict[str, Rule] = {
    v: may(*REPS)
    for v in (
        "acknowledge", "resolve", "escalate", "decision", "refer-to-mediation", "feedback",
        "close", "reopen", "withdraw",
    )
}  # fmt: skip
SUGGESTION_VERBS: dict[str, Rule] = {
    "votes": may(*GROUP),
    "close-vote": may(*GROUP),
    "implement": may(*GROUP),
    "refer-to-leadership": may("union_chair"),
    "leadership-response": may(*GROUP),
    "open-review": may(*GROUP),
}
DISPUTE_VERBS: dict[str, Rule] = {
    "accept": may(*COMMITTEE),
    "decline": may(*COMMITTEE),
    "assign": may("union_chair"),
    "sessions": may(*COMMITTEE, assigned=True),
    "extend": may(*COMMITTEE, assigned=True),
    "agreement": may(*COMMITTEE, assigned=True),
    "performed": may(*REPS_AND_COMMITTEE),
    "breached": may(*REPS_AND_COMMITTEE),
    "fail": may(*COMMITTEE, assigned=True),
    "refer-to-arbitration": may(*REPS_AND_COMMITTEE),
}
FOLLOWUPS = absent_routes("/followups", ("progress", "contact", "complete"))
del FOLLOWUPS[("POST", "/followups")]  # opened by the ledger itself, from other cases' events


def receipts(prefix: str, reissuers: tuple[str, ...]) -> Rows:
    """A case service's receipt routes: the worker's own, and a rep issuing a new PIN."""
    return {
        ("POST", "/receipts/lookup"): unknown_receipt,
        ("POST", "/receipts/notes"): unknown_receipt,
        ("POST", f"{prefix}/{{case_id}}/receipt"): may(*reissuers),
    }


MATRIX: dict[str, Rows] = {
    "intake": {
        **COMMON,
        ("POST", "/grievances"): opens(*REPS),
        **case_routes("/grievances", reads, reads, GRIEVANCE_VERBS),
        ("GET", "/stats"): reads,
        **receipts("/grievances", REPS),
    },
    "suggestions": {
        **COMMON,
        ("POST", "/suggestions"): opens(*SUBMITTERS),
        **case_routes("/suggestions", reads, reads, SUGGESTION_VERBS),
        **absent_routes("/queries", ("answer", "accept-answer", "reject-answer")),
        **absent_routes("/groups", ("replace-member",)),
        ("GET", "/stats"): reads,
    },
    "mediation": {
        **COMMON,
        ("POST", "/disputes"): opens(*REPS_AND_COMMITTEE),
        **case_routes("/disputes", reads, confided, DISPUTE_VERBS),
        **receipts("/disputes", REPS_AND_COMMITTEE),
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
        **absent_routes(
            "/typical-cases", ("appoint-reviewer", "approve", "edit", "publish", "return")
        ),
        **absent_routes("/classrooms", ()),
        # Published typical cases are anonymised teaching: every signed-in role reads the list.
        ("GET", "/typical-cases"): anyone(200),
        **absent_routes("/volunteers", ("availability", "retire")),
        **absent_routes("/help", ("accept", "decline", "end", "record")),
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
