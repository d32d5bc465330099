"""Effects: work outside the ledger that the cases a worker holds call for, reported as commands.

Each tick hands the cases held in the worker's partitions, as they stand, to an action; the
action does what they call for (sending a message, say) and answers with the commands that
record what happened, which go to the cases' own decider like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from contracts.commands import CommandEnvelope
from services.common import logging as logs
from services.common.decider import Head
from services.common.isolation import reason_of

if TYPE_CHECKING:
    from services.common.worker import DeciderWorker, Extra

log = logs.get(__name__)
# The held cases by id, as their kind's state, and the worker's clock.
Act = Callable[[dict[str, Any], datetime], Awaitable[list[CommandEnvelope]]]


def held_states(worker: DeciderWorker[Any]) -> dict[str, Any]:
    """Return the state of every case held in the worker's partitions (unreadable heads left out).

    A head that cannot be read is the timers' to report; an action never works from one.
    """
    states: dict[str, Any] = {}
    for key, stored in list(worker.partitions.heads()):
        case_id = key.decode(errors="replace")
        try:
            head = Head.model_validate(stored)
            if head.state is not None:
                states[case_id] = worker.kind.of(case_id).state.model_validate(head.state)
        except Exception:  # reported by the timers, which sweep the same heads
            continue
    return states


def effects(name: str, act: Act) -> Extra:
    """Install an action run on every tick of the worker's timers over the cases it holds."""

    def install(worker: DeciderWorker[Any]) -> None:
        async def tick() -> None:
            try:
                commands = await act(held_states(worker), worker.clock())
                for meta in commands:
                    await worker.sender.send_command(meta, worker.kind.stream)
            except Exception as exc:  # the next tick finds the same cases and tries again
                log.warning("effects.tick_failed", effects=name, error=reason_of(exc))

        worker.app.timer(interval=worker.settings.timer_interval_s, name=f"{name}-effects")(tick)

    return install
