"""Effects: work outside the ledger that the cases a worker holds call for, reported as commands.

Each tick hands the cases held in the worker's partitions, as they stand, to an action; the
action does what they call for (sending a message, say) and answers with the commands that
record what happened, which go to the cases' own decider like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from contracts.commands import CommandEnvelope
from services.common import logging as logs
from services.common.decider import CaseKind, Head
from services.common.isolation import reason_of

if TYPE_CHECKING:
    from services.common.worker import DeciderWorker, Extra

log = logs.get(__name__)
# The held cases by id, as their kind's state, and the worker's clock.
Act = Callable[[dict[str, Any], datetime], Awaitable[list[CommandEnvelope]]]
# Whether a case, as it stands, is one the action may have to act on.
Concerns = Callable[[Any], bool]


def state_of(kind: CaseKind[Any], case_id: str, stored: Mapping[str, Any]) -> Any | None:
    """The case's state as its kind reads it, or None for a case not begun or a head unreadable.

    A head that cannot be read is the timers' to report; an action never works from one.
    """
    try:
        head = Head.model_validate(stored)
        if head.state is None:
            return None
        return kind.of(case_id).state.model_validate(head.state)
    except Exception:  # reported by the timers, which sweep the same heads
        return None


class Concerned:
    """The held cases an action is concerned with, each read once whenever its head changes.

    Told of every head a partition is claimed with and every head stored, as the timers'
    due-date index is, so a tick works from the cases still to be acted on rather than
    reading every case the worker holds, most of them long done.
    """

    def __init__(self, kind: CaseKind[Any], concerns: Concerns) -> None:
        self.kind, self.concerns = kind, concerns
        self._by_partition: dict[int, dict[str, Any]] = {}

    def held(self, partition: int, heads: Mapping[str, Any]) -> None:
        """A partition was claimed with these heads: take its cases afresh."""
        self._by_partition[partition] = {}
        self.kept(partition, heads)

    def kept(self, partition: int, heads: Mapping[str, Any]) -> None:
        """These heads were stored: keep each case the action is concerned with, drop the rest."""
        cases = self._by_partition.setdefault(partition, {})
        for case_id, stored in heads.items():
            state = state_of(self.kind, case_id, stored)
            if state is not None and self.concerns(state):
                cases[case_id] = state
            else:
                cases.pop(case_id, None)

    def released(self, partition: int) -> None:
        """A partition is no longer held."""
        self._by_partition.pop(partition, None)

    def states(self, partitions: Iterable[int]) -> dict[str, Any]:
        """The concerned cases of these partitions (those held now), by id."""
        states: dict[str, Any] = {}
        for partition in partitions:
            states.update(self._by_partition.get(partition, {}))
        return states


def effects(name: str, act: Act, concerns: Concerns) -> Extra:
    """Install an action run on every tick of the timers over the held cases it concerns."""

    def install(worker: DeciderWorker[Any]) -> None:
        concerned = Concerned(worker.kind, concerns)
        worker.partitions.watches.append(concerned)

        async def tick() -> None:
            try:
                # Only the partitions held now: one given up after a failed write is not.
                states = concerned.states(list(worker.partitions.claims))
                commands = await act(states, worker.clock())
                for meta in commands:
                    await worker.sender.send_command(meta, worker.kind.stream)
            except Exception as exc:  # the next tick finds the same cases and tries again
                log.warning("effects.tick_failed", effects=name, error=reason_of(exc))

        worker.app.timer(interval=worker.settings.timer_interval_s, name=f"{name}-effects")(tick)

    return install
