"""Timers as a story: a grievance left unacknowledged is marked overdue, once, by its decider."""

from __future__ import annotations

from datetime import timedelta

from services.common.decider import process
from services.common.timers import sweep
from services.intake.service import KIND
from tests.unit.stories import Story
from tests.unit.test_intake_domain import log_payload

CASE = "GRV-TEST00000200"


def test_an_overdue_grievance_gets_one_timer_command_however_often_the_clock_ticks() -> None:
    story = Story(KIND, CASE)
    assert story.when("log", log_payload()).reply.ok
    heads = [(CASE.encode(), story.head.model_dump(mode="json"))]
    assert sweep(KIND, heads, story.clock).commands == []
    later = story.clock + timedelta(days=10)
    first, again = sweep(KIND, heads, later).commands, sweep(KIND, heads, later).commands
    assert [c.payload for c in first] == [{"stage": "acknowledge"}, {"stage": "answer"}]
    assert [c.command_id for c in first] == [c.command_id for c in again]
    assert all(c.actor.role == "system" and not c.reply for c in first)
    marked = process(KIND, story.head, first[0])
    assert [e.event_type for e in marked.events] == ["grievance.overdue"]
    heads = [(CASE.encode(), marked.head.model_dump(mode="json"))]
    assert [c.payload for c in sweep(KIND, heads, later).commands] == [{"stage": "answer"}]


def test_a_case_without_state_has_no_deadlines() -> None:
    assert sweep(KIND, [(CASE.encode(), {"version": 0})], Story(KIND, CASE).clock).commands == []
