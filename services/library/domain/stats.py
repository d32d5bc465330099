"""The library's dashboard figures: sessions and attendees, teams, volunteers, help and hours."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from services.library.domain.classroom import Classroom
from services.library.domain.helps import Help
from services.library.domain.typical import Typical
from services.library.domain.volunteers import Volunteer

# A request counts as help given once the volunteer took it on.
TAKEN_ON = ("helping", "ended")


def dashboard(cases: Iterable[BaseModel], recovered_fen: Mapping[str, int]) -> dict[str, Any]:
    """Summarise a unit's library cases; `recovered_fen` is what each helped dispute recovered."""
    sessions = attendees = published = 0
    by_role: dict[str, int] = {}
    teams: set[str] = set()
    by_kind: dict[str, int] = {}
    requests = taken = 0
    hours = 0.0
    helped: set[str] = set()
    for case in cases:
        match case:
            case Classroom():
                sessions += 1
                attendees += case.attendees
                for role, count in case.attendance.items():
                    by_role[role] = by_role.get(role, 0) + count
            case Typical(status="published"):
                published += 1
            case Volunteer(status="active"):
                teams.add(case.team)
                by_kind[case.kind] = by_kind.get(case.kind, 0) + 1
            case Help():
                requests += 1
                hours += case.hours
                if case.status in TAKEN_ON:
                    taken += 1
                    helped.add(case.source_case_id)
    return {
        "sessions": sessions,
        "attendees": attendees,
        "attendees_by_role": by_role,
        "typical_cases_published": published,
        "teams": len(teams),
        "volunteers": sum(by_kind.values()),
        "volunteers_by_kind": by_kind,
        "help_requests": requests,
        "help_given": taken,
        "hours": round(hours, 2),
        "recovered_fen": sum(recovered_fen.get(case_id, 0) for case_id in sorted(helped)),
    }
