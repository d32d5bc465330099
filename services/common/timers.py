"""Timers: deadlines found in the case heads become commands to the cases' own decider."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from contracts.commands import CommandEnvelope
from services.common.decider import CaseKind, Head
from services.common.ids import timer_command_id
from services.common.reactions import system_actor


def due_commands(
    stream_kind: CaseKind[Any], heads: Iterable[tuple[bytes, Any]], now: datetime
) -> list[CommandEnvelope]:
    """Return the commands the cases' deadlines call for at `now`, identical on every tick."""
    commands: list[CommandEnvelope] = []
    for key, stored in heads:
        case_id = key.decode()
        head = Head.model_validate(stored)
        if head.state is None:
            continue
        kind = stream_kind.of(case_id)
        state = kind.state.model_validate(head.state)
        for command_type, payload in kind.due(state, now):
            commands.append(
                CommandEnvelope(
                    command_id=timer_command_id(
                        case_id, command_type, json.dumps(payload, sort_keys=True)
                    ),
                    command_type=command_type,
                    case_id=case_id,
                    actor=system_actor(getattr(state, "unit", "system")),
                    issued_at=now,
                    occurred_at=now,
                    correlation_id=case_id,
                    causation_id=f"timer:{command_type}",
                    payload=payload,
                    reply=False,
                )
            )
    return commands
