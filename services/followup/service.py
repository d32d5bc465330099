"""The follow-up case kind: its stream, commands and rules, wired for the shared machinery."""

from __future__ import annotations

from contracts import followup as f
from services.common.decider import CaseKind
from services.followup import domain

KIND: CaseKind[domain.Followup] = CaseKind(
    stream="followup",
    prefix=domain.CASE_PREFIX,
    commands=f.COMMANDS,
    state=domain.Followup,
    decide=domain.decide,
    evolve=domain.evolve,
    due=domain.due,
)
