"""How the decider answers a batch's commands, and what it logs of each outcome."""

from __future__ import annotations

from contracts.commands import CommandEnvelope, Reply
from services.common import logging as logs
from services.common.decider import Head, Outcome, refusal

log = logs.get(__name__)
Answer = tuple[CommandEnvelope, Reply]


def failed(meta: CommandEnvelope) -> Outcome:
    """The answer to a command that tripped a defect: nothing recorded, the caller told."""
    answer = refusal(meta, 500, "Internal error", "the command could not be decided")
    return Outcome(events=[], head=Head(), reply=answer)


def encoded(answers: list[Answer]) -> list[tuple[str, bytes]]:
    """The replies as records of the replies topic: keyed by command id, the reply as JSON."""
    return [(meta.command_id, reply.model_dump_json().encode()) for meta, reply in answers]


def logged(meta: CommandEnvelope, outcome: Outcome, reply: Reply) -> None:
    """Log the events a command appended, or its refusal."""
    for env in outcome.events:
        log.info(
            "event.appended",
            case_id=meta.case_id,
            command_id=meta.command_id,
            event_type=env.event_type,
            event_id=str(env.event_id),
            case_version=env.case_version,
        )
    if not outcome.events and not reply.ok and reply.refusal is not None:
        log.info(
            "command.refused",
            case_id=meta.case_id,
            command_id=meta.command_id,
            command_type=meta.command_type,
            status=reply.refusal.status,
        )
