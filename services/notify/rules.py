"""Who must be told what, decided from the events of the case a message is about: pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts import dispute as d
from contracts import followup as f
from contracts import grievance as g
from contracts import notification as n
from contracts import suggestion as s
from contracts.envelope import Envelope
from contracts.personal import Sealed
from contracts.registry import EventPayload
from services.common.calendar import OFFICIAL, WorkCalendar
from services.common.ids import new_case_id
from services.notify.directory import Directory
from services.notify.domain import CASE_PREFIX
from services.notify.timing import reminder_at

Group = str  # acceptance, mediation, owner or callback: reminders met together
MAX_REMINDERS = 32


class Reminder(BaseModel):
    """A reminder planned for a matter, so that meeting its deadline can cancel it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    group: Group


class Matter(BaseModel):
    """What the service remembers of a grievance or dispute (and the cases it led to)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: str | None = None
    receipt: str | None = None
    phone: Sealed | None = None
    agreed: bool = False
    mediator: str | None = None
    mediation_deadline: date | None = None
    reminders: tuple[Reminder, ...] = Field(default=(), max_length=MAX_REMINDERS)


@dataclass(frozen=True)
class Tell:
    """Plan this message under this id."""

    notification_id: str
    plan: n.Plan


@dataclass(frozen=True)
class Withdraw:
    """Cancel this message if it has not gone out."""

    notification_id: str
    reason: n.CancelReason


Intent = Tell | Withdraw


def reminder_id(case_id: str, group: Group, recipient: str, deadline: date) -> str:
    """Derive a reminder's id from its case, deadline and recipient: the same on every replay."""
    return new_case_id(CASE_PREFIX, f"reminder:{case_id}:{group}:{recipient}:{deadline}")


def progress_id(source_event_id: str, template: str) -> str:
    """Derive a progress message's id from the event it reports."""
    return new_case_id(CASE_PREFIX, f"progress:{source_event_id}:{template}")


@dataclass(frozen=True)
class Rules:
    """The rules with what they read: the directory and the working calendar."""

    directory: Directory
    calendar: WorkCalendar = OFFICIAL

    def react(
        self, matter: Matter | None, env: Envelope, event: EventPayload
    ) -> tuple[Matter, list[Intent]]:
        """Return what is remembered of the matter after an event, and the messages it calls for."""
        m = matter or Matter()
        unit = getattr(event, "unit", None)
        if m.unit is None and isinstance(unit, str):
            m = m.model_copy(update={"unit": unit})
        match event:
            case g.GrievanceLogged(complainant=who, progress_messages=agreed):
                phone = who.phone if who is not None else None
                m = m.model_copy(
                    update={"receipt": env.case_id, "phone": phone, "agreed": bool(agreed)}
                )
                return m, self._worker(m, env, "received", event.answer_due)
            case g.GrievanceAcknowledged():
                return m, self._worker(m, env, "acknowledged", None)
            case (
                g.GrievanceEscalated(owner=owner, due=due)
                | s.SuggestionReferredToLeadership(owner=owner, due=due)
            ):
                return self._remind(m, env, "owner", (owner,), due)
            case (
                g.GrievanceDecisionRecorded()
                | g.GrievanceClosed()
                | g.GrievanceWithdrawn()
                | s.SuggestionLeadershipResponded()
            ):
                return self._met(m, ("owner",))
            case g.GrievanceResolved():
                m, out = self._met(m, ("owner",))
                return m, out + self._worker(m, env, "resolved", None)
            case d.DisputeApplied(acceptance_due=due, applicant=who, progress_messages=agreed):
                told: list[Intent] = []
                if m.receipt is None:
                    phone = who.phone if who is not None else None
                    fields = {"receipt": env.case_id, "phone": phone, "agreed": bool(agreed)}
                    m = m.model_copy(update=fields)
                    told = self._worker(m, env, "dispute_received", due)
                m, reminders = self._remind(m, env, "acceptance", self._chairs(m), due)
                return m, told + reminders
            case d.DisputeDeclined():
                return self._met(m, ("acceptance",))
            case d.DisputeAccepted(mediation_deadline=deadline):
                return self._accepted(m, env, deadline)
            case d.DisputeMediatorAssigned(mediator=mediator):
                m = m.model_copy(update={"mediator": mediator})
                if m.mediation_deadline is None:
                    return m, []
                return self._remind(m, env, "mediation", (mediator,), m.mediation_deadline)
            case d.DisputeExtended(mediation_deadline=deadline):
                m, out = self._met(m, ("mediation",), "expired")
                m, more = self._mediation(m, env, deadline)
                return m, out + more
            case d.DisputeSessionHeld(held_on=held_on):
                return m, self._worker(m, env, "session", held_on)
            case d.DisputeAgreementReached() | d.DisputeFailed():
                return self._met(m, ("mediation",))
            case d.DisputeDeadlinePassed():
                return self._met(m, ("mediation",), "expired")
            case f.FollowupScheduled(kind="callback", due=due):
                officers = self.directory.nearest("followup_officer", m.unit or event.unit)
                m, out = self._remind(m, env, "callback", officers, due)
                return m, out + self._worker(m, env, "callback", due)
            case f.FollowupCompleted():
                return self._met(m, ("callback",))
        return m, []

    def _accepted(self, m: Matter, env: Envelope, deadline: date) -> tuple[Matter, list[Intent]]:
        m, met = self._met(m, ("acceptance",))
        m, planned = self._mediation(m, env, deadline)
        return m, met + planned + self._worker(m, env, "dispute_accepted", deadline)

    def _mediation(self, m: Matter, env: Envelope, deadline: date) -> tuple[Matter, list[Intent]]:
        m = m.model_copy(update={"mediation_deadline": deadline})
        recipients = (*self._chairs(m), *((m.mediator,) if m.mediator else ()))
        return self._remind(m, env, "mediation", recipients, deadline)

    def _chairs(self, m: Matter) -> tuple[str, ...]:
        return self.directory.nearest("union_chair", m.unit) if m.unit else ()

    def _remind(
        self, m: Matter, env: Envelope, group: Group, recipients: tuple[str, ...], deadline: date
    ) -> tuple[Matter, list[Intent]]:
        unit = m.unit
        if unit is None:
            return m, []
        lead = getattr(self.directory.leads_of(unit), group)
        at = reminder_at(deadline, lead, env.occurred_at, self.calendar)
        if at is None:
            return m, []
        out: list[Intent] = []
        kept = list(m.reminders)
        for recipient in dict.fromkeys(recipients):
            rid = reminder_id(m.receipt or env.case_id, group, recipient, deadline)
            person = self.directory.person(recipient)
            plan = self._plan(m, env, "staff", recipient, f"{group}_due", deadline, at)
            if person is not None:
                plan = plan.model_copy(update={"language": person.language})
            out.append(Tell(rid, plan))
            if all(r.id != rid for r in kept):
                kept.append(Reminder(id=rid, group=group))
        return m.model_copy(update={"reminders": tuple(kept[-MAX_REMINDERS:])}), out

    def _met(
        self, m: Matter, groups: tuple[Group, ...], reason: n.CancelReason = "deadline_met"
    ) -> tuple[Matter, list[Intent]]:
        met = [r for r in m.reminders if r.group in groups]
        left = tuple(r for r in m.reminders if r.group not in groups)
        return m.model_copy(update={"reminders": left}), [Withdraw(r.id, reason) for r in met]

    def _worker(self, m: Matter, env: Envelope, template: str, day: date | None) -> list[Intent]:
        if not m.agreed or m.phone is None or m.unit is None:
            return []
        plan = self._plan(m, env, "worker", m.phone.kid, template, day, env.occurred_at)
        return [
            Tell(
                progress_id(str(env.event_id), template),
                plan.model_copy(update={"address": m.phone}),
            )
        ]

    def _plan(
        self,
        m: Matter,
        env: Envelope,
        audience: n.Audience,
        recipient: str,
        template: str,
        day: date | None,
        at: datetime,
    ) -> n.Plan:
        params = {"receipt": m.receipt or env.case_id}
        if day is not None:
            params["date"] = day.isoformat()
        return n.Plan(
            unit=m.unit or "",
            audience=audience,
            recipient=recipient,
            template=template,
            params=params,
            send_at=at,
            deadline=day,
            source_case_id=env.case_id,
            source_event_id=str(env.event_id),
        )
