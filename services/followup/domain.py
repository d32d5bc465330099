"""Follow-up rules: pure decide/evolve/due over tracking, call-backs, checks and reminders."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts import followup as f
from contracts.envelope import Envelope
from contracts.personal import Sealed
from contracts.registry import EventPayload
from services.common.calendar import OFFICIAL, WorkCalendar, end_of_day, local_date, shifted
from services.common.domain import (
    Command,
    Forbidden,
    Invalid,
    NotFound,
    Refused,
    check_occurred_at,
    require_role,
)

Status = Literal["open", "in_progress", "completed"]

CASE_PREFIX = "FUP"
CALLBACK_WORKING_DAYS = 3
# The worker is reminded this long before the arbitration limitation date runs out.
REMINDER_LEAD_DAYS = 30
OFFICERS = ("followup_officer", "union_chair")
HUMANS = ("followup_officer", "union_chair", "worker_rep", "group_member", "mediator")
ROLES: dict[str, tuple[str, ...]] = {
    "schedule": ("system",),
    "note_progress": HUMANS,
    "contact": HUMANS,
    "complete": HUMANS,
    "mark_overdue": ("system",),
}
SATISFIED: frozenset[f.Satisfaction] = frozenset({"satisfied", "basically_satisfied"})


class Followup(BaseModel):
    """A follow-up as it stands after its events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    unit: str
    status: Status
    kind: f.FollowupKind
    source_case_id: str
    source_event_id: str
    owner: str | None
    due: date
    limitation_date: date | None = None
    opened_at: datetime
    last_event_at: datetime
    progress_notes: int = 0
    satisfaction: f.Satisfaction | None = None
    contacted_at: datetime | None = None
    completed_at: datetime | None = None
    on_time: bool | None = None
    agreement: f.AgreementFinding | None = None
    overdue: tuple[date, ...] = ()


def decide(
    state: Followup | None, cmd: Command[object], calendar: WorkCalendar = OFFICIAL
) -> list[EventPayload]:
    """Turn a command into the events it causes, or refuse it."""
    kind = cmd.meta.command_type
    require_role(cmd, ROLES.get(kind, ()), f"{kind.replace('_', ' ')} a follow-up")
    p = cmd.payload
    if isinstance(p, f.Schedule):
        return _schedule(state, cmd, p, calendar)
    if state is None:
        raise NotFound(f"follow-up {cmd.meta.case_id} does not exist")
    check_occurred_at(cmd, state.last_event_at)
    if isinstance(p, f.MarkOverdue):
        if not is_overdue(state, cmd.occurred_at):
            raise Refused(f"follow-up {state.case_id} is not overdue")
        return [f.FollowupOverdue(due=state.due)]
    _require_owner_or_officer(state, cmd)
    if state.status == "completed":
        raise Refused(f"follow-up {state.case_id} is already completed")
    on_time = local_date(cmd.occurred_at) <= state.due
    match p:
        case f.NoteProgress(note=note):
            return [f.FollowupProgressNoted(note=note)]
        case f.Contact(satisfaction=satisfaction, comment=comment):
            if state.kind != "callback":
                raise Invalid(f"{state.case_id} is a {_words(state.kind)}, not a call-back")
            return [
                f.FollowupContacted(satisfaction=satisfaction, comment=comment),
                f.FollowupCompleted(on_time=on_time),
            ]
        case f.Complete(note=note, agreement=agreement, breach_reason=reason):
            return [_complete(state, note, agreement, reason, on_time)]
    raise Invalid(f"unknown follow-up command {kind!r}")


def _schedule(
    state: Followup | None, cmd: Command[object], p: f.Schedule, calendar: WorkCalendar
) -> list[EventPayload]:
    if state is not None:
        raise Refused(f"follow-up {cmd.meta.case_id} is already scheduled")
    check_occurred_at(cmd, None)
    today = local_date(cmd.occurred_at)
    due: date | None
    match p.kind:
        case "callback":
            due = calendar.add_working_days(today, p.working_days or CALLBACK_WORKING_DAYS)
        case "limitation_reminder":
            if p.limitation_date is None:
                raise Invalid("a limitation reminder needs the limitation date")
            due = max(today, shifted(p.limitation_date, -REMINDER_LEAD_DAYS))
        case _:
            due = p.due
    if due is None:
        raise Invalid(f"a {_words(p.kind)} needs a due date")
    if p.kind == "progress" and p.owner is None:
        raise Invalid("progress tracking needs the named follow-up owner")
    return [
        f.FollowupScheduled(
            kind=p.kind,
            unit=p.unit,
            source_case_id=p.source_case_id,
            source_event_id=p.source_event_id,
            owner=p.owner,
            due=due,
            limitation_date=p.limitation_date,
        )
    ]


def _complete(
    state: Followup,
    note: Sealed | None,
    agreement: f.AgreementFinding | None,
    reason: Sealed | None,
    on_time: bool,
) -> f.FollowupCompleted:
    if state.kind == "callback":
        raise Refused(f"call-back {state.case_id} is completed by recording the call (contact)")
    if state.kind == "performance_check":
        if agreement is None:
            raise Invalid("a performance check finds the agreement performed or breached")
        if agreement == "breached" and not reason:
            raise Invalid("say how the agreement was breached (breach_reason)")
    elif agreement is not None or reason is not None:
        raise Invalid(f"only a performance check finds an agreement {agreement or 'breached'}")
    if agreement == "performed" and reason is not None:
        raise Invalid("a performed agreement has no breach reason")
    return f.FollowupCompleted(
        on_time=on_time, note=note, agreement=agreement, breach_reason=reason
    )


def _require_owner_or_officer(state: Followup, cmd: Command[object]) -> None:
    actor = cmd.meta.actor
    if actor.role not in OFFICERS and actor.user_id != state.owner:
        raise Forbidden(
            f"only {state.owner or 'a follow-up officer'} or the unit's follow-up officers"
            f" work on {state.case_id}"
        )


def _words(kind: str) -> str:
    return kind.replace("_", " ")


def is_overdue(state: Followup, now: datetime) -> bool:
    """Return whether the follow-up is open past its due date and not yet marked so."""
    return state.status != "completed" and not state.overdue and now >= end_of_day(state.due)


def evolve(state: Followup | None, env: Envelope, event: EventPayload) -> Followup:
    """Apply one event to the follow-up."""
    at = env.occurred_at
    if isinstance(event, f.FollowupScheduled):
        return Followup(
            case_id=env.case_id,
            unit=event.unit,
            status="open",
            kind=event.kind,
            source_case_id=event.source_case_id,
            source_event_id=event.source_event_id,
            owner=event.owner,
            due=event.due,
            limitation_date=event.limitation_date,
            opened_at=at,
            last_event_at=at,
        )
    if state is None:
        raise ValueError(f"{env.event_type} before followup.scheduled in {env.case_id}")
    s = state.model_copy(update={"last_event_at": at})
    match event:
        case f.FollowupProgressNoted():
            return s.model_copy(
                update={"status": "in_progress", "progress_notes": s.progress_notes + 1}
            )
        case f.FollowupContacted(satisfaction=satisfaction):
            return s.model_copy(update={"satisfaction": satisfaction, "contacted_at": at})
        case f.FollowupCompleted(on_time=on_time, agreement=agreement):
            return s.model_copy(
                update={
                    "status": "completed",
                    "completed_at": at,
                    "on_time": on_time,
                    "agreement": agreement,
                }
            )
        case f.FollowupOverdue(due=due):
            return s.model_copy(update={"overdue": (*s.overdue, due)})
    raise ValueError(f"follow-up cannot apply {env.event_type}")


def due(state: Followup, now: datetime) -> list[tuple[str, dict[str, object]]]:
    """Return the timer commands a follow-up needs at `now`."""
    return [("mark_overdue", {})] if is_overdue(state, now) else []


def statistics(cases: list[Followup]) -> dict[str, object]:
    """Summarise follow-ups: closure, on-time and satisfaction rates, with counts by kind."""
    by_kind: dict[str, int] = {}
    by_satisfaction: dict[str, int] = {}
    completed = on_time = contacted = satisfied = 0
    for case in cases:
        by_kind[case.kind] = by_kind.get(case.kind, 0) + 1
        if case.status == "completed":
            completed += 1
            on_time += bool(case.on_time)
        if case.satisfaction is not None:
            contacted += 1
            satisfied += case.satisfaction in SATISFIED
            by_satisfaction[case.satisfaction] = by_satisfaction.get(case.satisfaction, 0) + 1
    return {
        "followups": len(cases),
        "by_kind": by_kind,
        "completed": completed,
        "open": len(cases) - completed,
        "overdue": sum(1 for c in cases if c.overdue),
        "contacted": contacted,
        "by_satisfaction": by_satisfaction,
        "closure_rate": _rate(completed, len(cases)),
        "on_time_rate": _rate(on_time, completed),
        "satisfaction_rate": _rate(satisfied, contacted),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
