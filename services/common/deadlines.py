"""The worker's deadline sweep: the commands its cases' deadlines call for, each tick."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from services.common import logging as logs
from services.common.deadletters import Record, dead_letter
from services.common.decider import CaseKind
from services.common.isolation import reason_of
from services.common.producer import WorkerProducer
from services.common.timers import Stalled, sweep

log = logs.get(__name__)


class Deadlines:
    """Sweep the held case heads for due deadlines; set aside a case whose rules fail."""

    def __init__(
        self,
        kind: CaseKind[Any],
        heads: Callable[[], Iterable[tuple[bytes, Any]]],
        clock: Callable[[], datetime],
        sender: WorkerProducer,
        commands_topic: str,
    ) -> None:
        self.kind = kind
        self.heads = heads
        self.clock = clock
        self.sender = sender
        self.commands_topic = commands_topic
        # Cases set aside, each with the head it failed on: retried once that head changes.
        self.stalled: dict[str, str] = {}

    async def tick(self) -> None:
        """Send the commands deadlines call for; set aside a case whose deadlines fail."""
        swept = sweep(self.kind, list(self.heads()), self.clock(), self.stalled)
        fresh = {case.case_id for case in swept.failed}
        self.stalled = {c: mark for c, mark in swept.held.items() if c not in fresh}
        try:
            for case in swept.failed:
                await self._park(case)
                self.stalled[case.case_id] = case.mark
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
