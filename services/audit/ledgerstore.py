"""The index's table of each case as its believed events fold it: the rows a 台账 is made of.

Filed in the transaction that files the records' places, so it is exactly as far along the
log as the index; a unit's ledger is then one query, not a pass over the whole log.
"""

from __future__ import annotations

import functools
import importlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from contracts.catalog import SERVICES, STREAMS
from contracts.envelope import Envelope, format_ts
from contracts.personal import Sealed
from contracts.registry import REGISTRY
from services.audit.records import Position
from services.common import logging as logs
from services.common.decider import CaseKind

log = logs.get(__name__)

LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    case_id TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    unit TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    -- A version was missing: later ones are not folded, as a replay would stop there.
    stopped INTEGER NOT NULL,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    -- NULL for a case whose first believed event was not its first: it is in no ledger.
    state TEXT,
    person TEXT
);
CREATE INDEX IF NOT EXISTS ledger_unit ON ledger (stream, unit, opened_at);
CREATE TABLE IF NOT EXISTS filed (what TEXT PRIMARY KEY);
"""
# The cases a batch holds folded before it writes them: their states are let go once written.
HELD = 500
# Marks an index whose ledger table was filed from its first record.
LEDGER_MARK = "ledger"
UPSERT = (
    "INSERT INTO ledger (case_id, stream, unit, status, version, stopped, opened_at, updated_at,"
    " correlation_id, state, person) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (case_id) DO UPDATE SET unit = excluded.unit, status = excluded.status,"
    " version = excluded.version, stopped = excluded.stopped, updated_at = excluded.updated_at,"
    " state = excluded.state"
)
COLUMNS = (
    "case_id, stream, unit, status, version, stopped, opened_at, updated_at, correlation_id,"
    " state, person"
)


@dataclass(frozen=True)
class Folded:
    """One case as the log has it: what a ledger row is made of."""

    case_id: str
    stream: str
    unit: str
    status: str
    # When its first and its latest event happened, as the log writes instants.
    opened_at: str
    updated_at: str
    correlation_id: str
    state: dict[str, Any]
    # The sealed name of the worker the case's first event names, if any.
    person: Sealed | None


@functools.cache
def kind_of_stream(stream: str) -> CaseKind[Any]:
    """The case kind that decides a stream's cases."""
    module = SERVICES[STREAMS[stream].service].kinds
    assert module is not None, "every case stream is decided by a service with case kinds"
    kind: CaseKind[Any] = importlib.import_module(module).KIND
    return kind


def sealed_name(payload: dict[str, Any]) -> Sealed | None:
    """The sealed name of the worker a first event names, if it names one."""
    for value in payload.values():
        if isinstance(value, dict) and isinstance(value.get("name"), dict):
            try:
                return Sealed.model_validate(value["name"])
            except ValueError:
                return None
    return None


Step = Literal["open", "evolve", "stop", "skip", "never"]


def fold_step(version: int | None, stopped: bool, event_version: int, late: bool) -> Step:
    """What one event does to a case folded so far (`version` None: not seen yet).

    The first event opens it; each next version evolves it; a redelivery, or anything after
    a gap, is skipped; a gap, or an event recorded after the cut (`late`), stops it; a case
    first seen after its first event, or first recorded after the cut, is never folded.
    """
    if version is None:
        return "open" if event_version == 1 and not late else "never"
    if stopped or event_version <= version:
        return "skip"
    return "evolve" if event_version == version + 1 and not late else "stop"


@dataclass
class _Held:
    stream: str
    kind: CaseKind[Any] | None
    version: int
    stopped: bool
    opened_at: str
    updated_at: str
    correlation_id: str
    state: BaseModel | None
    person: str | None

    @classmethod
    def never(cls, stream: str, version: int) -> _Held:
        """A case in no ledger: its first event was not folded."""
        return cls(stream, None, version, True, "", "", "", None, None)


@functools.cache
def stream_of(topic: str) -> str | None:
    """The case stream whose events a topic holds, whatever the deployment's prefix."""
    for name in STREAMS:
        if (topic == f"{name}.events" or topic.endswith(f".{name}.events")) and SERVICES[
            STREAMS[name].service
        ].kinds:
            return name
    return None


class LedgerFold:
    """Folds a batch of believed events into the ledger table, within the caller's transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._held: dict[str, _Held] = {}
        self._changed: set[str] = set()

    def apply(self, where: Position, env: Envelope) -> None:
        """Fold one event of a case stream; a redelivered or out-of-order one changes nothing.

        An event the case's rules cannot fold stops its case there, as a gap does, and is
        named in the log: the index goes on filing every other case.
        """
        stream = stream_of(where.topic)
        if stream is None:
            return
        try:
            self._fold(stream, env)
        except Exception as exc:  # whatever one event holds, the other cases are filed
            log.warning(
                "audit.ledger.not_folded",
                case_id=env.case_id,
                position=str(where),
                error=type(exc).__name__,
            )
            held = self._held.setdefault(env.case_id, _Held.never(stream, env.case_version))
            held.stopped = True
            self._changed.add(env.case_id)
        if len(self._held) >= HELD:
            self.store()

    def _fold(self, stream: str, env: Envelope) -> None:
        held = self._get(env.case_id, stream)
        step = fold_step(
            held.version if held else None, bool(held and held.stopped), env.case_version, False
        )
        if step == "skip":
            return
        if step == "never":
            self._held[env.case_id] = _Held.never(stream, env.case_version)
        elif step == "open":
            kind = kind_of_stream(stream).of(env.case_id)
            name = sealed_name(env.payload)
            at = format_ts(env.occurred_at)
            state = kind.evolve(None, env, REGISTRY.read(env))
            named = name.model_dump_json() if name is not None else None
            self._held[env.case_id] = _Held(
                stream, kind, 1, False, at, at, env.correlation_id, state, named
            )
        elif held is not None and held.kind is not None:
            if step == "stop":
                held.stopped = True
            else:
                held.state = held.kind.evolve(held.state, env, REGISTRY.read(env))
                held.version, held.updated_at = env.case_version, format_ts(env.occurred_at)
        self._changed.add(env.case_id)

    def store(self) -> None:
        """Write every case the batch changed."""
        self._db.executemany(UPSERT, [_row(c, self._held[c]) for c in sorted(self._changed)])
        self._changed.clear()
        self._held.clear()

    def _get(self, case_id: str, stream: str) -> _Held | None:
        held = self._held.get(case_id)
        if held is not None:
            return held
        row = self._db.execute(f"SELECT {COLUMNS} FROM ledger WHERE case_id = ?", (case_id,))
        found = row.fetchone()
        if found is None:
            return None
        _, _, _, _, version, stopped, opened, updated, corr, state, person = found
        kind = kind_of_stream(stream).of(case_id) if state is not None else None
        held = _Held(
            stream,
            kind,
            int(version),
            bool(stopped),
            str(opened),
            str(updated),
            str(corr),
            kind.state.model_validate_json(state) if kind is not None else None,
            person,
        )
        self._held[case_id] = held
        return held


def _row(case_id: str, held: _Held) -> tuple[object, ...]:
    state = held.state
    return (
        case_id,
        held.stream,
        str(getattr(state, "unit", "")),
        str(getattr(state, "status", "")),
        held.version,
        int(held.stopped),
        held.opened_at,
        held.updated_at,
        held.correlation_id,
        state.model_dump_json() if state is not None else None,
        held.person,
    )


def ledger_cases(
    db: sqlite3.Connection, streams: Iterable[str], unit: str, start: str | None, stop: str | None
) -> Iterator[Folded]:
    """Yield the cases of the streams in the unit's subtree opened in [start, stop), by opening."""
    names = list(streams)
    if not names:
        return
    below = unit.rstrip("/") + "/"
    # Every unit under `below` sorts between it and the same text ending in the next character.
    query = (
        f"SELECT {COLUMNS} FROM ledger WHERE state IS NOT NULL"
        f" AND stream IN ({', '.join('?' * len(names))})"
        " AND (unit = ? OR (unit >= ? AND unit < ?))"
        " AND opened_at >= ? AND (? IS NULL OR opened_at < ?) ORDER BY opened_at, case_id"
    )
    params = (*names, unit, below, below[:-1] + "0", start or "", stop, stop)
    for row in db.execute(query, params):
        case_id, stream, where, status, _, _, opened, updated, corr, state, person = row
        yield Folded(
            case_id=case_id,
            stream=stream,
            unit=where,
            status=status,
            opened_at=opened,
            updated_at=updated,
            correlation_id=corr,
            state=json.loads(state),
            person=Sealed.model_validate_json(person) if person else None,
        )
