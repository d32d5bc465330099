"""The held cases by the moment their deadlines next call for a command, so a tick reads only those.

Kept in a private database the worker alone holds, spilled to a scratch file rather than
memory, and rebuilt from the heads whenever a partition is claimed: nothing in it needs to
outlive the process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from services.common.calendar import END_OF_TIME

# Pages held in memory, in KiB: the rest of a million cases waits in the scratch file.
CACHE_KIB = 8192
# Stand-ins for the earliest moment, and for moments past the calendar's last day.
EARLIEST = -1.0e18
LATEST = END_OF_TIME.timestamp()


def _seconds(moment: datetime) -> float:
    """A moment as POSIX seconds, the first and last moments of time included."""
    if moment.year == 1:
        return EARLIEST
    return min(moment.timestamp(), LATEST)


def scratch(*schema: str) -> sqlite3.Connection:
    """Open a private database on a scratch file, removed when it closes, and lay out its tables."""
    # Nothing in it outlives the process: it is rebuilt from the log at every claim.
    db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    for statement in schema:
        db.execute(statement)
    return db


class DueIndex:
    """Case id to the partition holding it and the moment it is next due, ordered by that moment."""

    def __init__(self) -> None:
        self._db = scratch(
            "CREATE TABLE due (case_id TEXT PRIMARY KEY, partition INTEGER NOT NULL,"
            " at REAL NOT NULL) WITHOUT ROWID",
            "CREATE INDEX due_at ON due (at)",
        )

    def close(self) -> None:
        """Close the index, removing its scratch file."""
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM due").fetchone()[0])

    def note(self, partition: int, wakes: Iterable[tuple[str, datetime | None]]) -> None:
        """File each case at the moment it is next due; a case never due leaves the index."""
        rows = list(wakes)
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT INTO due (case_id, partition, at) VALUES (?, ?, ?) ON CONFLICT (case_id)"
                " DO UPDATE SET partition = excluded.partition, at = excluded.at",
                [(c, partition, _seconds(at)) for c, at in rows if at is not None],
            )
            self._db.executemany(
                "DELETE FROM due WHERE case_id = ?", [(c,) for c, at in rows if at is None]
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def forget(self, case_ids: Iterable[str]) -> None:
        """Take cases out until their heads change."""
        self._db.executemany("DELETE FROM due WHERE case_id = ?", [(c,) for c in case_ids])

    def drop(self, partition: int) -> None:
        """Take out every case of a partition no longer held."""
        self._db.execute("DELETE FROM due WHERE partition = ?", (partition,))

    def due(self, now: datetime, limit: int) -> list[tuple[str, int]]:
        """Return up to `limit` cases due by `now`, earliest first, with their partitions."""
        rows = self._db.execute(
            "SELECT case_id, partition FROM due WHERE at <= ? ORDER BY at LIMIT ?",
            (_seconds(now), limit),
        ).fetchall()
        return [(str(c), int(p)) for c, p in rows]
