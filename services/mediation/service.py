"""The dispute case kind: its stream, commands and rules, wired for the shared machinery."""

from __future__ import annotations

from contracts import dispute as d
from services.common.decider import CaseKind
from services.mediation import domain

KIND: CaseKind[domain.Dispute] = CaseKind(
    stream="dispute",
    prefix=domain.CASE_PREFIX,
    commands=d.COMMANDS,
    state=domain.Dispute,
    decide=domain.decide,
    evolve=domain.evolve,
    due=domain.due,
)
