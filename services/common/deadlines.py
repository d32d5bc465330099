"""The worker's deadline sweep: the commands its due cases' deadlines call for, each tick."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from services.common import logging as logs
from services.common.deadletters import Record, dead_letter
from services.common.decider import CaseKind
from services.common.dueindex import DueIndex
from services.common.isolation import reason_of
from services.common.producer import WorkerProducer
from services.common.timers import Stalled, sweep, wake

log = logs.get(__name__)
# Cases looked at in one tick at most, so the tick after midnight, when a day's deadlines
# pass at once, is spread over the next few ticks rather than holding the worker up.
PER_TICK = 200
# A case a tick looked at is looked at again after this, unless its head changes first (as
# the commands sent, once decided, change it): the ticks between move on to other cases.
AGAIN = timedelta(minutes=2)
# Cases filed in the index at once when a partition is claimed.
FILED_AT_ONCE = 5000
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
        self.per_tick = PER_TICK
        # Cases set aside, each with the head it failed on: retried once that head changes.
        self.stalled: dict[str, str] = {}

    def held(self, partition: int, heads: Mapping[str, Any]) -> None:
        """A partition was claimed with these heads: file them afresh."""
        self.due.drop(partition)
        self.kept(partition, heads)

    def kept(self, partition: int, heads: Mapping[str, Any]) -> None:
        """These heads were stored: file each case at the moment it is next due."""
        items: Iterator[tuple[str, Any]] = iter(heads.items())
        while chunk := list(itertools.islice(items, FILED_AT_ONCE)):
            self.due.note(partition, [(c, wake(self.kind, c, h)) for c, h in chunk])
            for case_id, _ in chunk:
                self.stalled.pop(case_id, None)

    def released(self, partition: int) -> None:
        """A partition is no longer held: its cases are not this worker's to time."""
        self.due.drop(partition)

    async def tick(self) -> None:
        """Send the commands deadlines call for; set aside a case whose deadlines fail."""
        now = self.clock()
        heads, where = [], {}
        for case_id, partition in self.due.due(now, self.per_tick):
            stored = self.head(partition, case_id)
            if stored is not None:
                heads.append((case_id.encode(), stored))
                where[case_id] = partition
        swept = sweep(self.kind, heads, now, self.stalled)
        # Filed later before anything is sent: a head stored meanwhile files its case anew.
        for partition in set(where.values()):
            later = now + AGAIN
            self.due.note(partition, [(c, later) for c, p in where.items() if p == partition])
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
            for case_id, partition in where.items():
                if case_id not in self.stalled:
                    self._refile(partition, case_id)

    def _refile(self, partition: int, case_id: str) -> None:
        """File a case again at the moment its head, as held now, is next due."""
        stored = self.head(partition, case_id)
        if stored is not None:
            self.due.note(partition, [(case_id, wake(self.kind, case_id, stored))])

    async def _park(self, case: Stalled) -> None:
        """Park a note of a case whose deadlines failed beside the commands it would have sent.

        It is no record of the log, so it has no offset; it names the case's head instead.
        """
        note = {"case_id": case.case_id, "version": case.version, "head": case.mark}
        where = Record(json.dumps(note).encode(), self.commands_topic, -1, -1)
        reason = f"timer: {case.reason}"
        await dead_letter(self.sender, where, reason, case_id=case.case_id, quarantined=True)
