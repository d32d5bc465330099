"""The index's tables of each partition's Merkle tree: its leaves and the heads signed over it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

from services.audit.merkle import leaf_hash
from services.audit.records import LogRecord, Position

# A partition's leaves are its committed data records in offset order, numbered from 0 at
# the partition's first record: aborted writes and transaction markers are not in the ledger.
TREE_SCHEMA = """
CREATE TABLE IF NOT EXISTS leaves (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    leaf_index INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (topic, partition, leaf_index)
);
CREATE UNIQUE INDEX IF NOT EXISTS leaves_offset ON leaves (topic, partition, "offset");
CREATE TABLE IF NOT EXISTS tree_heads (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    tree_size INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (topic, partition, tree_size, key_id)
);
"""


class TreeTables:
    """The leaves and tree heads of the per-case index, written with its entries."""

    _db: sqlite3.Connection
    _lock: threading.Lock

    def _advance(self, ends: dict[tuple[str, int], int]) -> None:
        raise NotImplementedError

    def _add_leaves(self, records: Sequence[LogRecord]) -> None:
        """Append each record not yet a leaf to its partition's tree, in offset order."""
        tips: dict[tuple[str, int], tuple[int, int]] = {}
        rows = []
        for rec in sorted(
            records, key=lambda r: (r.position.topic, r.position.partition, r.position.offset)
        ):
            pos = rec.position
            where = (pos.topic, pos.partition)
            if where not in tips:
                top, last = self._db.execute(
                    'SELECT coalesce(max(leaf_index), -1), coalesce(max("offset"), -1)'
                    " FROM leaves WHERE topic = ? AND partition = ?",
                    where,
                ).fetchone()
                tips[where] = (int(top) + 1, int(last))
            size, last = tips[where]
            if pos.offset <= last:
                continue
            rows.append((pos.topic, pos.partition, size, pos.offset, leaf_hash(rec.value)))
            tips[where] = (size + 1, pos.offset)
        self._db.executemany(
            'INSERT INTO leaves (topic, partition, leaf_index, "offset", hash)'
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )

    def leaves(self, topic: str, partition: int) -> list[bytes]:
        """Return the leaf hashes of a partition's tree, in leaf order."""
        rows = self._db.execute(
            "SELECT hash FROM leaves WHERE topic = ? AND partition = ? ORDER BY leaf_index",
            (topic, partition),
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def leaf_at(self, position: Position) -> int | None:
        """Return the leaf index of the record at a position, or None if it is no leaf."""
        row = self._db.execute(
            'SELECT leaf_index FROM leaves WHERE topic = ? AND partition = ? AND "offset" = ?',
            (position.topic, position.partition, position.offset),
        ).fetchone()
        return None if row is None else int(row[0])

    def tree_sizes(self) -> dict[tuple[str, int], int]:
        """Return how many leaves each partition's tree has."""
        rows = self._db.execute("SELECT topic, partition, count(*) FROM leaves GROUP BY 1, 2")
        return {(t, p): int(n) for t, p, n in rows.fetchall()}

    def add_tree_heads(
        self,
        heads: Sequence[tuple[str, int, int, str, str, bytes]],
        ends: dict[tuple[str, int], int],
    ) -> None:
        """Keep published tree heads and advance the heads topic's offsets, in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO tree_heads (topic, partition, tree_size, key_id,"
                    " timestamp, value) VALUES (?, ?, ?, ?, ?, ?)",
                    heads,
                )
                self._advance(ends)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def tree_heads(
        self, topic: str | None = None, partition: int | None = None, limit: int = 1000
    ) -> list[bytes]:
        """Return kept tree heads as published, newest first (by size, then time)."""
        rows = self._db.execute(
            "SELECT value FROM tree_heads WHERE (?1 IS NULL OR topic = ?1)"
            " AND (?2 IS NULL OR partition = ?2)"
            " ORDER BY topic, partition, tree_size DESC, timestamp DESC LIMIT ?3",
            (topic, partition, limit),
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def signed_sizes(self) -> dict[tuple[str, int], int]:
        """Return the largest tree size a kept head signed, per partition."""
        rows = self._db.execute(
            "SELECT topic, partition, max(tree_size) FROM tree_heads GROUP BY 1, 2"
        )
        return {(t, p): int(n) for t, p, n in rows.fetchall()}
