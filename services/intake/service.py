"""The grievance case kind: its stream, commands and rules, wired for the shared machinery."""

from __future__ import annotations

from contracts import grievance as g
from services.common.decider import CaseKind
from services.intake import domain

KIND: CaseKind[domain.Grievance] = CaseKind(
    stream="grievance",
    prefix=domain.CASE_PREFIX,
    commands=g.COMMANDS,
    state=domain.Grievance,
    decide=domain.decide,
    evolve=domain.evolve,
    due=domain.due,
)
