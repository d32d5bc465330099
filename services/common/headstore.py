"""The case heads a worker holds: in a private database, the ones used last kept in memory.

A worker may hold a million open cases; their heads live in a scratch file the worker alone
opens, and only a bounded number of recently used ones are held as objects. Nothing in it
needs to outlive the process: a partition's heads are read again from the heads topic each
time it is claimed.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from services.common.dueindex import scratch

StoredHead = dict[str, Any]
# Heads held as objects at most: the busiest cases', enough for several decided batches.
CACHE_HEADS = 4096
# Heads read from the database at once when a partition's heads are gone through.
PAGE = 1000


def _encoded(head: StoredHead) -> bytes:
    return json.dumps(head, ensure_ascii=False, separators=(",", ":")).encode()


class HeadStore:
    """Case id to the partition holding it and its head, with a bounded cache of recent heads."""

    def __init__(self, cache: int = CACHE_HEADS) -> None:
        self._db = scratch(
            "CREATE TABLE heads (case_id TEXT PRIMARY KEY, partition INTEGER NOT NULL,"
            " head BLOB NOT NULL) WITHOUT ROWID",
            "CREATE INDEX heads_partition ON heads (partition, case_id)",
        )
        self._cache: OrderedDict[str, tuple[int, StoredHead]] = OrderedDict()
        self._most = max(1, cache)

    def close(self) -> None:
        """Close the store, removing its scratch file."""
        self._db.close()

    def get(self, partition: int, case_id: str) -> StoredHead | None:
        """The head a partition holds for a case, or None."""
        cached = self._cache.get(case_id)
        if cached is None:
            row = self._db.execute(
                "SELECT partition, head FROM heads WHERE case_id = ?", (case_id,)
            ).fetchone()
            if row is None:
                return None
            cached = (int(row[0]), json.loads(row[1]))
            self._remember(case_id, cached)
        else:
            self._cache.move_to_end(case_id)
        return cached[1] if cached[0] == partition else None

    def put(self, partition: int, heads: Mapping[str, StoredHead]) -> None:
        """Keep the heads, each case's replacing the one it had."""
        self._write(
            "INSERT INTO heads (case_id, partition, head) VALUES (?, ?, ?) ON CONFLICT (case_id)"
            " DO UPDATE SET partition = excluded.partition, head = excluded.head",
            [(c, partition, _encoded(h)) for c, h in heads.items()],
        )
        for case_id, head in heads.items():
            self._remember(case_id, (partition, head))

    def remove(self, case_ids: Iterable[str]) -> None:
        """Forget the heads of cases whose heads were deleted."""
        gone = list(case_ids)
        self._write("DELETE FROM heads WHERE case_id = ?", [(c,) for c in gone])
        for case_id in gone:
            self._cache.pop(case_id, None)

    def drop(self, partition: int) -> None:
        """Forget every head of a partition."""
        self._db.execute("DELETE FROM heads WHERE partition = ?", (partition,))
        for case_id in [c for c, (p, _) in self._cache.items() if p == partition]:
            del self._cache[case_id]

    def count(self, partition: int) -> int:
        """How many heads a partition holds."""
        query = "SELECT count(*) FROM heads WHERE partition = ?"
        return int(self._db.execute(query, (partition,)).fetchone()[0])

    def items(self, partition: int) -> Iterator[tuple[str, StoredHead]]:
        """Every head of a partition, by case id, read a page at a time."""
        after = ""
        while True:
            rows = self._db.execute(
                "SELECT case_id, head FROM heads WHERE partition = ? AND case_id > ?"
                " ORDER BY case_id LIMIT ?",
                (partition, after, PAGE),
            ).fetchall()
            for case_id, head in rows:
                cached = self._cache.get(case_id)
                yield case_id, cached[1] if cached is not None else json.loads(head)
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def _remember(self, case_id: str, entry: tuple[int, StoredHead]) -> None:
        self._cache[case_id] = entry
        self._cache.move_to_end(case_id)
        while len(self._cache) > self._most:
            self._cache.popitem(last=False)

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        self._db.execute("BEGIN")
        try:
            self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise


def later_head(held: StoredHead | None, incoming: StoredHead) -> tuple[StoredHead, str | None]:
    """Return the head to keep when a case's head is read again, and what was wrong, if anything.

    A head only moves forward along its chain. One that goes back, or that claims the
    version held with another hash, was decided from a head that was not the latest: it is
    reported and the head held is kept.
    """
    if held is None:
        return incoming, None
    have, got = int(held.get("version", 0)), int(incoming.get("version", 0))
    if got > have or (got == have and held.get("hash") == incoming.get("hash")):
        return incoming, None
    if got == have:
        return held, f"a second, different head at version {got}"
    return held, f"goes back from version {have} to {got}"


class Fetched:
    """The heads of one fetch of a partition's heads, over those the store already keeps."""

    def __init__(self, store: HeadStore, partition: int) -> None:
        self.store, self.partition = store, partition
        self.heads: dict[str, StoredHead] = {}
        self.gone: set[str] = set()

    def get(self, case_id: str) -> StoredHead | None:
        """The latest head read so far for a case, or None."""
        if case_id in self.heads:
            return self.heads[case_id]
        return None if case_id in self.gone else self.store.get(self.partition, case_id)

    def __setitem__(self, case_id: str, head: StoredHead) -> None:
        self.heads[case_id] = head
        self.gone.discard(case_id)

    def pop(self, case_id: str) -> None:
        """The case's head was deleted."""
        self.heads.pop(case_id, None)
        self.gone.add(case_id)

    def keep(self) -> None:
        """Store what the fetch read."""
        self.store.remove(self.gone)
        self.store.put(self.partition, self.heads)


class Held(Mapping[str, StoredHead]):
    """One partition's heads in the store, read as a mapping of case id to head."""

    def __init__(self, store: HeadStore, partition: int) -> None:
        self.store, self.partition = store, partition

    def __getitem__(self, case_id: str) -> StoredHead:
        head = self.store.get(self.partition, case_id)
        if head is None:
            raise KeyError(case_id)
        return head

    def __iter__(self) -> Iterator[str]:
        return (case_id for case_id, _ in self.store.items(self.partition))

    def __len__(self) -> int:
        return self.store.count(self.partition)

    def items(self) -> Iterator[tuple[str, StoredHead]]:  # type: ignore[override]
        """Every head of the partition, read a page at a time."""
        return self.store.items(self.partition)

    def update(self, heads: Mapping[str, StoredHead]) -> None:
        """Keep the heads in the partition."""
        self.store.put(self.partition, heads)
