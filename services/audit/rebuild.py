"""Rebuild every read model from offset 0 into a fresh store; prove it equals the live one."""

from __future__ import annotations

import hashlib
import importlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import TopicPartition

from contracts.catalog import SERVICES
from services.audit.meter import QUIET, Meter
from services.audit.records import end_offsets, read_partitions, reading, topic_partitions
from services.common.dialects import COLUMNS, total_order
from services.common.keys import Trust
from services.common.readmodel import ReadModel
from services.common.readschema import Record
from services.common.settings import Settings
from services.common.store import Store, existing_store

BATCH = 2000


@dataclass
class TableCheck:
    """One table's digest in the rebuilt and in the live store."""

    table: str
    rows: int
    rebuilt: str
    live: str | None

    @property
    def equal(self) -> bool:
        """Whether the live table holds exactly the rebuilt rows."""
        return self.rebuilt == self.live


@dataclass
class Rebuilt:
    """The outcome of rebuilding one service's read model."""

    service: str
    file: str
    events: int = 0
    dead: int = 0
    seconds: float = 0.0
    live_found: bool = False
    tables: list[TableCheck] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        """Whether every table equals the live one."""
        return self.live_found and all(t.equal for t in self.tables)


def services_with_read_models() -> dict[str, Callable[[Settings], ReadModel[Any]]]:
    """Return every registered service whose app module offers a `read_model` factory."""
    out = {}
    for name, entry in SERVICES.items():
        factory = getattr(importlib.import_module(entry.module), "read_model", None)
        if factory is not None:
            out[name] = factory
    return out


def plan(
    settings: Settings, model: ReadModel[Any], live: Store | None
) -> dict[TopicPartition, int]:
    """Return where to stop reading each partition: where the live model is, else the end."""
    parts = topic_partitions(settings, model.topics)
    ends = end_offsets(settings, parts)
    if live is None:
        return ends
    stored = live_offsets(live)
    return {tp: stored.get((tp.topic, tp.partition), 0) for tp in parts}


def live_offsets(live: Store) -> dict[tuple[str, int], int]:
    """Return the offsets a live read model has consumed."""
    rows = live.read("SELECT topic, partition, next_offset FROM offsets")
    return {(str(t), int(p)): int(o) for t, p, o in rows}


def replay_into(
    settings: Settings,
    model: ReadModel[Any],
    stops: dict[TopicPartition, int],
    on_batch: Callable[[int], None],
) -> tuple[int, int]:
    """Feed a fresh read model every record from offset 0 up to `stops`; return (events, dead)."""
    events = dead = 0
    batch: list[Record] = []
    # Rebuilt as the live one was built: only events the readers believe are applied.
    trust = Trust(settings)

    def flush() -> None:
        nonlocal events, dead
        if not batch:
            return
        try:
            dead += len(model.apply_batch(batch, trust.judge))
            model.commit()
        except BaseException:
            model.rollback()
            raise
        events += len(batch)
        on_batch(len(batch))
        batch.clear()

    parts = [tp for tp, stop in stops.items() if stop > 0]
    for rec in read_partitions(settings, parts, ends={tp: stops[tp] for tp in parts}):
        pos = rec.position
        batch.append(Record(pos.topic, pos.partition, pos.offset, rec.value))
        if len(batch) >= BATCH:
            flush()
    flush()
    return events, dead


def table_digests(store: Store) -> dict[str, tuple[int, str]]:
    """Return (rows, SHA-256 over the rows in key order) for every table of a store."""
    out = {}
    for name in sorted(store.tables()):
        columns = [(str(r[0]), str(r[1])) for r in store.read(COLUMNS[store.dialect], (name,))]
        order = total_order(store.dialect, columns)
        digest = hashlib.sha256()
        count = 0
        for row in store.scan(f'SELECT * FROM "{name}" ORDER BY {order}'):
            digest.update(repr(row).encode())
            digest.update(b"\n")
            count += 1
        out[name] = (count, digest.hexdigest())
    return out


def compare(rebuilt: Store, live: Store | None) -> list[TableCheck]:
    """Compare the digest of every table of the rebuilt store with the live one."""
    mine = table_digests(rebuilt)
    theirs = table_digests(live) if live is not None else {}
    return [
        TableCheck(name, rows, digest, theirs[name][1] if name in theirs else None)
        for name, (rows, digest) in mine.items()
    ]


def fresh_settings(settings: Settings, root: Path) -> Settings:
    """The same deployment with its local stores under `root`, so nothing live is touched."""
    # Rebuilt into SQLite files even where the live read models are on a shared server.
    return settings.model_copy(update={"var_dir": root, "database_url": None})


def rebuild_service(
    settings: Settings,
    name: str,
    factory: Callable[[Settings], ReadModel[Any]],
    root: Path,
    meter: Meter = QUIET,
) -> Rebuilt:
    """Rebuild one service's read model under `root` up to where the live one stands; compare."""
    fresh = fresh_settings(settings, root / name)
    before = set(fresh.data_dir.glob("*.sqlite"))
    model = factory(fresh)
    live: Store | None = None
    try:
        made = sorted(set(fresh.data_dir.glob("*.sqlite")) - before)
        if len(made) != 1:
            raise RuntimeError(f"{name}: expected one new read model file, found {len(made)}")
        # The live read model where the service keeps it: its file here, or its schema.
        live = existing_store(settings, made[0].stem)
        if live is not None and "offsets" not in live.tables():
            live.close()
            live = None
        stops = plan(settings, model, live)
        meter.start(name, sum(stops.values()))
        started = time.perf_counter()
        events, dead = replay_into(settings, model, stops, meter.advance)
        took = time.perf_counter() - started
        result = Rebuilt(name, made[0].name, events, dead, took, live is not None)
        result.tables = compare(model.store, live)
    finally:
        model.close()
        if live is not None:
            live.close()
    return result


@dataclass
class Rebuilds:
    """Every service's read model rebuilt from offset 0, each compared with the live one."""

    results: list[Rebuilt]

    @property
    def compared(self) -> list[Rebuilt]:
        """The rebuilds that had a live read model on this machine to compare with."""
        # A service that does not run on this machine has no live model: nothing to disprove.
        return [r for r in self.results if r.live_found]

    @property
    def equal(self) -> bool:
        """Whether every compared rebuild equals its live read model."""
        return all(r.equal for r in self.compared)


def rebuild_all(settings: Settings, *, meter: Meter = QUIET) -> Rebuilds:
    """Rebuild every read model from offset 0 in a scratch store; compare each with the live one."""
    results: list[Rebuilt] = []
    with reading(), tempfile.TemporaryDirectory(prefix="taizhang-rebuild-") as tmp:
        for name, factory in services_with_read_models().items():
            results.append(rebuild_service(settings, name, factory, Path(tmp), meter))
    return Rebuilds(results)
