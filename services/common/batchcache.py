"""What one batch of a read model reads of its store at once, and the rows it writes at its end.

A batch is applied in one transaction: the events already applied, the heads of its cases and
their quarantines are read in a few statements before it, each case's state is carried from
one of its events to the next in memory, and the new rows go in with one statement a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from contracts.envelope import Envelope, format_ts
from services.common.isolation import position
from services.common.store import Db

# How many values one statement names at most (SQLite allows 32,766 marks; PostgreSQL 65,535).
CHUNK = 500

CASE_ROW = (
    "INSERT INTO cases (case_id, unit, status, version, hash, opened_at, updated_at,"
    " correlation_id, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (case_id) DO UPDATE SET unit = excluded.unit, status = excluded.status,"
    " version = excluded.version, hash = excluded.hash, updated_at = excluded.updated_at,"
    " state = excluded.state"
)
EVENT_ROW = (
    "INSERT INTO events (case_id, case_version, event_id, event_type, occurred_at,"
    ' recorded_at, topic, partition, "offset", body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
)
FOREIGN_ROW = "INSERT INTO foreign_events (event_id, hash) VALUES (?, ?)"


@dataclass
class Head:
    """A case as the batch has it: its version and hash, and its state (stored, or folded)."""

    version: int
    hash: str
    stored: str | None
    state: BaseModel | None = None
    # When the batch opened the case, and with which correlation id.
    opened: tuple[str, str] | None = None


@dataclass
class Batch:
    """The store's answers for one batch's events and cases, and the rows still to write."""

    # Event id -> (hash, where it was first applied) of events applied before or in this batch.
    seen: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    foreign_seen: dict[str, str | None] = field(default_factory=dict)
    heads: dict[str, Head] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    foreign: list[tuple[str, str]] = field(default_factory=list)
    # The cases changed by the batch, each written once with its last event and state.
    changed: dict[str, tuple[Any, BaseModel, tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def read(
        cls, db: Db, case_ids: Iterable[str], event_ids: Iterable[str], foreign_ids: Iterable[str]
    ) -> Batch:
        """Read what the batch's events need to know of the store, a chunk of ids a statement."""
        batch = cls()
        where = "json_extract(body, '$.hash'), topic || '/' || partition || '@' || \"offset\""
        for chunk in _chunks(event_ids):
            sql = f"SELECT event_id, {where} FROM events WHERE event_id IN ({_marks(chunk)})"
            for row in db.execute(sql, chunk):
                batch.seen[row[0]] = (row[1], row[2])
        for chunk in _chunks(foreign_ids):
            sql = f"SELECT event_id, hash FROM foreign_events WHERE event_id IN ({_marks(chunk)})"
            for row in db.execute(sql, chunk):
                batch.foreign_seen[row[0]] = row[1]
        for chunk in _chunks(case_ids):
            marks = _marks(chunk)
            sql = f"SELECT case_id, version, hash, state FROM cases WHERE case_id IN ({marks})"
            for row in db.execute(sql, chunk):
                batch.heads[row[0]] = Head(row[1], row[2], row[3])
            sql = (
                'SELECT case_id, reason, topic, partition, "offset" FROM quarantined'
                f" WHERE case_id IN ({marks})"
            )
            for row in db.execute(sql, chunk):
                batch.held[row[0]] = (
                    f"{row[0]} is quarantined since {position(row[2], row[3], row[4])}: {row[1]}"
                )
        return batch

    def write(self, db: Db, cases: Sequence[Sequence[Any]]) -> None:
        """Write the rows of the cases the batch changed, then its new events."""
        db.executemany(CASE_ROW, cases)
        db.executemany(EVENT_ROW, self.events)
        db.executemany(FOREIGN_ROW, self.foreign)


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


def _marks(chunk: Sequence[str]) -> str:
    return ", ".join("?" * len(chunk))


def case_row(env: Envelope, state: BaseModel, opened: tuple[str, str]) -> tuple[Any, ...]:
    """A case's row after an event: what opened it, and its state now."""
    return (
        env.case_id,
        getattr(state, "unit", ""),
        getattr(state, "status", ""),
        env.case_version,
        env.hash,
        opened[0],
        format_ts(env.occurred_at),
        opened[1],
        state.model_dump_json(),
    )
