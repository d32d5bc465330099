"""A read model on the real PostgreSQL server: savepoints, quarantine, versions, listings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.queries import case_view
from services.common.readmodel import ReadModel
from services.common.store import Db, Store, StoreError, postgres_store
from services.intake.service import KIND
from tests.unit.test_isolation import BAD, GOOD, NOTES, TOPIC, forged, history, note, records

pytestmark = [pytest.mark.integration, pytest.mark.one_store]


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    """A schema of its own on the tests' server, for one test."""
    made = postgres_store(postgres_url, f"t_{uuid.uuid4().hex[:12]}")
    yield made
    made.close()


def twice(db: Db, env: Envelope, _payload: EventPayload, _state: Any) -> None:
    """A hook whose statement the server refuses on the bad case's second event."""
    db.execute("INSERT INTO notes VALUES (?)", (str(env.event_id),))
    if env.case_id == BAD and env.case_version == 2:
        db.execute("INSERT INTO notes VALUES (?)", (str(env.event_id),))


def test_a_failed_hook_is_undone_alone_and_quarantines_only_its_case(store: Store) -> None:
    model = ReadModel(store, KIND, TOPIC, extra_schema=NOTES, hooks=[note])
    good1, good2 = history(GOOD, "acknowledge")
    bad1, bad2, bad3 = history(BAD, "acknowledge", "resolve")
    loose = forged(good2, {"how": "on_site", "resolution": "伪造"}, prev="f" * 64)
    dead = model.apply_batch(records([good1, bad1, bad2, good2, bad3, loose, good1]))
    model.commit()
    assert [(d.record.offset, d.case_id, d.quarantined) for d in dead] == [
        (2, BAD, True),
        (4, BAD, False),
        (5, GOOD, False),
    ]
    assert model.offsets() == {(TOPIC, 0): 7} and model.duplicates == 1
    notes = {r[0] for r in model.select("SELECT event_id FROM notes")}
    assert notes == {str(e.event_id) for e in (good1, bad1, good2)}
    bad = model.get(BAD)
    assert bad is not None
    assert case_view(bad)["quarantined"]["position"] == [TOPIC, 0, 2]
    _, rows = model.query(units=None, filters={}, limit=10, offset=0)
    assert {r["case_id"]: bool(r["quarantined"]) for r in rows} == {GOOD: False, BAD: True}
    model.close()


def test_a_statement_the_server_refuses_rolls_back_to_the_savepoint(store: Store) -> None:
    model = ReadModel(store, KIND, TOPIC, extra_schema=NOTES, hooks=[twice])
    good1, good2 = history(GOOD, "acknowledge")
    bad1, bad2 = history(BAD, "acknowledge")
    dead = model.apply_batch(records([bad1, bad2, good1, good2]))
    model.commit()
    assert [(d.case_id, d.quarantined) for d in dead] == [(BAD, True)]
    assert dead[0].reason.startswith("cannot apply: UniqueViolation:")
    assert model.quarantined() == 1 and model.offsets() == {(TOPIC, 0): 4}
    good = model.get(GOOD)
    assert good is not None and good["version"] == 2
    model.close()


def test_listings_filter_and_order_by_state_fields(store: Store) -> None:
    model = ReadModel(store, KIND, TOPIC)
    model.apply_batch(records([*history(GOOD, "acknowledge"), *history(BAD)]))
    model.commit()
    total, rows = model.query(
        units=["demo/co"], filters={"status": "acknowledged"}, limit=10, offset=0
    )
    assert total == 1 and rows[0]["case_id"] == GOOD
    total, _ = model.query(units=["demo/co"], filters={"overdue": False}, limit=10, offset=0)
    assert total == 2
    total, _ = model.query(units=["demo/else"], filters={}, limit=10, offset=0)
    assert total == 0
    # One unit's listing unfiltered is read in two parts: the unit's, and the units below it.
    total, first = model.query(units=["demo/co"], filters={}, limit=1, offset=0)
    _, second = model.query(units=["demo/co"], filters={}, limit=1, offset=1)
    assert total == 2 and {first[0]["case_id"], second[0]["case_id"]} == {GOOD, BAD}
    _, ordered = model.query(units=None, filters={}, limit=10, offset=0, order_by="status")
    assert [r["status"] for r in ordered] == ["acknowledged", "logged"]
    model.close()


def test_an_older_schema_is_emptied_and_a_newer_one_refused(store: Store) -> None:
    model = ReadModel(store, KIND, TOPIC, extra_schema=NOTES)
    model.apply_batch(records(history(GOOD)))
    model.commit()
    assert ReadModel(store, KIND, TOPIC, extra_schema=NOTES).rebuilt is False
    newer = ReadModel(store, KIND, TOPIC, extra_schema=NOTES, extra_version=2)
    assert newer.rebuilt is True and newer.offsets() == {} and newer.get(GOOD) is None
    with pytest.raises(StoreError, match="newer version"):
        ReadModel(store, KIND, TOPIC, extra_schema=NOTES, extra_version=1)
    assert [tuple(r) for r in store.read("SELECT * FROM schema_versions ORDER BY part")] == [
        ("readmodel", 1),
        ("service", 2),
    ]


def test_a_writer_behind_another_never_moves_the_offsets_back(postgres_url: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    ahead = ReadModel(postgres_store(postgres_url, schema), KIND, TOPIC)
    behind = ReadModel(postgres_store(postgres_url, schema), KIND, TOPIC)
    events = records(history(GOOD, "acknowledge", "resolve"))
    ahead.apply_batch(events)
    ahead.commit()
    dead = behind.apply_batch(events[:1])
    behind.commit()
    assert dead == [] and behind.duplicates == 1
    assert behind.offsets() == ahead.offsets() == {(TOPIC, 0): 3}
    ahead.close()
    behind.close()
