"""The timers' due-date index: a case is filed at the moment its deadlines pass, and no earlier."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, cast

from bench import timers
from contracts.commands import CommandEnvelope
from services.common.calendar import end_of_day
from services.common.deadlines import AGAIN, Deadlines
from services.common.decider import CaseKind, Head
from services.common.dueindex import DueIndex
from services.common.isolation import UNREADABLE
from services.common.producer import WorkerProducer
from services.common.timers import AT_ONCE, sweep, wake
from services.followup.service import KIND as FOLLOWUPS
from services.intake.service import KIND as GRIEVANCES
from services.mediation.service import KIND as DISPUTES
from tests.unit.dispute_stories import accepted, applied
from tests.unit.stories import T0, Story
from tests.unit.test_followup_domain import schedule
from tests.unit.test_intake_domain import SEALED, log_payload

GRV = "GRV-TEST00000300"


def logged(case_id: str = GRV) -> Story[Any]:
    story = Story(GRIEVANCES, case_id)
    assert story.when("log", log_payload()).reply.ok
    return story


def agrees_with_the_sweep(kind: CaseKind[Any], case_id: str, head: Head) -> None:
    """Nothing is due before the moment filed, and something is due from it on."""
    stored = head.model_dump(mode="json")
    at = wake(kind, case_id, stored)
    probes = [T0 + timedelta(hours=h) for h in range(0, 24 * 400, 7)]
    for now in probes:
        due = sweep(kind, [(case_id.encode(), stored)], now).commands
        assert bool(due) == (at is not None and now >= at), (case_id, now, at, due)


def test_a_logged_grievance_is_filed_at_the_end_of_its_acknowledgement_day() -> None:
    story = logged()
    state = story.state()
    assert state.ack_due is not None
    assert wake(GRIEVANCES, GRV, story.head.model_dump(mode="json")) == end_of_day(state.ack_due)
    agrees_with_the_sweep(GRIEVANCES, GRV, story.head)


def test_a_closed_grievance_is_never_due() -> None:
    story = logged()
    assert story.when("acknowledge").reply.ok
    assert story.when("resolve", {"how": "on_site", "resolution": SEALED}).reply.ok
    assert story.when("close").reply.ok
    assert wake(GRIEVANCES, GRV, story.head.model_dump(mode="json")) is None
    agrees_with_the_sweep(GRIEVANCES, GRV, story.head)


def test_disputes_and_follow_ups_are_filed_as_their_own_rules_say() -> None:
    agrees_with_the_sweep(DISPUTES, "DSP-TEST00000001", applied().head)
    agrees_with_the_sweep(DISPUTES, "DSP-TEST00000001", accepted().head)
    agrees_with_the_sweep(FOLLOWUPS, "FUP-TEST00000001", schedule().head)


def test_a_head_that_cannot_be_read_is_looked_at_on_the_next_tick() -> None:
    assert wake(GRIEVANCES, GRV, {UNREADABLE: "not believed"}) == AT_ONCE
    assert wake(GRIEVANCES, GRV, {"version": "x", "state": {}}) == AT_ONCE
    assert wake(GRIEVANCES, GRV, {"version": 0}) is None


def test_the_index_returns_only_what_is_due_earliest_first() -> None:
    index = DueIndex()
    index.note(0, [("A", T0 + timedelta(days=2)), ("B", T0), ("C", None), ("D", AT_ONCE)])
    index.note(1, [("E", T0 + timedelta(days=1))])
    assert index.due(T0, 10) == [("D", 0), ("B", 0)]
    assert index.due(T0 + timedelta(days=1), 10) == [("D", 0), ("B", 0), ("E", 1)]
    index.note(0, [("B", None)])
    index.forget(["D"])
    index.drop(1)
    assert index.due(T0 + timedelta(days=9), 10) == [("A", 0)]
    assert len(index) == 1


class Sent:
    """Stands in for the producer: keeps the commands sent."""

    def __init__(self) -> None:
        self.commands: list[CommandEnvelope] = []

    async def send_command(self, meta: CommandEnvelope, _stream: str) -> None:
        self.commands.append(meta)


def test_a_tick_sends_what_the_cases_due_call_for_and_a_stored_head_moves_them() -> None:
    story = logged()
    heads = {GRV: story.head.model_dump(mode="json")}
    sent = Sent()
    clock = [T0]
    producer = cast(WorkerProducer, sent)
    deadlines = Deadlines(
        GRIEVANCES, lambda _p, c: heads.get(c), lambda: clock[0], producer, "grievance.commands"
    )
    deadlines.held(3, heads)
    asyncio.run(deadlines.tick())
    assert sent.commands == []
    clock[0] = T0 + timedelta(days=30)
    asyncio.run(deadlines.tick())
    assert [c.payload for c in sent.commands] == [{"stage": "acknowledge"}, {"stage": "answer"}]
    deadlines.released(3)
    asyncio.run(deadlines.tick())
    assert len(sent.commands) == 2


def test_a_tick_looks_at_a_bounded_number_of_cases_then_at_the_others() -> None:
    heads = {
        f"GRV-TEST0000040{n}": logged(f"GRV-TEST0000040{n}").head.model_dump(mode="json")
        for n in range(5)
    }
    sent = Sent()
    clock = [T0 + timedelta(days=30)]
    producer = cast(WorkerProducer, sent)
    deadlines = Deadlines(
        GRIEVANCES, lambda _p, c: heads.get(c), lambda: clock[0], producer, "grievance.commands"
    )
    deadlines.per_tick = 2
    deadlines.held(3, heads)

    def tick() -> list[str]:
        sent.commands.clear()
        asyncio.run(deadlines.tick())
        return sorted({c.case_id for c in sent.commands})

    ticked = [tick(), tick(), tick()]
    assert [len(cases) for cases in ticked] == [2, 2, 1]
    assert sorted(c for cases in ticked for c in cases) == sorted(heads)
    # Commands on their way: nothing is sent again until they have had time to be decided.
    assert tick() == []
    # A head stored files its case at its own moment again, here one already passed.
    first = sorted(heads)[0]
    deadlines.kept(3, {first: heads[first]})
    assert tick() == [first]
    clock[0] += AGAIN
    assert len(tick()) == 2


class Failing:
    """Stands in for a producer that cannot reach the broker."""

    async def send_command(self, meta: CommandEnvelope, _stream: str) -> None:
        raise ConnectionError("the broker is away")


def test_a_tick_that_could_not_send_leaves_its_cases_due_for_the_next() -> None:
    heads = {GRV: logged().head.model_dump(mode="json")}
    clock = [T0 + timedelta(days=30)]
    producer = cast(WorkerProducer, Failing())
    deadlines = Deadlines(
        GRIEVANCES, lambda _p, c: heads.get(c), lambda: clock[0], producer, "grievance.commands"
    )
    deadlines.held(3, heads)
    asyncio.run(deadlines.tick())
    assert deadlines.due.due(clock[0], 10) == [(GRV, 3)]


def test_a_tick_reads_only_the_cases_due_however_many_are_open() -> None:
    """`python -m bench.timers 1000000` is the same measurement over a million cases."""
    measured = timers.run(10_000, ticks=3)
    assert measured["open_cases"] == 10_000
    assert measured["quiet"]["due"] == measured["quiet"]["commands"] == timers.QUIET
    assert measured["midnight"]["due"] == timers.MIDNIGHT
    assert measured["midnight"]["commands"] >= timers.MIDNIGHT
    # The midnight's cases are worked off a bounded number per tick.
    per_tick = measured["midnight"]["per_tick"]
    assert measured["midnight"]["ticks"] == -(-timers.MIDNIGHT // per_tick)
    assert measured["quiet"]["tick_cpu_p50_ms"] < 100, measured
