"""A service's read model: cases, events and consumed offsets, in one transaction.

An event that follows its case's chain but cannot be applied leaves nothing behind and
quarantines its case (`quarantine.py`), as does one whose signature is not believed; every
record, applied or not, moves the offset on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from contracts.envelope import GENESIS_HASH, Envelope, chain_hash, parse_record
from contracts.registry import REGISTRY, EventPayload
from services.common import casequery, quarantine
from services.common.decider import CaseKind
from services.common.readschema import SCHEMA, VERSION, DeadLetter, Record
from services.common.store import Db, Row, Store, sqlite_store

S = TypeVar("S", bound=BaseModel)
Hook = Callable[[Db, Envelope, EventPayload, BaseModel], None]
ForeignHook = Callable[[Db, Envelope, EventPayload], None]
# Given an event and where it was read: why it must not be believed, or None.
Admit = Callable[[Envelope, str, int, int], str | None]


class ReadModel(Generic[S]):
    """Applies events exactly once and answers queries; rebuildable from offset 0."""

    def __init__(
        self,
        store: Store | Path | str,
        kind: CaseKind[S],
        topic: str,
        *,
        extra_schema: str = "",
        extra_version: int = 1,
        hooks: Sequence[Hook] = (),
        foreign: Mapping[str, ForeignHook] | None = None,
    ) -> None:
        self.kind = kind
        self.topic = topic
        self._hooks = tuple(hooks)
        self._foreign = dict(foreign or {})
        self._lock = threading.Lock()
        self.store = store if isinstance(store, Store) else sqlite_store(store)
        parts = {"readmodel": (VERSION, SCHEMA)}
        if extra_schema:
            parts["service"] = (extra_version, extra_schema)
        # Tables of an older version are dropped: the projector then reads from offset 0.
        self.rebuilt = self.store.prepare(parts)
        self._db = self.store.writer
        self.duplicates = 0
        self._careful = False
        self._admit: Admit | None = None

    @property
    def topics(self) -> list[str]:
        """Every topic this read model consumes: its own events, then other services' events."""
        return [self.topic, *self._foreign]

    # --- writing --------------------------------------------------------

    def offsets(self) -> dict[tuple[str, int], int]:
        """Return the next offset to read for every partition seen."""
        rows = self.store.read("SELECT topic, partition, next_offset FROM offsets")
        return {(r[0], r[1]): r[2] for r in rows}

    def apply_batch(
        self, records: Sequence[Record], admit: Admit | None = None
    ) -> list[DeadLetter]:
        """Apply records inside an open transaction; the caller commits or rolls back.

        A batch goes straight through; only one with an event that cannot be applied is
        applied again from its start, each event on a savepoint, to set that case aside.
        `admit` judges each event's signature; without it every sound event is believed.
        """
        self._lock.acquire()
        self._admit = admit
        before = self.duplicates
        try:
            return self._applied(records, careful=False)
        except quarantine.Tripped:
            self.store.rollback()
            self.duplicates = before
            return self._applied(records, careful=True)

    def _applied(self, records: Sequence[Record], *, careful: bool) -> list[DeadLetter]:
        self._careful = careful
        self.store.begin()
        dead: list[DeadLetter] = []
        last: dict[tuple[str, int], int] = {}
        for rec in records:
            problem = self._apply(rec) if rec.topic == self.topic else self._apply_foreign(rec)
            if problem is not None:
                dead.append(problem)
            last[(rec.topic, rec.partition)] = rec.offset + 1
        # Never back: a replica sharing these tables may have read further than this batch.
        self._db.executemany(
            "INSERT INTO offsets (topic, partition, next_offset) VALUES (?, ?, ?)"
            " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = CASE"
            " WHEN excluded.next_offset > offsets.next_offset THEN excluded.next_offset"
            " ELSE offsets.next_offset END",
            [(t, p, o) for (t, p), o in last.items()],
        )
        return dead

    def commit(self) -> None:
        """Commit the open batch."""
        try:
            self.store.commit()
        finally:
            self._lock.release()

    def rollback(self) -> None:
        """Abandon the open batch."""
        try:
            self.store.rollback()
        finally:
            self._lock.release()

    def _apply(self, rec: Record) -> DeadLetter | None:
        env = self._read(rec)
        if isinstance(env, DeadLetter):
            return env
        if not self.kind.owns(env.case_id):
            return DeadLetter(rec, f"not a {'/'.join(self.kind.prefixes)} case", env.case_id)
        seen = self._seen("events", env, rec)
        if seen:
            return seen if isinstance(seen, DeadLetter) else None
        held = quarantine.held(self._db, env.case_id)
        if held is not None:
            return DeadLetter(rec, held, env.case_id)
        row = self._db.execute(
            "SELECT version, hash, state FROM cases WHERE case_id = ?", (env.case_id,)
        ).fetchone()
        version, head_hash = (row[0], row[1]) if row else (0, GENESIS_HASH)
        if env.case_version != version + 1 or env.prev_hash != head_hash:
            return DeadLetter(
                rec,
                f"breaks the chain: expected version {version + 1} after {head_hash[:12]},"
                f" got version {env.case_version} after {env.prev_hash[:12]}",
                env.case_id,
            )
        return self._attempt(rec, env, lambda: self._fold(rec, env, row[2] if row else None))

    def _apply_foreign(self, rec: Record) -> DeadLetter | None:
        """Apply another service's event through its hook, once per event id."""
        env = self._read(rec)
        if isinstance(env, DeadLetter):
            return env
        seen = self._seen("foreign_events", env, rec)
        if seen:
            return seen if isinstance(seen, DeadLetter) else None
        held = quarantine.held(self._db, env.case_id)
        if held is not None:
            return DeadLetter(rec, held, env.case_id)

        def apply() -> None:
            payload = REGISTRY.read(env)
            self._db.execute(
                "INSERT INTO foreign_events (event_id, hash) VALUES (?, ?)",
                (str(env.event_id), env.hash),
            )
            self._foreign[rec.topic](self._db, env, payload)

        return self._attempt(rec, env, apply)

    def _read(self, rec: Record) -> Envelope | DeadLetter:
        """Return a record's envelope if it is readable and its hash matches its content."""
        try:
            raw, env = parse_record(rec.value)
            sound = chain_hash(raw) == raw.get("hash")
        except Exception as exc:  # whatever the bytes are, the projection goes on
            return DeadLetter(rec, f"unreadable record: {_short(exc)}")
        if not sound:
            return DeadLetter(rec, "hash does not match the record's content", env.case_id)
        problem = self._admit(env, rec.topic, rec.partition, rec.offset) if self._admit else None
        if problem is None:
            return env
        reason = f"not believed: {problem}"
        self._db.execute(
            'INSERT INTO quarantined (case_id, reason, topic, partition, "offset")'
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (env.case_id, reason, rec.topic, rec.partition, rec.offset),
        )
        return DeadLetter(rec, reason, env.case_id, quarantined=True)

    def _seen(self, table: str, env: Envelope, rec: Record) -> DeadLetter | bool:
        """Whether the event was applied before (a repeat, counted); a dead letter when its id
        was applied before with another hash, which is reported, never kept."""
        if table == "events":
            found = "json_extract(body, '$.hash'), topic || '/' || partition || '@' || \"offset\""
        else:
            found = "hash, NULL"
        query = f"SELECT {found} FROM {table} WHERE event_id = ?"
        row = self._db.execute(query, (str(env.event_id),)).fetchone()
        if row is None:
            return False
        if row[0] not in (None, env.hash):
            first = f" (first at {row[1]})" if row[1] else ""
            reason = f"repeats event {env.event_id}{first} with a different hash"
            return DeadLetter(rec, reason, env.case_id)
        self.duplicates += 1
        return True

    def _attempt(self, rec: Record, env: Envelope, apply: Callable[[], None]) -> DeadLetter | None:
        where = (rec.topic, rec.partition, rec.offset)
        failed = quarantine.attempt(self._db, env.case_id, where, apply, careful=self._careful)
        return DeadLetter(rec, failed, env.case_id, quarantined=True) if failed else None

    def _fold(self, rec: Record, env: Envelope, stored: str | None) -> None:
        """Apply an event that follows its case's chain: state, row, event, hooks."""
        kind = self.kind.of(env.case_id)
        payload = REGISTRY.read(env)
        before = kind.state.model_validate_json(stored) if stored is not None else None
        state = kind.evolve(before, env, payload)
        self._store(rec, env, state)
        for hook in self._hooks:
            hook(self._db, env, payload, state)

    def _store(self, rec: Record, env: Envelope, state: S) -> None:
        occurred = env.to_wire()["occurred_at"]
        self._db.execute(
            "INSERT INTO cases (case_id, unit, status, version, hash, opened_at, updated_at,"
            " correlation_id, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (case_id) DO UPDATE SET unit = excluded.unit, status = excluded.status,"
            " version = excluded.version, hash = excluded.hash, updated_at = excluded.updated_at,"
            " state = excluded.state",
            (
                env.case_id,
                getattr(state, "unit", ""),
                getattr(state, "status", ""),
                env.case_version,
                env.hash,
                occurred,
                occurred,
                env.correlation_id,
                state.model_dump_json(),
            ),
        )
        self._db.execute(
            "INSERT INTO events (case_id, case_version, event_id, event_type, occurred_at,"
            ' recorded_at, topic, partition, "offset", body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            (
                env.case_id,
                env.case_version,
                str(env.event_id),
                env.event_type,
                occurred,
                env.to_wire()["recorded_at"],
                rec.topic,
                rec.partition,
                rec.offset,
                rec.value.decode(),
            ),
        )

    # --- reading --------------------------------------------------------

    def get(self, case_id: str) -> Row | None:
        """Return one case row, with its quarantine (JSON) if it has one."""
        rows = self.store.read(
            f"SELECT *, {quarantine.COLUMN} FROM cases WHERE case_id = ?", (case_id,)
        )
        return rows[0] if rows else None

    def quarantined(self) -> int:
        """Return how many cases this read model set aside."""
        return int(self.store.read("SELECT count(*) FROM quarantined")[0][0])

    def history(self, case_id: str) -> list[dict[str, Any]]:
        """Return a case's events as stored, oldest first."""
        rows = self.store.read(
            'SELECT body, topic, partition, "offset" FROM events WHERE case_id = ?'
            " ORDER BY case_version",
            (case_id,),
        )
        return [
            {**json.loads(r["body"]), "_position": [r["topic"], r["partition"], r["offset"]]}
            for r in rows
        ]

    def select(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run a read-only query on a reader connection (for statistics over extra tables)."""
        return self.store.read(sql, args)

    def query(
        self,
        *,
        units: Sequence[str] | None,
        filters: dict[str, Any],
        limit: int,
        offset: int,
        at_most: Mapping[str, Any] | None = None,
        order_by: str | None = None,
    ) -> tuple[int, list[Row]]:
        """Return (total, page) of cases in the given unit subtrees matching state filters.

        `at_most` bounds state fields from above (dates compare as ISO text); `order_by` sorts
        ascending by a state field, cases without it last, instead of newest first.
        """
        order = casequery.order(order_by)
        split = casequery.parts(self.store, units, filters, at_most)
        # Deep pages are cut no sooner in parts: each part would carry every row before them.
        if split is not None and offset + limit <= casequery.SHALLOW:
            return casequery.page(self.store, split, order, quarantine.COLUMN, limit, offset)
        sql_where, args = casequery.where(self.store, units, filters, at_most)
        total = self.store.read(f"SELECT count(*) FROM cases{sql_where}", args)[0][0]
        rows = self.store.read(
            f"SELECT *, {quarantine.COLUMN} FROM cases{sql_where} ORDER BY {order}"
            " LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return int(total), rows

    def states(self, *, units: Sequence[str] | None, filters: dict[str, Any]) -> list[Any]:
        """Return the state of every matching case, read page by page."""
        sql_where, args = casequery.where(self.store, units, filters, None)
        after = f"{sql_where} AND case_id > ?" if sql_where else " WHERE case_id > ?"
        out: list[Any] = []
        last, page = "", 1000
        while True:
            # Each page goes on from the last case id read: no page rereads those before it.
            rows = self.store.read(
                f"SELECT case_id, state FROM cases{after} ORDER BY case_id LIMIT ?",
                [*args, last, page],
            )
            out += [self.kind.of(r["case_id"]).state.model_validate_json(r["state"]) for r in rows]
            if len(rows) < page:
                return out
            last = rows[-1]["case_id"]

    def close(self) -> None:
        """Close the store's connections."""
        self.store.close()


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]
