"""The per-case index: case id to its records' places in the log, rebuildable from the topics."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from contracts.envelope import Envelope, format_ts, parse_record
from services.audit.ledgerstore import LEDGER_MARK, LEDGER_SCHEMA, LedgerFold
from services.audit.records import LogRecord, Position
from services.audit.treestore import TREE_SCHEMA, TreeTables
from services.common.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    case_id TEXT NOT NULL,
    case_version INTEGER,
    event_id TEXT,
    event_type TEXT,
    recorded_at TEXT,
    correlation_id TEXT,
    causation_id TEXT,
    hash TEXT,
    PRIMARY KEY (topic, partition, "offset")
);
CREATE INDEX IF NOT EXISTS entries_case ON entries (case_id, case_version);
CREATE INDEX IF NOT EXISTS entries_event ON entries (event_id);
CREATE INDEX IF NOT EXISTS entries_correlation ON entries (correlation_id);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


def index_path(settings: Settings) -> Path:
    """Where the index of this deployment lives."""
    return settings.data_dir / "audit-index.sqlite"


@dataclass(frozen=True)
class Entry:
    """One indexed record of a case."""

    position: Position
    case_id: str
    case_version: int | None
    event_id: str | None
    event_type: str | None
    recorded_at: str | None
    correlation_id: str | None
    causation_id: str | None
    hash: str | None


@dataclass(frozen=True)
class Link:
    """A case caused or opened by another case's event."""

    parent: str
    child: str
    event_type: str | None
    event_id: str | None
    caused: str | None
    position: Position | None


@dataclass
class Lineage:
    """Every case linked to one case across services, as a tree from the originating case."""

    root: str
    cases: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)


class CaseIndex(TreeTables):
    """Maps case ids to (topic, partition, offset) with consumed offsets in the same transaction."""

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self._lock = threading.Lock()
        if readonly:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA + TREE_SCHEMA + LEDGER_SCHEMA)
            if not self._db.execute("SELECT 1 FROM entries LIMIT 1").fetchone():
                # Filed from the first record on: its ledger table holds every case.
                self._db.execute("INSERT OR IGNORE INTO filed VALUES (?)", (LEDGER_MARK,))
        self._db.execute("PRAGMA busy_timeout=5000")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def offsets(self) -> dict[tuple[str, int], int]:
        """Return the next offset to read for every partition indexed so far."""
        rows = self._db.execute("SELECT topic, partition, next_offset FROM offsets").fetchall()
        return {(t, p): o for t, p, o in rows}

    def add(
        self,
        records: Sequence[LogRecord],
        ends: dict[tuple[str, int], int],
        refused: Collection[Position] = (),
    ) -> None:
        """Index records and advance the partitions' offsets to `ends`, in one transaction.

        A refused record (one not believed) is filed as a place of its key only.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                fold = LedgerFold(self._db)
                rows = []
                # Each record is read, filed and folded in turn: a batch is never held parsed.
                for rec in records:
                    env = None if rec.position in refused else _read(rec)
                    rows.append(_row(rec, env))
                    if env is not None:
                        fold.apply(rec.position, env)
                fold.store()
                self._db.executemany(
                    'INSERT OR IGNORE INTO entries (topic, partition, "offset", case_id,'
                    " case_version, event_id, event_type, recorded_at, correlation_id,"
                    " causation_id, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._add_leaves(records)
                self._advance(ends)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _advance(self, ends: dict[tuple[str, int], int]) -> None:
        self._db.executemany(
            "INSERT INTO offsets (topic, partition, next_offset) VALUES (?, ?, ?)"
            " ON CONFLICT (topic, partition) DO UPDATE SET"
            " next_offset = max(next_offset, excluded.next_offset)",
            [(t, p, o) for (t, p), o in ends.items()],
        )

    def ledger_filed(self) -> bool:
        """Whether the ledger table holds every case filed, not only those since it was added."""
        try:
            row = self._db.execute("SELECT 1 FROM filed WHERE what = ?", (LEDGER_MARK,))
        except sqlite3.OperationalError:  # an index filed before there was a ledger table
            return False
        return row.fetchone() is not None

    @property
    def db(self) -> sqlite3.Connection:
        """The index's connection, for the queries of its other tables."""
        return self._db

    def entries(self, case_id: str) -> list[Entry]:
        """Return a case's indexed records in log order."""
        rows = self._db.execute(
            'SELECT topic, partition, "offset", case_id, case_version, event_id, event_type,'
            " recorded_at, correlation_id, causation_id, hash FROM entries WHERE case_id = ?"
            ' ORDER BY topic, partition, "offset"',
            (case_id,),
        ).fetchall()
        return [_entry(r) for r in rows]

    def partition_plan(self, topic: str, partition: int) -> tuple[dict[str, int], set[int]]:
        """Return, for one partition, each case's last believed offset and the offsets of the
        records not believed (filed as places only)."""
        rows = self._db.execute(
            'SELECT case_id, max("offset") FROM entries WHERE topic = ? AND partition = ?'
            " AND case_version IS NOT NULL GROUP BY case_id",
            (topic, partition),
        ).fetchall()
        refused = self._db.execute(
            'SELECT "offset" FROM entries WHERE topic = ? AND partition = ?'
            " AND case_version IS NULL",
            (topic, partition),
        ).fetchall()
        return {str(c): int(o) for c, o in rows}, {int(o) for (o,) in refused}

    def heads(self) -> dict[str, tuple[int, str]]:
        """Return every case's highest version and the hash it first carried."""
        rows = self._db.execute(
            "SELECT case_id, case_version, hash FROM entries e WHERE case_version IS NOT NULL"
            " AND hash IS NOT NULL AND case_version = (SELECT max(case_version) FROM entries"
            ' WHERE case_id = e.case_id) ORDER BY case_id, topic, partition, "offset"'
        ).fetchall()
        heads: dict[str, tuple[int, str]] = {}
        for case_id, version, digest in rows:
            heads.setdefault(case_id, (int(version), str(digest)))
        return heads

    def count(self) -> int:
        """Return how many records are indexed."""
        return int(self._db.execute("SELECT count(*) FROM entries").fetchone()[0])

    def lineage(self, case_id: str) -> Lineage:
        """Return the tree of cases linked to this one, from the case that started it all."""
        root = self._root(case_id)
        tree = Lineage(root=root, cases=[root])
        queue = [root]
        while queue:
            parent = queue.pop(0)
            for link in self._children(parent):
                tree.links.append(link)
                if link.child not in tree.cases:
                    tree.cases.append(link.child)
                    queue.append(link.child)
        return tree

    def _root(self, case_id: str) -> str:
        seen = {case_id}
        current = case_id
        while True:
            row = self._db.execute(
                "SELECT correlation_id FROM entries WHERE case_id = ? AND case_version = 1 LIMIT 1",
                (current,),
            ).fetchone()
            origin = row[0] if row else None
            if not origin or origin in seen or not self._known(origin):
                return current
            seen.add(origin)
            current = origin

    def _known(self, case_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM entries WHERE case_id = ? LIMIT 1", (case_id,))
        return row.fetchone() is not None

    def _children(self, parent: str) -> list[Link]:
        """Cases whose events were caused by one of parent's events, or opened in its name."""
        caused = self._db.execute(
            "SELECT c.case_id, c.event_type, c.event_id, p.event_type, c.topic, c.partition,"
            ' c."offset" FROM entries p JOIN entries c ON c.causation_id = p.event_id'
            " WHERE p.case_id = ? AND c.case_id != p.case_id ORDER BY c.recorded_at, c.case_id",
            (parent,),
        ).fetchall()
        links = [
            Link(parent, child, etype, eid, cause, Position(t, p, o))
            for child, etype, eid, cause, t, p, o in caused
        ]
        linked = {link.child for link in links}
        opened = self._db.execute(
            'SELECT case_id, event_type, event_id, topic, partition, "offset" FROM entries'
            " WHERE correlation_id = ? AND case_id != ? AND case_version = 1"
            " ORDER BY recorded_at, case_id",
            (parent, parent),
        ).fetchall()
        for child, etype, eid, t, p, o in opened:
            if child not in linked:
                links.append(Link(parent, child, etype, eid, None, Position(t, p, o)))
        return links


def _read(rec: LogRecord) -> Envelope | None:
    """A record's envelope, or None if it does not read as one."""
    try:
        return parse_record(rec.value)[1]
    except Exception:  # whatever a record holds, its place is filed, and verify names it
        return None


def _row(rec: LogRecord, env: Envelope | None) -> tuple[object, ...]:
    pos = rec.position
    if env is None:
        return (pos.topic, pos.partition, pos.offset, rec.key or "", *([None] * 7))
    recorded = format_ts(env.recorded_at)
    return (
        pos.topic,
        pos.partition,
        pos.offset,
        rec.key or env.case_id,
        env.case_version,
        str(env.event_id),
        env.event_type,
        recorded,
        env.correlation_id,
        env.causation_id,
        env.hash,
    )


def _entry(row: tuple[object, ...]) -> Entry:
    t, p, o, case_id, version, eid, etype, rec_at, corr, cause, digest = row
    return Entry(
        position=Position(str(t), int(str(p)), int(str(o))),
        case_id=str(case_id),
        case_version=int(str(version)) if version is not None else None,
        event_id=_opt(eid),
        event_type=_opt(etype),
        recorded_at=_opt(rec_at),
        correlation_id=_opt(corr),
        causation_id=_opt(cause),
        hash=_opt(digest),
    )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
