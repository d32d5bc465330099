"""The worker's deadline sweep: the commands its due cases' deadlines call for, each tick."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.common import logging as logs
from services.common.deadletters import Record, dead_letter
from services.common.decider import CaseKind
from services.common.dueindex import DueIndex
from services.common.isolation import reason_of
from services.common.producer import WorkerProducer
from services.common.timers import Stalled, sweep, wake

log = logs.get(__name__)
# Cases looked at in one tick at most; the next tick takes those still due.
PER_TICK = 10_000
# The head a partition holds for a case, or None.
HeldHead = Callable[[int, str], Any]


class Deadlines:
    """Sweep the cases the due-date index says are due; set aside a case whose rules fail.

    The index is told of every head a partition is claimed with and every head stored,
    so a tick reads only the cases due by now, however many cases are open.
    """

    def __init__(
        self,
        kind: CaseKind[Any],
        head: HeldHead,
        clock: Callable[[], datetime],
        sender: WorkerProducer,
        commands_topic: str,
    ) -> None:
        self.kind = kind
        self.head = head
        self.clock = clock
        self.sender = sender
        self.commands_topic = commands_topic
        self.due = DueIndex()
        # Cases set aside, each with the head it failed on: retried once that head changes.
        self.stalled: dict[str, str] = {}

    def held(self, partition: int, heads: Mapping[str, Any]) -> None:
        """A partition was claimed with these heads: file them afresh."""
        self.due.drop(partition)
        self.kept(partition, heads)

    def kept(self, partition: int, heads: Mapping[str, Any]) -> None:
        """These heads were stored: file each case at the moment it is next due."""
        self.due.note(partition, [(c, wake(self.kind, c, h)) for c, h in heads.items()])
        for case_id in heads:
            self.stalled.pop(case_id, None)

    def released(self, partition: int) -> None:
        """A partition is no longer held: its cases are not this worker's to time."""
        self.due.drop(partition)

    async def tick(self) -> None:
        """Send the commands deadlines call for; set aside a case whose deadlines fail."""
        now = self.clock()
        heads = []
        for case_id, partition in self.due.due(now, PER_TICK):
            stored = self.head(partition, case_id)
            if stored is not None:
                heads.append((case_id.encode(), stored))
        swept = sweep(self.kind, heads, now, self.stalled)
        try:
            for case in swept.failed:
                await self._park(case)
                self.stalled[case.case_id] = case.mark
                # Out of the index until its head changes, which files it again.
                self.due.forget([case.case_id])
            for meta in swept.commands:
                await self.sender.send_command(meta, self.kind.stream)
        except Exception as exc:  # the broker: the next tick sends the same commands again
            log.warning("timer.tick_failed", error=reason_of(exc))

    async def _park(self, case: Stalled) -> None:
        """Park a note of a case whose deadlines failed beside the commands it would have sent.

        It is no record of the log, so it has no offset; it names the case's head instead.
        """
        note = {"case_id": case.case_id, "version": case.version, "head": case.mark}
        where = Record(json.dumps(note).encode(), self.commands_topic, -1, -1)
        reason = f"timer: {case.reason}"
        await dead_letter(self.sender, where, reason, case_id=case.case_id, quarantined=True)
