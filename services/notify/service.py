"""The notification case kind and its preferences variant, wired for the shared machinery."""

from __future__ import annotations

from contracts import notification as n
from services.common.decider import CaseKind
from services.notify import domain

PREFERENCES: CaseKind[domain.Preferences] = CaseKind(
    stream="notification",
    prefix=domain.PREFERENCES_PREFIX,
    commands=n.PREFERENCE_COMMANDS,
    state=domain.Preferences,
    decide=domain.decide_preferences,
    evolve=domain.evolve_preferences,
)

KIND: CaseKind[domain.Notification] = CaseKind(
    stream="notification",
    prefix=domain.CASE_PREFIX,
    commands=n.COMMANDS,
    state=domain.Notification,
    decide=domain.decide,
    evolve=domain.evolve,
    variants=(PREFERENCES,),
)
