"""What the library keeps of a grievance: its summary sealed, or as written before sealing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine

from contracts import grievance as g
from contracts.envelope import GENESIS_HASH, Actor, seal_envelope
from contracts.personal import Sealed
from contracts.registry import payload_dict
from services.common.store import Db
from services.library.sources import SCHEMA, remember_grievance, source_of
from tests.unit.stories import T0

REP = Actor(user_id="rep-p01", role="worker_rep", unit="demo/co/p01")
SEALED = Sealed(kid="CASE-GRV-TEST0001", nonce="AAAAAAAAAAAAAAAA", ct="c2VhbGVk")


def kept(summary: Sealed | str) -> Sealed | str | None:
    """The summary the library reads back after keeping a logged grievance."""
    db = Db(create_engine("sqlite://").connect(), "sqlite")
    db.script(SCHEMA)
    logged = g.GrievanceLogged(
        unit="demo/co/p01", category="wages", summary=summary, channel="app", anonymous=True
    )
    env = seal_envelope(
        event_type=logged.event_type,
        schema_version=logged.schema_version,
        case_id="GRV-TEST00000001",
        case_version=1,
        occurred_at=T0,
        recorded_at=T0,
        actor=REP,
        correlation_id="GRV-TEST00000001",
        causation_id="test",
        payload=payload_dict(logged),
        prev_hash=GENESIS_HASH,
        event_id=uuid.uuid4(),
    )
    remember_grievance(db, env, logged)
    row = db.execute("SELECT * FROM source_cases").fetchone()
    return source_of(row).summary


def test_a_sealed_summary_is_kept_sealed() -> None:
    assert kept(SEALED) == SEALED


@pytest.mark.parametrize("written", ["工资拖欠", "2000", '{"not": "sealed"'])
def test_a_summary_written_in_clear_reads_as_written(written: str) -> None:
    assert kept(written) == written
