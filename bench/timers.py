"""Scenario 6, timers: a deadline tick over many open cases, through the due-date index.

Run in a process of its own (`python -m bench.timers CASES`) that holds what a worker holds
of its cases: every case's head in the worker's head store, every case in the due-date
index, and the worker's code loaded. The cases are open grievances due over the coming
year; a tick finds the few due by now, reads their heads and sends what their deadlines
call for. After midnight a day's deadlines pass at once: the ticks that follow work them
off a bounded number of cases at a time, and what each of them costs is measured.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from bench.memory import peak_rss_mb
from bench.stats import percentile
from contracts.commands import CommandEnvelope
from services.common.deadlines import Deadlines
from services.common.decider import Head
from services.common.dueindex import DueIndex
from services.common.headstore import HeadStore
from services.common.ids import new_case_id
from services.common.producer import WorkerProducer
from services.common.settings import ROOT
from services.common.timers import wake
from services.intake.domain import Grievance
from services.intake.service import KIND

YEAR = timedelta(days=365)
# Cases due at an ordinary tick (those whose deadline passed since the last, and those whose
# timer commands are on their way), and at the tick after midnight, when a day's deadlines
# of a million cases a year pass at once.
QUIET = 100
MIDNIGHT = 2_740
CHUNK = 50_000


class Kept:
    """Stands in for the producer: counts the commands a tick sends."""

    def __init__(self) -> None:
        self.sent = 0

    async def send_command(self, _meta: CommandEnvelope, _stream: str) -> None:
        """Count one command."""
        self.sent += 1


def _head() -> dict[str, Any]:
    """A logged grievance's head, as a partition holds it."""
    opened = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    state = Grievance(
        case_id="GRV-000000000000",
        unit="demo/co/p01",
        status="logged",
        category="canteen",
        channel="in_person",
        anonymous=True,
        person_id=None,
        summary="食堂菜品有待改善",
        opened_at=opened,
        last_event_at=opened,
        ack_due=date(2026, 11, 24),
        answer_due=date(2026, 12, 7),
    )
    return Head(version=1, state=state.model_dump(mode="json")).model_dump(mode="json")


def _fill(store: HeadStore, index: DueIndex, head: dict[str, Any], cases: int) -> datetime:
    """File `cases` open cases, due over a year, each head in the store; return the first due."""
    step = YEAR / cases
    start = _first_due(head)
    for first in range(0, cases, CHUNK):
        partition = first // CHUNK % 16
        numbers = range(first, min(cases, first + CHUNK))
        ids = [new_case_id("GRV", f"bench-{n}") for n in numbers]
        store.put(
            partition, {c: {**head, "hash": f"{n:064x}"} for n, c in zip(numbers, ids, strict=True)}
        )
        index.note(partition, ((c, start + step * n) for n, c in zip(numbers, ids, strict=True)))
    return start


def run(cases: int, ticks: int = 20) -> dict[str, Any]:
    """File `cases` open cases, then time ticks of each kind; return what was measured."""
    import services.intake.app  # noqa: F401  the worker's code, as much of its memory as any

    head = _head()
    index, store = DueIndex(), HeadStore()
    began = time.perf_counter()
    start = _fill(store, index, head, cases)
    filed_s = time.perf_counter() - began
    step = YEAR / cases
    measured: dict[str, Any] = {"open_cases": len(index), "filed_s": round(filed_s, 1)}
    for name, due, rounds in (("quiet", QUIET, ticks), ("midnight", MIDNIGHT, 3)):
        moment = start + step * (due - 1)
        kept = Kept()
        deadlines = Deadlines(
            KIND, store.get, functools.partial(_at, moment), cast(WorkerProducer, kept), ""
        )
        deadlines.due = index
        # The cases due, filed again before each round so that each starts from the same index.
        pending = index.due(moment, cases)
        took: list[float] = []
        spent: list[float] = []
        per_round = []
        for _ in range(rounds):
            for case_id, partition in pending:
                index.note(partition, [(case_id, moment)])
            round_ticks = 0
            while index.due(moment, 1):
                began, cpu = time.perf_counter(), time.process_time()
                asyncio.run(deadlines.tick())
                took.append((time.perf_counter() - began) * 1000)
                # The process's own CPU: what a tick costs on a machine others load too.
                spent.append((time.process_time() - cpu) * 1000)
                round_ticks += 1
            per_round.append(round_ticks)
        measured[name] = {
            "due": len(pending),
            "commands": kept.sent // rounds,
            "ticks": max(per_round),
            "per_tick": deadlines.per_tick,
            "tick_p50_ms": round(percentile(took, 50), 1),
            "tick_p99_ms": round(percentile(took, 99), 1),
            "tick_cpu_p50_ms": round(percentile(spent, 50), 1),
            "tick_cpu_p99_ms": round(percentile(spent, 99), 1),
        }
    return {**measured, **peak_rss_mb(os.getpid())}


def _at(moment: datetime) -> datetime:
    """A clock stopped at a moment."""
    return moment


def _first_due(head: dict[str, Any]) -> datetime:
    """The moment the head's deadlines first pass."""
    moment = wake(KIND, "GRV-000000000000", head)
    assert moment is not None, "a logged grievance has deadlines running"
    return moment


def measure(cases: int) -> dict[str, Any]:
    """Run the scenario in a fresh process and return what it measured."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.timers", str(cases)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return measured


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]))))
