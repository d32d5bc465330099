"""A read model told which of another service's events it reads passes the others over unchecked."""

from __future__ import annotations

import json
from pathlib import Path

from contracts import grievance as g
from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.decider import Head, process
from services.common.foreign import Foreign
from services.common.readmodel import ReadModel
from services.common.readschema import Record
from services.common.store import Db
from services.intake.service import KIND
from tests.unit.stories import command
from tests.unit.test_intake_domain import log_payload

CASE = "GRV-FOREIGN00001"
OWN, OTHER = "own.events", "other.events"


def story() -> list[Envelope]:
    """A grievance logged, then acknowledged."""
    logged = process(KIND, Head(), command(CASE, "log", log_payload()))
    acked = process(KIND, logged.head, command(CASE, "acknowledge"))
    return [*logged.events, *acked.events]


def tampered(env: Envelope) -> bytes:
    """The event's record with its content changed and its hash left as it was."""
    raw = json.loads(env.to_bytes())
    raw["correlation_id"] = "rewritten"
    return json.dumps(raw).encode()


def test_only_the_types_read_are_checked_and_applied(tmp_path: Path) -> None:
    told: list[str] = []
    judged: list[str] = []

    def hook(_db: Db, env: Envelope, _event: EventPayload) -> None:
        told.append(env.event_type)

    def admit(env: Envelope, *_where: object) -> str | None:
        judged.append(env.event_type)
        return None

    reads = Foreign.reading(hook, g.GrievanceAcknowledged)
    model = ReadModel(tmp_path / "model.sqlite", KIND, OWN, foreign={OTHER: reads})
    logged, acked = story()
    records = [
        Record(OTHER, 0, 0, tampered(logged)),
        Record(OTHER, 0, 1, acked.to_bytes()),
        Record(OTHER, 0, 2, b"not json"),
        Record(OTHER, 0, 3, tampered(acked)),
    ]
    dead = model.apply_batch(records, admit)
    model.commit()
    assert told == ["grievance.acknowledged"] and judged == ["grievance.acknowledged"]
    assert [d.record.offset for d in dead] == [2, 3]
    assert "hash does not match" in dead[1].reason
    assert model.offsets()[(OTHER, 0)] == 4
    model.close()


def test_a_hook_given_alone_reads_every_type(tmp_path: Path) -> None:
    told: list[str] = []

    def hook(_db: Db, env: Envelope, _event: EventPayload) -> None:
        told.append(env.event_type)

    model = ReadModel(tmp_path / "model.sqlite", KIND, OWN, foreign={OTHER: hook})
    records = [Record(OTHER, 0, n, env.to_bytes()) for n, env in enumerate(story())]
    assert model.apply_batch(records) == []
    model.commit()
    assert told == ["grievance.logged", "grievance.acknowledged"]
    model.close()
