"""What the democratic-management case kinds share: roles, a frozen state base, refusals."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from services.common.domain import Refused

GROUP_PREFIX, SUGGESTION_PREFIX, QUERY_PREFIX = "GRP", "SUG", "QRY"
CHAIR = ("union_chair",)
GROUP = ("group_member", "union_chair")
SUBMITTERS = ("worker_rep", "group_member", "union_chair")


class State(BaseModel):
    """Base of the three case states: frozen, strict."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def refuse_status(what: str, case_id: str, status: str, allowed: Sequence[str]) -> Refused:
    """Refuse a command the case's status does not allow, naming the statuses that would."""
    return Refused(
        f"cannot {what} {case_id}: it is {status.replace('_', ' ')}"
        f" (possible only when {' or '.join(a.replace('_', ' ') for a in allowed)})"
    )
