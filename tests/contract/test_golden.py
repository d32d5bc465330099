"""Golden records: every event type, as once written, is still read, verified and upcast."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from contracts.envelope import chain_hash, parse_record
from contracts.grievance import GrievanceLogged, GrievanceResolved
from contracts.notification import NotificationFailed
from contracts.personal import Sealed
from contracts.registry import REGISTRY
from contracts.schema import event_schemas, privacy_schema
from services.intake.domain import Grievance
from services.intake.service import KIND

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
FILES = sorted(GOLDEN.glob("*.json"))


def test_every_event_type_has_a_golden_record() -> None:
    covered = {f.name.rsplit(".v", 1)[0] for f in FILES}
    assert set(REGISTRY.types()) <= covered


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_golden_record_reads_and_its_hash_holds(path: Path) -> None:
    raw, env = parse_record(path.read_bytes())
    assert chain_hash(raw) == env.hash
    assert env.to_wire() == raw, "re-serialising must give back the stored form"
    payload = REGISTRY.read(env)
    assert payload.event_type == env.event_type


def _current(path: Path) -> bool:
    """Whether a golden record is of its event type's current version (the published one)."""
    event_type, version = path.name.removesuffix(".json").rsplit(".v", 1)
    return REGISTRY.model(event_type).schema_version == int(version)


@pytest.mark.parametrize("path", [f for f in FILES if _current(f)], ids=lambda p: p.name)
def test_current_golden_record_matches_published_schema(path: Path) -> None:
    record = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(record, event_schemas()[record["event_type"]])


def test_v1_logged_is_upcast_to_v2() -> None:
    _, env = parse_record((GOLDEN / "grievance.logged.v1.json").read_bytes())
    assert env.schema_version == 1 and env.payload["channel"] == "hotline"
    payload = REGISTRY.read(env)
    assert isinstance(payload, GrievanceLogged)
    assert payload.channel == "hotline_12351"
    assert payload.anonymous is True
    assert payload.ack_due is None
    state = KIND.replay([env])
    assert isinstance(state, Grievance)
    assert state.anonymous and state.channel == "hotline_12351"


@pytest.mark.parametrize("path", [f for f in FILES if not _current(f)], ids=lambda p: p.name)
def test_earlier_versions_read_as_the_current_model(path: Path) -> None:
    _, env = parse_record(path.read_bytes())
    payload = REGISTRY.read(env)
    assert type(payload).schema_version > env.schema_version


def test_text_written_before_sealing_reads_as_written() -> None:
    _, env = parse_record((GOLDEN / "grievance.resolved.v1.json").read_bytes())
    payload = REGISTRY.read(env)
    assert isinstance(payload, GrievanceResolved)
    assert payload.resolution == "每周增加两次面食和时令蔬菜"
    _, sealed = parse_record((GOLDEN / "grievance.resolved.v2.json").read_bytes())
    assert isinstance(REGISTRY.read(sealed), GrievanceResolved)
    assert "ct" in sealed.payload["resolution"]


# Free text sealed in a later version: the event type, the version before and the field.
SEALED_LATER = [
    ("grievance.logged", 2, "summary"),
    ("suggestion.submitted", 1, "title"),
    ("suggestion.implemented", 1, "note"),
    ("suggestion.leadership_responded", 1, "response"),
    ("suggestion.query_raised", 1, "question"),
    ("suggestion.query_answered", 1, "answer"),
    ("suggestion.query_answer_rejected", 1, "reason"),
    ("suggestion.group_member_replaced", 1, "reason"),
    ("library.help_declined", 1, "reason"),
]


@pytest.mark.parametrize(("event_type", "before", "field"), SEALED_LATER)
def test_text_written_in_clear_before_reads_as_written_and_after_is_sealed(
    event_type: str, before: int, field: str
) -> None:
    _, old = parse_record((GOLDEN / f"{event_type}.v{before}.json").read_bytes())
    written = old.payload[field]
    assert isinstance(written, str) and getattr(REGISTRY.read(old), field) == written
    _, new = parse_record((GOLDEN / f"{event_type}.v{before + 1}.json").read_bytes())
    assert new.schema_version == REGISTRY.model(event_type).schema_version
    assert getattr(REGISTRY.read(new), field) == Sealed.model_validate(new.payload[field])


def test_a_failure_written_as_text_reads_as_code_other_and_without_its_text() -> None:
    _, old = parse_record((GOLDEN / "notification.failed.v1.json").read_bytes())
    assert old.payload["reason"] == "gateway 503"
    payload = REGISTRY.read(old)
    assert isinstance(payload, NotificationFailed)
    assert (payload.code, payload.status) == ("other", None)
    assert "gateway 503" not in payload.model_dump_json()
    _, new = parse_record((GOLDEN / "notification.failed.v2.json").read_bytes())
    assert (new.payload["code"], new.payload["status"]) == ("refused", 503)


def test_upcasting_never_changes_the_stored_hash() -> None:
    raw, env = parse_record((GOLDEN / "grievance.logged.v1.json").read_bytes())
    REGISTRY.read(env)
    assert chain_hash(raw) == env.hash


def test_a_newer_version_than_the_reader_knows_is_refused() -> None:
    with pytest.raises(ValueError, match="newer than this reader"):
        REGISTRY.upcast(
            "grievance.logged", REGISTRY.model("grievance.logged").schema_version + 1, {}
        )


def test_published_schemas_are_up_to_date() -> None:
    folder = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
    for event_type, schema in event_schemas().items():
        on_disk = json.loads((folder / f"{event_type}.json").read_text(encoding="utf-8"))
        assert on_disk == schema, f"run `make contracts`: {event_type} changed"


def test_published_erasure_schema_is_up_to_date() -> None:
    folder = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
    on_disk = json.loads((folder / "person.erased.json").read_text(encoding="utf-8"))
    assert on_disk == privacy_schema(), "run `make contracts`: person.erased changed"
