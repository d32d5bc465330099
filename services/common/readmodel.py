"""A service's read model: cases, events and consumed offsets, in one transaction.

An event that follows its case's chain but cannot be applied leaves nothing behind and
quarantines its case (`quarantine.py`), as does one whose signature is not believed; every
record, applied or not, moves the offset on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from contracts.envelope import GENESIS_HASH, Envelope, chain_hash, format_ts, parse_json
from contracts.registry import REGISTRY, EventPayload
from services.common import quarantine
from services.common.batchcache import CASE_ROW, EVENT_ROW, Batch, Head, case_row
from services.common.decider import CaseKind
from services.common.foreign import Foreign, ForeignHook, passed_over
from services.common.isolation import position
from services.common.readqueries import Queries
from services.common.readschema import SCHEMA, VERSION, DeadLetter, Record
from services.common.store import Db, Store, environmental, sqlite_store

S = TypeVar("S", bound=BaseModel)
Hook = Callable[[Db, Envelope, EventPayload, BaseModel], None]
# Given an event and where it was read: why it must not be believed, or None.
Admit = Callable[[Envelope, str, int, int], str | None]


class ReadModel(Queries, Generic[S]):
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
        foreign: Mapping[str, ForeignHook | Foreign] | None = None,
    ) -> None:
        self.kind = kind
        self.topic = topic
        self._hooks = tuple(hooks)
        # A hook given alone reads every event of its topic.
        told = {t: h if isinstance(h, Foreign) else Foreign(h) for t, h in (foreign or {}).items()}
        self._foreign = {t: f.hook for t, f in told.items()}
        self._reads = {t: f.reads for t, f in told.items()}
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
        # What the batch being applied read of the store, on its fast path only.
        self._batch: Batch | None = None

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
        parsed = [self._parse(rec) for rec in records]
        # Careful, each event is applied on its own savepoint, so it writes its rows itself.
        self._batch = None if careful else self._lookups(records, parsed)
        dead: list[DeadLetter] = []
        last: dict[tuple[str, int], int] = {}
        for rec, read in zip(records, parsed, strict=True):
            last[(rec.topic, rec.partition)] = rec.offset + 1
            if read is None:
                continue
            env = self._believed(rec, read)
            if isinstance(env, DeadLetter):
                problem: DeadLetter | None = env
            elif rec.topic == self.topic:
                problem = self._apply(rec, env)
            else:
                problem = self._apply_foreign(rec, env)
            if problem is not None:
                dead.append(problem)
        if self._batch is not None:
            self._flush(self._batch)
        # Never back: a replica sharing these tables may have read further than this batch.
        self._db.executemany(
            "INSERT INTO offsets (topic, partition, next_offset) VALUES (?, ?, ?)"
            " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = CASE"
            " WHEN excluded.next_offset > offsets.next_offset THEN excluded.next_offset"
            " ELSE offsets.next_offset END",
            [(t, p, o) for (t, p), o in last.items()],
        )
        return dead

    def _lookups(
        self, records: Sequence[Record], parsed: Sequence[Envelope | DeadLetter | None]
    ) -> Batch:
        envs = [(r, e) for r, e in zip(records, parsed, strict=True) if isinstance(e, Envelope)]
        return Batch.read(
            self._db,
            case_ids=[e.case_id for _, e in envs],
            event_ids=[str(e.event_id) for r, e in envs if r.topic == self.topic],
            foreign_ids=[str(e.event_id) for r, e in envs if r.topic != self.topic],
        )

    def _flush(self, batch: Batch) -> None:
        """Write the batch's rows; one the store refuses sends the batch the careful way."""
        rows = [case_row(env, state, opened) for env, state, opened in batch.changed.values()]
        try:
            batch.write(self._db, rows)
        except Exception as exc:
            if isinstance(exc, MemoryError) or environmental(exc):
                raise
            raise quarantine.Tripped from exc
        finally:
            self._batch = None

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

    def _apply(self, rec: Record, env: Envelope) -> DeadLetter | None:
        if not self.kind.owns(env.case_id):
            return DeadLetter(rec, f"not a {'/'.join(self.kind.prefixes)} case", env.case_id)
        seen = self._seen("events", env, rec)
        if seen:
            return seen if isinstance(seen, DeadLetter) else None
        held = self._held(env.case_id)
        if held is not None:
            return DeadLetter(rec, held, env.case_id)
        head = self._head(env.case_id)
        version, head_hash = (head.version, head.hash) if head else (0, GENESIS_HASH)
        if env.case_version != version + 1 or env.prev_hash != head_hash:
            return DeadLetter(
                rec,
                f"breaks the chain: expected version {version + 1} after {head_hash[:12]},"
                f" got version {env.case_version} after {env.prev_hash[:12]}",
                env.case_id,
            )
        return self._attempt(rec, env, lambda: self._fold(rec, env, head))

    def _apply_foreign(self, rec: Record, env: Envelope) -> DeadLetter | None:
        """Apply another service's event through its hook, once per event id."""
        seen = self._seen("foreign_events", env, rec)
        if seen:
            return seen if isinstance(seen, DeadLetter) else None
        held = self._held(env.case_id)
        if held is not None:
            return DeadLetter(rec, held, env.case_id)

        def apply() -> None:
            payload = REGISTRY.read(env)
            event_id = str(env.event_id)
            if self._batch is None:
                self._db.execute(
                    "INSERT INTO foreign_events (event_id, hash) VALUES (?, ?)",
                    (event_id, env.hash),
                )
            else:
                self._batch.foreign.append((event_id, env.hash))
                self._batch.foreign_seen[event_id] = env.hash
            self._foreign[rec.topic](self._db, env, payload)

        return self._attempt(rec, env, apply)

    def _parse(self, rec: Record) -> Envelope | DeadLetter | None:
        """Return a record's envelope if it is readable and its hash matches its content.

        None for another service's event of a type this model does not read.
        """
        try:
            raw = parse_json(rec.value)
            if passed_over(raw, self._reads.get(rec.topic, frozenset())):
                return None
            env = Envelope.model_validate(raw)
            sound = chain_hash(raw) == raw.get("hash")
        except Exception as exc:  # whatever the bytes are, the projection goes on
            return DeadLetter(rec, f"unreadable record: {_short(exc)}")
        if not sound:
            return DeadLetter(rec, "hash does not match the record's content", env.case_id)
        return env

    def _believed(self, rec: Record, read: Envelope | DeadLetter) -> Envelope | DeadLetter:
        """Return the envelope if its signature is believed; else set its case aside."""
        if isinstance(read, DeadLetter) or self._admit is None:
            return read
        problem = self._admit(read, rec.topic, rec.partition, rec.offset)
        if problem is None:
            return read
        reason = f"not believed: {problem}"
        self._db.execute(
            'INSERT INTO quarantined (case_id, reason, topic, partition, "offset")'
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (read.case_id, reason, rec.topic, rec.partition, rec.offset),
        )
        if self._batch is not None and read.case_id not in self._batch.held:
            where = position(rec.topic, rec.partition, rec.offset)
            self._batch.held[read.case_id] = (
                f"{read.case_id} is quarantined since {where}: {reason}"
            )
        return DeadLetter(rec, reason, read.case_id, quarantined=True)

    def _held(self, case_id: str) -> str | None:
        if self._batch is None:
            return quarantine.held(self._db, case_id)
        return self._batch.held.get(case_id)

    def _head(self, case_id: str) -> Head | None:
        if self._batch is not None:
            return self._batch.heads.get(case_id)
        row = self._db.execute(
            "SELECT version, hash, state FROM cases WHERE case_id = ?", (case_id,)
        ).fetchone()
        return Head(row[0], row[1], row[2]) if row else None

    def _seen(self, table: str, env: Envelope, rec: Record) -> DeadLetter | bool:
        """Whether the event was applied before (a repeat, counted); a dead letter when its id
        was applied before with another hash, which is reported, never kept."""
        if table == "events":
            found = "json_extract(body, '$.hash'), topic || '/' || partition || '@' || \"offset\""
        else:
            found = "hash, NULL"
        event_id = str(env.event_id)
        if self._batch is None:
            query = f"SELECT {found} FROM {table} WHERE event_id = ?"
            row: Any = self._db.execute(query, (event_id,)).fetchone()
        elif table == "events":
            row = self._batch.seen.get(event_id)
        else:
            row = (
                (self._batch.foreign_seen[event_id], None)
                if (event_id in self._batch.foreign_seen)
                else None
            )
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

    def _fold(self, rec: Record, env: Envelope, head: Head | None) -> None:
        """Apply an event that follows its case's chain: state, row, event, hooks."""
        kind = self.kind.of(env.case_id)
        payload = REGISTRY.read(env)
        before: Any = None
        if head is not None:
            before = head.state
            if before is None and head.stored is not None:
                before = kind.state.model_validate_json(head.stored)
        state = kind.evolve(before, env, payload)
        self._store(rec, env, state, head)
        for hook in self._hooks:
            hook(self._db, env, payload, state)

    def _store(self, rec: Record, env: Envelope, state: BaseModel, head: Head | None) -> None:
        occurred = format_ts(env.occurred_at)
        event_id = str(env.event_id)
        event = (
            env.case_id,
            env.case_version,
            event_id,
            env.event_type,
            occurred,
            format_ts(env.recorded_at),
            rec.topic,
            rec.partition,
            rec.offset,
            rec.value.decode(),
        )
        batch = self._batch
        if batch is None:
            self._db.execute(CASE_ROW, case_row(env, state, (occurred, env.correlation_id)))
            self._db.execute(EVENT_ROW, event)
            return
        # What a new case is opened with; a case stored before keeps its own (the row's upsert).
        opened = head.opened if head is not None else None
        opened = opened or (occurred, env.correlation_id)
        batch.heads[env.case_id] = Head(env.case_version, env.hash, None, state, opened)
        batch.changed[env.case_id] = (env, state, opened)
        batch.events.append(event)
        batch.seen[event_id] = (env.hash, f"{rec.topic}/{rec.partition}@{rec.offset}")

    def close(self) -> None:
        """Close the store's connections."""
        self.store.close()


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]
