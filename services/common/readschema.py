"""What a service's read model holds and reads: its tables, the records it is fed and parks."""

from __future__ import annotations

from dataclasses import dataclass

# Raised whenever the tables below change: a store built at an older version is emptied and
# its read model built again from offset 0.
VERSION = 1
# A case's row holds its state after its last applied event; `quarantined` names the first
# event of a case that could not be applied, after which the case's events are set aside.
SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    hash TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_unit ON cases (unit, opened_at);
CREATE INDEX IF NOT EXISTS cases_status ON cases (status, opened_at);
CREATE TABLE IF NOT EXISTS events (
    case_id TEXT NOT NULL,
    case_version INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (case_id, case_version)
);
CREATE TABLE IF NOT EXISTS foreign_events (
    event_id TEXT PRIMARY KEY,
    hash TEXT
);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS quarantined (
    case_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset" BIGINT NOT NULL
);
"""


@dataclass(frozen=True)
class Record:
    """One consumed record, as the read model needs it."""

    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass(frozen=True)
class DeadLetter:
    """A record the read model could not apply, and why."""

    record: Record
    reason: str
    case_id: str | None = None
    # The case is set aside from now on, not only this record.
    quarantined: bool = False
