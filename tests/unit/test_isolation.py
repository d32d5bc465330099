"""One bad case is set aside, never the worker: timers, reactors and read models as stories."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from contracts import grievance as g
from contracts.envelope import Envelope, seal_envelope
from contracts.registry import REGISTRY, EventPayload
from services.common.isolation import UNREADABLE, quarantine_mark, quarantined_since, reason_of
from services.common.queries import case_view
from services.common.reactions import NeverOpened, SourceCase, Stray, follow_chain
from services.common.reactorbody import Answer, judge
from services.common.readmodel import ReadModel
from services.common.readschema import Record
from services.common.store import Db
from services.common.timers import sweep
from services.intake.service import KIND
from tests.unit.stories import T0, Story
from tests.unit.test_intake_domain import SEALED, log_payload

GOOD, BAD, OTHER = "GRV-TEST00000301", "GRV-TEST00000302", "GRV-TEST00000303"
TOPIC, FOREIGN = "grievance.events", "dispute.events"


def history(case_id: str, *steps: str) -> list[Envelope]:
    """A grievance's events, decided by the real rules: logged, then the given steps."""
    story = Story(KIND, case_id)
    assert story.when("log", log_payload(anonymous=True, complainant=None)).reply.ok
    for step in steps:
        payload = {"how": "on_site", "resolution": SEALED} if step == "resolve" else {}
        assert story.when(step, payload).reply.ok, step
    return story.events


def boom() -> None:
    raise ZeroDivisionError("a defect")


# --- what a reason says -----------------------------------------------------------------------


def test_a_reason_names_the_error_and_the_line_it_came_from() -> None:
    with pytest.raises(ZeroDivisionError) as caught:
        boom()
    assert reason_of(caught.value) == (
        f"ZeroDivisionError: a defect (at tests/unit/test_isolation.py:"
        f"{boom.__code__.co_firstlineno + 1} in boom)"
    )


def test_a_reason_never_quotes_the_input_a_validation_error_carries() -> None:
    class Person(BaseModel):
        age: int

    with pytest.raises(ValueError) as caught:
        Person.model_validate({"age": "王小林 13800000001"})
    reason = reason_of(caught.value)
    assert reason.startswith("ValidationError: 1 validation error for Person")
    assert "王小林" not in reason and "138" not in reason


# --- timers -----------------------------------------------------------------------------------


def overdue_heads() -> tuple[list[tuple[bytes, Any]], Any]:
    good, bad = Story(KIND, GOOD), Story(KIND, BAD)
    for story in (good, bad):
        assert story.when("log", log_payload()).reply.ok
    unreadable = bad.head.model_dump(mode="json")
    assert unreadable["state"] is not None
    unreadable["state"] = {**unreadable["state"], "ack_due": "when it suits"}
    heads = [(GOOD.encode(), good.head.model_dump(mode="json")), (BAD.encode(), unreadable)]
    return heads, good.clock + timedelta(days=10)


def test_a_case_whose_deadlines_fail_is_reported_once_and_the_others_still_get_theirs() -> None:
    heads, later = overdue_heads()
    first = sweep(KIND, heads, later)
    assert [(c.case_id, c.payload["stage"]) for c in first.commands] == [
        (GOOD, "acknowledge"),
        (GOOD, "answer"),
    ]
    [stalled] = first.failed
    assert stalled.case_id == BAD and stalled.version == 1
    assert stalled.reason.startswith("ValidationError: 1 validation error for Grievance")
    assert "when it suits" not in stalled.reason
    assert first.held == {BAD: heads[1][1]["hash"]}
    again = sweep(KIND, heads, later, first.held)
    assert again.failed == [] and again.held == first.held
    assert [c.command_id for c in again.commands] == [c.command_id for c in first.commands]


def test_a_set_aside_case_is_tried_again_once_its_head_moves_on() -> None:
    heads, later = overdue_heads()
    held = sweep(KIND, heads, later).held
    moved = [(BAD.encode(), {**heads[1][1], "version": 2, "hash": "b" * 64})]
    assert [s.case_id for s in sweep(KIND, moved, later, held).failed] == [BAD]
    assert sweep(KIND, [heads[0]], later, held).held == {}


def test_any_error_of_a_deadline_rule_or_a_head_sets_only_that_case_aside() -> None:
    heads, later = overdue_heads()

    def due(state: Any, now: Any) -> list[tuple[str, dict[str, Any]]]:
        if state.case_id == GOOD:
            raise OverflowError("date value out of range")
        return []

    failing = dataclasses.replace(KIND, due=due)
    garbage = [(OTHER.encode(), ["not", "a", "head"]), heads[0]]
    swept = sweep(failing, garbage, later)
    assert swept.commands == []
    assert [(s.case_id, s.version, s.reason.split(":")[0]) for s in swept.failed] == [
        (OTHER, None, "ValidationError"),
        (GOOD, 1, "OverflowError"),
    ]


def test_a_head_kept_as_unreadable_or_not_believed_sets_its_case_aside() -> None:
    heads, later = overdue_heads()
    refused = {UNREADABLE: "not believed: an unsigned head that no signed checkpoint saw"}
    swept = sweep(KIND, [(OTHER.encode(), refused), heads[0]], later)
    [stalled] = swept.failed
    assert stalled.case_id == OTHER and stalled.version is None
    assert "kept as unreadable: not believed" in stalled.reason
    assert {c.case_id for c in swept.commands} == {GOOD}


# --- reactors ---------------------------------------------------------------------------------


def test_a_policy_that_fails_quarantines_its_case_and_the_next_record_names_why() -> None:
    [logged] = history(GOOD)

    def step(_stored: Any, _env: Envelope, _payload: EventPayload) -> Answer:
        return Answer(memory={"seen": 1}, commands=[])

    answered = judge(step, GOOD, None, logged, REGISTRY.read(logged))
    assert answered.answer is not None and answered.answer.memory == {"seen": 1}

    def failing(_stored: Any, _env: Envelope, _payload: EventPayload) -> Answer:
        raise KeyError("unit")

    failed = judge(failing, GOOD, None, logged, REGISTRY.read(logged))
    assert failed.answer is None and failed.quarantine
    assert failed.parked.startswith("KeyError: 'unit' (at tests/unit/test_isolation.py:")
    mark = quarantine_mark(failed.parked, "grievance.events/3@41")
    held = judge(step, GOOD, mark, logged, REGISTRY.read(logged))
    assert held.answer is None and not held.quarantine
    assert held.parked == f"{GOOD} quarantined since grievance.events/3@41: {failed.parked}"


def test_an_event_that_does_not_belong_to_its_case_is_parked_alone() -> None:
    [logged, acknowledged] = history(GOOD, "acknowledge")

    def following(stored: Any, env: Envelope, payload: EventPayload) -> Answer:
        known = SourceCase.model_validate(stored) if stored else None
        return Answer(memory=follow_chain(known, env, payload, {"grievance.logged"}))

    stray = judge(following, GOOD, None, acknowledged, REGISTRY.read(acknowledged))
    assert stray.answer is None and not stray.quarantine and "never opened" in stray.parked
    opened = judge(following, GOOD, None, logged, REGISTRY.read(logged)).answer
    assert opened is not None and isinstance(opened.memory, SourceCase)
    memory = opened.memory.model_dump(mode="json")
    loose = forged(acknowledged, {"how": "on_site", "resolution": "伪造"})
    skipped = judge(following, GOOD, memory, loose, REGISTRY.read(loose))
    assert not skipped.quarantine and "does not follow version 1" in skipped.parked
    with pytest.raises(LookupError):
        raise NeverOpened("a LookupError to callers that catch one")
    assert issubclass(NeverOpened, Stray)


def test_only_a_quarantine_mark_reads_as_one() -> None:
    assert quarantined_since(None) is None
    assert quarantined_since("GROUP-1") is None
    assert quarantined_since(SourceCase(case_id=GOOD).model_dump(mode="json")) is None
    assert quarantined_since({"quarantined": {"reason": "r", "position": "t/0@1"}, "x": 1}) is None
    assert quarantined_since(quarantine_mark("r", "t/0@1")) == "quarantined since t/0@1: r"


# --- read models ------------------------------------------------------------------------------

NOTES = "CREATE TABLE IF NOT EXISTS notes (event_id TEXT PRIMARY KEY);"


def note(db: Db, env: Envelope, _payload: EventPayload, _state: Any) -> None:
    """A hook that writes, then trips on the second event of the bad case."""
    db.execute("INSERT INTO notes VALUES (?)", (str(env.event_id),))
    if env.case_id == BAD and env.case_version == 2:
        boom()


def records(events: list[Envelope], topic: str = TOPIC) -> list[Record]:
    return [Record(topic, 0, offset, env.to_bytes()) for offset, env in enumerate(events)]


def forged(after: Envelope, payload: dict[str, Any], *, prev: str | None = None) -> Envelope:
    return seal_envelope(
        event_type="grievance.resolved",
        schema_version=1,
        case_id=after.case_id,
        case_version=after.case_version + 1,
        occurred_at=T0,
        recorded_at=T0,
        actor=after.actor,
        correlation_id=after.case_id,
        causation_id="forged",
        payload=payload,
        prev_hash=prev or after.hash,
        event_id=uuid.uuid4(),
    )


def test_an_event_a_hook_trips_on_leaves_nothing_and_quarantines_only_its_case(
    tmp_path: Path,
) -> None:
    model = ReadModel(tmp_path / "m.sqlite", KIND, TOPIC, extra_schema=NOTES, hooks=[note])
    good1, good2 = history(GOOD, "acknowledge")
    bad1, bad2, bad3 = history(BAD, "acknowledge", "resolve")
    loose = forged(good2, {"how": "on_site", "resolution": "伪造"}, prev="f" * 64)
    # The repeat of the first event counts once, though the batch is applied twice.
    batch = [good1, bad1, bad2, good2, bad3, loose, good1]
    dead = model.apply_batch(records(batch))
    model.commit()
    assert [(d.record.offset, d.case_id, d.quarantined) for d in dead] == [
        (2, BAD, True),
        (4, BAD, False),
        (5, GOOD, False),
    ]
    first = dead[0].reason
    assert first.startswith("cannot apply: ZeroDivisionError: a defect (at tests/unit/")
    assert dead[1].reason == f"{BAD} is quarantined since {TOPIC}/0@2: {first}"
    assert "breaks the chain" in dead[2].reason
    assert model.offsets() == {(TOPIC, 0): 7} and model.duplicates == 1
    notes = {r[0] for r in model.select("SELECT event_id FROM notes")}
    assert notes == {str(e.event_id) for e in (good1, bad1, good2)}
    assert [e["case_version"] for e in model.history(BAD)] == [1]
    good, bad = model.get(GOOD), model.get(BAD)
    assert good is not None and bad is not None
    assert "quarantined" not in case_view(good) and case_view(good)["version"] == 2
    shown = case_view(bad)
    assert shown["version"] == 1 and shown["status"] == "logged"
    assert shown["quarantined"] == {"reason": first, "position": [TOPIC, 0, 2]}
    assert model.quarantined() == 1
    _, rows = model.query(units=None, filters={}, limit=10, offset=0)
    assert {r["case_id"]: bool(r["quarantined"]) for r in rows} == {GOOD: False, BAD: True}
    model.close()


def test_an_event_that_follows_the_chain_but_breaks_its_schema_quarantines_the_case(
    tmp_path: Path,
) -> None:
    model = ReadModel(tmp_path / "m.sqlite", KIND, TOPIC)
    [logged] = history(BAD)
    broken = forged(logged, {"how": "by magic"})
    dead = model.apply_batch(records([logged, broken, *history(GOOD)]))
    model.commit()
    assert [(d.case_id, d.quarantined) for d in dead] == [(BAD, True)]
    assert dead[0].reason.startswith("cannot apply: ValidationError:")
    assert "by magic" not in dead[0].reason
    assert model.get(GOOD) is not None and model.quarantined() == 1
    model.close()


def test_an_event_another_service_sends_that_its_hook_trips_on_sets_that_case_aside(
    tmp_path: Path,
) -> None:
    def remember(db: Db, env: Envelope, event: EventPayload) -> None:
        db.execute("INSERT INTO notes VALUES (?)", (f"{env.case_id}@{env.case_version}",))
        if env.case_id == BAD and isinstance(event, g.GrievanceAcknowledged):
            boom()

    model = ReadModel(
        tmp_path / "m.sqlite", KIND, "own.events", extra_schema=NOTES, foreign={FOREIGN: remember}
    )
    bad1, bad2, bad3 = history(BAD, "acknowledge", "resolve")
    [other] = history(OTHER)
    dead = model.apply_batch(records([bad1, bad2, other, bad3], FOREIGN))
    model.commit()
    assert [(d.record.offset, d.quarantined) for d in dead] == [(1, True), (3, False)]
    notes = {r[0] for r in model.select("SELECT event_id FROM notes")}
    assert notes == {f"{BAD}@1", f"{OTHER}@1"}
    assert model.offsets() == {(FOREIGN, 0): 4} and model.quarantined() == 1
    model.close()
