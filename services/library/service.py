"""The library's case kinds, decided on one stream: typical cases name it, the rest are variants."""

from __future__ import annotations

from contracts import library as lib
from services.common.decider import CaseKind
from services.library.domain import classroom, helps, typical, volunteers

STREAM = "library"

CLASSROOM_KIND: CaseKind[classroom.Classroom] = CaseKind(
    stream=STREAM,
    prefix=classroom.CLASSROOM_PREFIX,
    commands=lib.CLASSROOM_COMMANDS,
    state=classroom.Classroom,
    decide=classroom.decide_classroom,
    evolve=classroom.evolve_classroom,
)
VOLUNTEER_KIND: CaseKind[volunteers.Volunteer] = CaseKind(
    stream=STREAM,
    prefix=volunteers.VOLUNTEER_PREFIX,
    commands=lib.VOLUNTEER_COMMANDS,
    state=volunteers.Volunteer,
    decide=volunteers.decide_volunteer,
    evolve=volunteers.evolve_volunteer,
)
HELP_KIND: CaseKind[helps.Help] = CaseKind(
    stream=STREAM,
    prefix=helps.HELP_PREFIX,
    commands=lib.HELP_COMMANDS,
    state=helps.Help,
    decide=helps.decide_help,
    evolve=helps.evolve_help,
)
KIND: CaseKind[typical.Typical] = CaseKind(
    stream=STREAM,
    prefix=typical.TYPICAL_PREFIX,
    commands=lib.TYPICAL_COMMANDS,
    state=typical.Typical,
    decide=typical.decide_typical,
    evolve=typical.evolve_typical,
    variants=(CLASSROOM_KIND, VOLUNTEER_KIND, HELP_KIND),
)
