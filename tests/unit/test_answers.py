"""A case's memory of answered commands: bounded by count and age, never deciding twice."""

from __future__ import annotations

from datetime import timedelta

from contracts.commands import CommandEnvelope, Reply
from services.common.answers import MAX_AGE, MAX_ANSWERED, Memory, remember
from services.common.decider import Head, process
from services.intake.service import KIND
from tests.unit.stories import T0, command
from tests.unit.test_intake_domain import SEALED, log_payload

CASE = "GRV-TEST00000200"


def feedback(n: int, *, minutes: int | None = None) -> CommandEnvelope:
    """The n-th feedback on the case, issued n minutes after it was logged unless told."""
    at = T0 + timedelta(minutes=n if minutes is None else minutes)
    return command(CASE, "give_feedback", {"note": SEALED}, at=at, command_id=f"cmd-feedback-{n}")


def acknowledged() -> Head:
    head = process(KIND, Head(), command(CASE, "log", log_payload(), command_id="cmd-log-0")).head
    return process(KIND, head, command(CASE, "acknowledge", command_id="cmd-ack-0")).head


def after(head: Head, commands: list[CommandEnvelope]) -> Head:
    for meta in commands:
        outcome = process(KIND, head, meta)
        assert outcome.reply.ok, outcome.reply.refusal
        head = outcome.head
    return head


def test_the_memory_keeps_the_newest_commands_up_to_its_count() -> None:
    head = after(acknowledged(), [feedback(n) for n in range(1, MAX_ANSWERED + 11)])
    assert len(head.answered) == MAX_ANSWERED == len(head.answered_on)
    newest = [f"cmd-feedback-{n}" for n in range(11, MAX_ANSWERED + 11)]
    assert list(head.answered) == newest
    # The last forgotten is feedback 10, issued ten minutes in.
    assert head.forgotten == T0 + timedelta(minutes=10)


def test_a_redelivery_at_the_bound_is_answered_as_it_was() -> None:
    commands = [feedback(n) for n in range(1, MAX_ANSWERED + 11)]
    head = after(acknowledged(), commands)
    oldest_kept = commands[10]
    again = process(KIND, head, oldest_kept)
    assert again.events == [] and again.head == head
    assert again.reply.ok and again.reply == Reply.model_validate(
        head.answered[oldest_kept.command_id][1]
    )


def test_a_redelivery_older_than_the_bound_is_refused_and_writes_nothing() -> None:
    commands = [feedback(n) for n in range(1, MAX_ANSWERED + 11)]
    head = after(acknowledged(), commands)
    forgotten = commands[0]
    assert forgotten.command_id not in head.answered
    again = process(KIND, head, forgotten)
    assert again.events == [] and again.head == head
    assert again.reply.refusal is not None and again.reply.refusal.status == 409
    assert again.reply.refusal.title == "Command too old"


def test_the_memory_survives_being_stored_and_read_back() -> None:
    head = after(acknowledged(), [feedback(n) for n in range(1, MAX_ANSWERED + 3)])
    stored = Head.model_validate_json(head.model_dump_json())
    assert stored == head
    refused = process(KIND, stored, feedback(1))
    assert refused.events == [] and refused.reply.refusal is not None


def test_a_new_command_issued_after_the_mark_is_decided() -> None:
    head = after(acknowledged(), [feedback(n) for n in range(1, MAX_ANSWERED + 3)])
    fresh = process(KIND, head, feedback(MAX_ANSWERED + 3))
    assert fresh.reply.ok and len(fresh.events) == 1


def test_commands_older_than_the_age_bound_are_forgotten() -> None:
    head = after(acknowledged(), [feedback(1), feedback(2)])
    later = MAX_AGE + timedelta(minutes=2)
    head = after(head, [feedback(3, minutes=int(later.total_seconds() // 60) + 1)])
    assert list(head.answered) == ["cmd-feedback-3"]
    assert head.forgotten == T0 + timedelta(minutes=2)
    refused = process(KIND, head, feedback(2))
    assert refused.events == [] and refused.reply.refusal is not None
    assert refused.reply.refusal.title == "Command too old"


def test_commands_remembered_without_an_issue_time_are_taken_as_issued_now() -> None:
    at = T0 + timedelta(days=1)
    legacy = Memory({f"old-{n}": ("", {}) for n in range(3)}, {}, None)
    kept = remember(legacy, "new-1", ("f", {}), at, most=2)
    assert list(kept.answered) == ["old-2", "new-1"]
    assert kept.issued == {"new-1": at}
    assert kept.forgotten == at


def test_answering_the_same_command_again_does_not_grow_the_memory() -> None:
    at = T0
    memory = remember(Memory({}, {}, None), "cmd-1", ("f", {}), at)
    again = remember(memory, "cmd-1", ("f", {"ok": True}), at)
    assert list(again.answered) == ["cmd-1"] and again.forgotten is None
