"""A decider working from a stale head writes events that contradict the log; every reader says so.

A fenced writer cannot land such events; these are the rules that catch one all the same
(a forger, a bug, a log written before the fencing), in the decider's heads, the reactors'
chains, the read model and the audit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts.envelope import Envelope
from contracts.registry import REGISTRY
from services.audit import verification
from services.audit.records import LogRecord, Position
from services.common.decider import Head, Outcome, process
from services.common.headstore import later_head
from services.common.reactions import SourceCase, follow_chain
from services.common.readmodel import ReadModel
from services.common.readschema import Record
from services.intake.service import KIND
from tests.unit.stories import command
from tests.unit.test_intake_domain import FEEDBACK, WITHDRAW, log_payload

CASE = "GRV-REPEAT000001"
TOPIC = "grievance.events"


def decided(
    head: Head,
    command_type: str,
    payload: dict[str, Any] | None = None,
    command_id: str | None = None,
) -> Outcome:
    outcome = process(KIND, head, command(CASE, command_type, payload, command_id=command_id))
    assert outcome.reply.ok, outcome.reply.refusal
    return outcome


def forgetful(head: Head) -> Head:
    """The head at the same place in the chain, without the memory of commands answered."""
    return head.model_copy(update={"answered": {}})


@pytest.fixture
def history() -> dict[str, Envelope]:
    """A case logged, acknowledged and given feedback; and what stale heads would add to it."""
    logged = decided(Head(), "log", log_payload())
    acked = decided(logged.head, "acknowledge")
    note, body = FEEDBACK
    feedback = decided(acked.head, note, body, command_id="cmd-feedback-1")
    # The feedback decided once more by a head that lost its memory of it: same event id.
    again = decided(forgetful(feedback.head), note, body, command_id="cmd-feedback-1")
    # Another command decided from the head before the acknowledgement: same version.
    stale = decided(logged.head, *WITHDRAW)
    return {
        "logged": logged.events[0],
        "acked": acked.events[0],
        "feedback": feedback.events[0],
        "again": again.events[0],
        "stale": stale.events[0],
    }


def test_stale_heads_make_events_that_contradict_the_log(history: dict[str, Envelope]) -> None:
    again, first = history["again"], history["feedback"]
    assert again.event_id == first.event_id and again.hash != first.hash
    assert history["stale"].case_version == history["acked"].case_version
    assert history["stale"].hash != history["acked"].hash


def test_a_head_read_again_only_moves_forward() -> None:
    v1, v2 = {"version": 1, "hash": "a"}, {"version": 2, "hash": "b"}
    assert later_head(None, v1) == (v1, None)
    assert later_head(v1, v2) == (v2, None)
    assert later_head(v2, dict(v2)) == (v2, None)
    kept, problem = later_head(v2, v1)
    assert kept == v2 and problem == "goes back from version 2 to 1"
    kept, problem = later_head(v2, {"version": 2, "hash": "c"})
    assert kept == v2 and problem == "a second, different head at version 2"


def follow(events: list[Envelope]) -> SourceCase | None:
    source: SourceCase | None = None
    for env in events:
        source = follow_chain(source, env, REGISTRY.read(env), {"grievance.logged"}) or source
    return source


def test_a_reactor_skips_a_true_repeat_and_refuses_a_different_one(
    history: dict[str, Envelope],
) -> None:
    h = history
    read = follow([h["logged"], h["acked"], h["feedback"]])
    assert read is not None and read.version == 3
    feedback = h["feedback"]
    assert follow_chain(read, feedback, REGISTRY.read(feedback), {"grievance.logged"}) is None
    with pytest.raises(ValueError, match=f"repeats event {h['again'].event_id}"):
        follow([h["logged"], h["acked"], h["feedback"], h["again"]])
    with pytest.raises(ValueError, match="version 2 differs"):
        follow([h["logged"], h["acked"], h["stale"]])


def test_a_reactor_that_read_a_case_before_it_kept_event_ids_still_follows_it(
    history: dict[str, Envelope],
) -> None:
    h = history
    read = follow([h["logged"], h["acked"]])
    assert read is not None
    older = read.model_copy(update={"ids": {}})
    feedback = h["feedback"]
    after = follow_chain(older, feedback, REGISTRY.read(feedback), {"grievance.logged"})
    assert after is not None and after.ids == {str(feedback.event_id): 3}


def log_records(events: list[Envelope]) -> list[LogRecord]:
    return [
        LogRecord(Position(TOPIC, 0, offset), env.case_id, env.to_bytes())
        for offset, env in enumerate(events)
    ]


def test_the_audit_names_an_event_id_repeated_with_another_hash(
    history: dict[str, Envelope],
) -> None:
    h = history
    clean = verification.verify(log_records([h["logged"], h["acked"], h["feedback"]] * 2))
    assert clean.clean and clean.redeliveries == 3
    verdict = verification.verify(log_records([h["logged"], h["acked"], h["feedback"], h["again"]]))
    [finding] = verdict.findings
    assert finding.kind == "conflict" and finding.position == Position(TOPIC, 0, 3)
    assert str(h["again"].event_id) in finding.detail and f"{TOPIC}/0@2" in finding.detail
    [stale] = verification.verify(log_records([h["logged"], h["acked"], h["stale"]])).findings
    assert stale.kind == "conflict" and "version 2" in stale.detail


def test_the_read_model_dead_letters_a_repeat_with_another_hash(
    tmp_path: Path, history: dict[str, Envelope]
) -> None:
    h = history
    model = ReadModel(tmp_path / "model.sqlite", KIND, TOPIC, foreign={"other.events": _ignore})
    events = [h["logged"], h["acked"], h["feedback"], h["feedback"], h["again"]]
    records = [Record(TOPIC, 0, offset, env.to_bytes()) for offset, env in enumerate(events)]
    dead = model.apply_batch(records)
    model.commit()
    assert model.duplicates == 1
    [letter] = dead
    assert letter.record.offset == 4 and letter.case_id == CASE
    assert f"repeats event {h['again'].event_id} (first at {TOPIC}/0@2)" in letter.reason
    assert [e["event_id"] for e in model.history(CASE)] == [str(e.event_id) for e in events[:3]]
    foreign = [Record("other.events", 0, n, env.to_bytes()) for n, env in enumerate(events[2:])]
    dead = model.apply_batch(foreign)
    model.commit()
    assert model.duplicates == 2
    assert [d.record.offset for d in dead] == [2]
    assert "with a different hash" in dead[0].reason
    model.close()


def _ignore(*_: object) -> None:
    return None
