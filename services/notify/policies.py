"""Policies of notification: the events of grievances, disputes, follow-ups and suggestions,
gathered per matter, become messages planned and withdrawn."""

from __future__ import annotations

from datetime import datetime

from contracts import dispute as d
from contracts import followup as f
from contracts.commands import CommandEnvelope
from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.reactions import Commands, reaction
from services.notify.rules import Intent, Matter, Rules, Tell

SOURCES = ("grievance", "dispute", "followup", "suggestion")


def file_under(
    stored: str | None, env: Envelope, event: EventPayload
) -> tuple[str | None, str | None]:
    """File an event under its matter: a dispute or call-back under the grievance it came from."""
    if stored is not None:
        return stored, stored
    match event:
        case d.DisputeApplied(grievance_id=grievance):
            key = grievance or env.case_id
            return key, key
        case f.FollowupScheduled(kind="callback", source_case_id=source):
            return source, source
    if env.case_id.startswith("FUP-"):
        return None, None
    return env.case_id, None


def answer(
    rules: Rules, matter: Matter | None, env: Envelope, event: EventPayload, _now: datetime
) -> tuple[Matter | None, Commands]:
    """Return the matter as remembered after an event, and the commands its messages need."""
    after, intents = rules.react(matter, env, event)
    if after.unit is None:
        return after, []
    return after, [("notification", _command(env, intent, after.unit)) for intent in intents]


def _command(env: Envelope, intent: Intent, unit: str) -> CommandEnvelope:
    if isinstance(intent, Tell):
        payload = intent.plan.model_dump(mode="json")
        return reaction(
            env, command_type="plan", case_id=intent.notification_id, payload=payload, unit=unit
        )
    return reaction(
        env,
        command_type="cancel",
        case_id=intent.notification_id,
        payload={"reason": intent.reason},
        unit=unit,
    )
