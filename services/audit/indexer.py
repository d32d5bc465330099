"""The audit worker: keeps the per-case index up to date and publishes signed checkpoints.

The index files only events it believes (signed under their service's keys, or covered
by the last signed checkpoint), so the checkpoints it signs never bless a forgery.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kafka import KafkaProducer
from kafka.errors import KafkaError
from pydantic import Field

from contracts.catalog import AUDIT_TREE_HEADS
from contracts.envelope import canonical_bytes, chain_hash, now_utc, parse_record
from services.audit import checkpoint, merkle, treeheads
from services.audit.index import CaseIndex, index_path
from services.audit.meter import QUIET, Meter
from services.audit.records import (
    LogRecord,
    Position,
    end_offsets,
    event_partitions,
    read_partitions,
    reading,
    topic_partitions,
)
from services.common import heap
from services.common import logging as logs
from services.common.deadletters import parked
from services.common.heartbeat import Heartbeat
from services.common.kafka import STREAMS
from services.common.keys import Trust
from services.common.presence import Presence
from services.common.settings import Settings

log = logs.get(__name__)
BATCH = 5000


class AuditSettings(treeheads.KeySettings):
    """The audit service's settings: its key, and how often to sign checkpoints and tree heads."""

    checkpoint_interval_s: float = 300.0
    index_interval_s: float = 1.0
    # A partition that grew gets a signed tree head this often, or once this many records came.
    tree_head_interval_s: float = Field(default=60.0, gt=0.0, le=86_400.0)
    tree_head_every: int = Field(default=1000, ge=1, le=10_000_000)


class Refusals:
    """Events the index does not believe: logged, parked beside their topic, filed as places only.

    Their case versions and hashes stay out of the index, so no checkpoint signed from it
    ever covers them.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.trust = Trust(settings)
        self._producer: KafkaProducer | None = None

    def judge(self, rec: LogRecord) -> str | None:
        """Why a readable record must not be believed, or None (unreadable ones verify names)."""
        try:
            raw, env = parse_record(rec.value)
        except ValueError:
            return None
        if chain_hash(raw) != raw.get("hash"):
            return "hash does not match the record's content"
        pos = rec.position
        return self.trust.judge(env, pos.topic, pos.partition, pos.offset)

    def park(self, rec: LogRecord, reason: str) -> None:
        """Log a refused record's place and park it in `<topic>.dlq`."""
        pos = rec.position
        headers = parked(
            pos.topic,
            pos.partition,
            pos.offset,
            f"audit index: {reason}",
            case_id=rec.key,
            consumer="audit-index",
        )
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                acks="all",
                client_id="taizhang-audit-refusals",
            )
        key = rec.key.encode() if rec.key else None
        self._producer.send(f"{pos.topic}.dlq", key=key, value=rec.value, headers=headers).get(30)

    def close(self) -> None:
        """Close the producer, if one was opened."""
        if self._producer is not None:
            self._producer.close()


def catch_up(
    settings: Settings,
    index: CaseIndex,
    on_batch: Callable[[int], None] | None = None,
    refusals: Refusals | None = None,
) -> int:
    """Index every record written since the index's stored offsets; return how many."""
    parts = event_partitions(settings, STREAMS)
    stored = index.offsets()
    starts = {tp: stored.get((tp.topic, tp.partition), 0) for tp in parts}
    ends = end_offsets(settings, parts)
    batch: list[LogRecord] = []
    refused: set[Position] = set()
    done = 0
    judged = refusals or Refusals(settings)

    def flush(final: bool) -> None:
        nonlocal done
        reached = {(r.position.topic, r.position.partition): r.position.offset + 1 for r in batch}
        if final:
            reached.update({(tp.topic, tp.partition): ends[tp] for tp in parts})
        index.add(batch, reached, refused)
        done += len(batch)
        if on_batch:
            on_batch(len(batch))
        batch.clear()
        refused.clear()

    try:
        for rec in read_partitions(settings, parts, starts, ends):
            problem = judged.judge(rec)
            if problem is not None:
                judged.park(rec, f"not believed: {problem}")
                refused.add(rec.position)
            batch.append(rec)
            if len(batch) >= BATCH:
                flush(final=False)
        flush(final=True)
    finally:
        if refusals is None:
            judged.close()
    return done


def catch_up_heads(settings: Settings, index: CaseIndex, keys: treeheads.Keys) -> int:
    """Keep every tree head published since the index's stored offsets; return how many."""
    parts = topic_partitions(settings, [settings.topic(AUDIT_TREE_HEADS)])
    stored = index.offsets()
    starts = {tp: stored.get((tp.topic, tp.partition), 0) for tp in parts}
    ends = end_offsets(settings, parts)
    rows = []
    for rec in read_partitions(settings, parts, starts, ends):
        try:
            head = treeheads.open_head(rec.value, keys)
        except treeheads.TreeHeadError as exc:
            log.warning("audit.tree_head.refused", position=str(rec.position), error=str(exc))
            continue
        rows.append(
            (head.topic, head.partition, head.tree_size, head.key_id, head.timestamp, rec.value)
        )
    index.add_tree_heads(rows, {(tp.topic, tp.partition): ends[tp] for tp in parts})
    return len(rows)


def sign_tree_heads(
    index: CaseIndex, key: Ed25519PrivateKey, signed: dict[tuple[str, int], int]
) -> list[treeheads.TreeHead]:
    """Sign a head for every partition whose tree grew past the size last signed."""
    heads = []
    for (topic, partition), size in sorted(index.tree_sizes().items()):
        if size > signed.get((topic, partition), 0):
            root = merkle.root(index.leaves(topic, partition), size)
            heads.append(
                treeheads.sign(
                    key, topic=topic, partition=partition, tree_size=size, root=root, at=now_utc()
                )
            )
    return heads


@dataclass(frozen=True)
class Refreshed:
    """What bringing the index up to date did: records added, records held, seconds taken."""

    added: int
    count: int
    seconds: float


def refresh_index(settings: Settings, *, rebuild: bool = False, meter: Meter = QUIET) -> Refreshed:
    """Bring the per-case index up to date with the log; from offset 0 with `rebuild`."""
    path = index_path(settings)
    if rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = CaseIndex(path)
    started = time.perf_counter()
    try:
        with reading():
            meter.start("indexing", None)
            added = catch_up(settings, store, meter.advance)
            count = store.count()
    finally:
        store.close()
    return Refreshed(added=added, count=count, seconds=time.perf_counter() - started)


def sign_from_index(settings: Settings, index: CaseIndex) -> tuple[bytes, dict[str, Any]]:
    """Build and sign a checkpoint over the index's chain heads and offsets."""
    ends: dict[str, dict[int, int]] = {}
    for (topic, partition), offset in index.offsets().items():
        ends.setdefault(topic, {})[partition] = offset
    body = checkpoint.build(index.heads(), ends, now_utc())
    return checkpoint.sign(checkpoint.signing_key(settings), body), body


class AuditWorker:
    """Tails every events topic into the index; signs a checkpoint when the heads moved."""

    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self._stop = False
        self._signed: bytes | None = None
        self._last_checkpoint = 0.0
        self._key = treeheads.audit_key(settings, settings.audit_key_file)
        public = self._key.public_key()
        self._keys: treeheads.Keys = {treeheads.key_id("audit", public): public}
        self._last_heads = time.monotonic()
        self._heads_read = False
        # Touched each round and each batch filed, when the process is probed for liveness.
        self.heartbeat: Heartbeat | None = None

    def _beat(self, _filed: int = 0) -> None:
        if self.heartbeat is not None:
            self.heartbeat.beat()

    def run(self) -> None:
        """Run until SIGTERM or SIGINT."""
        signal.signal(signal.SIGTERM, self._halt)
        signal.signal(signal.SIGINT, self._halt)
        checkpoint.signing_key(self.settings)
        index = self._open_index()
        refusals = Refusals(self.settings)
        # Seen by the audit API's /health as a member of the service's group.
        presence = Presence(self.settings, "audit", self.settings.topic("audit.checkpoints"))
        presence.start()
        log.info("audit.worker.started", index=str(index_path(self.settings)))
        heap.settle("audit-worker")
        try:
            while not self._stop:
                self._beat()
                try:
                    added = catch_up(self.settings, index, on_batch=self._beat, refusals=refusals)
                    if added:
                        log.info("audit.indexed", records=added, total=index.count())
                    self._maybe_checkpoint(index)
                    self._maybe_tree_heads(index)
                except KafkaError as exc:
                    log.warning("audit.cycle_failed", error=str(exc))
                time.sleep(self.settings.index_interval_s)
        finally:
            presence.stop()
            refusals.close()
            index.close()

    def _open_index(self) -> CaseIndex:
        """Open the index; one filed before it kept trees or cases is filed again from offset 0."""
        index = CaseIndex(index_path(self.settings))
        lacks = None
        if index.count() and not index.tree_sizes():
            lacks = "the index kept no Merkle trees"
        elif index.count() and not index.ledger_filed():
            lacks = "the index kept no ledger of cases"
        if lacks is not None:
            index.close()
            refresh_index(self.settings, rebuild=True)
            index = CaseIndex(index_path(self.settings))
            log.info("audit.index.refiled", reason=lacks)
        return index

    def _maybe_tree_heads(self, index: CaseIndex) -> None:
        # Only this worker writes heads: the topic is read at start and after each publication.
        if not self._heads_read:
            catch_up_heads(self.settings, index, self._keys)
            self._heads_read = True
        signed = index.signed_sizes()
        pending = sum(max(0, n - signed.get(tp, 0)) for tp, n in index.tree_sizes().items())
        waited = time.monotonic() - self._last_heads
        if not pending or (
            pending < self.settings.tree_head_every and waited < self.settings.tree_head_interval_s
        ):
            return
        heads = sign_tree_heads(index, self._key, signed)
        self._heads_read = False
        treeheads.publish(self.settings, heads)
        self._last_heads = time.monotonic()
        catch_up_heads(self.settings, index, self._keys)
        self._heads_read = True
        log.info("audit.tree_heads.published", heads=len(heads), records=pending)

    def _maybe_checkpoint(self, index: CaseIndex) -> None:
        if time.monotonic() - self._last_checkpoint < self.settings.checkpoint_interval_s:
            return
        value, body = sign_from_index(self.settings, index)
        unchanged = canonical_bytes({**body, "at": ""})
        if not body["cases"] or unchanged == self._signed:
            self._last_checkpoint = time.monotonic()
            return
        where = checkpoint.publish(self.settings, value)
        self._signed, self._last_checkpoint = unchanged, time.monotonic()
        log.info("audit.checkpoint.published", cases=len(body["cases"]), position=str(where))

    def _halt(self, *_: Any) -> None:
        self._stop = True
