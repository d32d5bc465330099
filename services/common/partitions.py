"""One writer per command partition: a transactional producer that fences the one before, and heads.

Each command partition has one transactional id. Claiming it registers that id with the
broker, which fences every producer that registered it before (a worker that was paused,
lost the partition and came back still holding a batch) and aborts whatever such a producer
had left open. Only then are the partition's case heads read, committed ones only, so they
are the heads every committed event was decided from. A batch's events and the heads they
lead to are stored in one transaction: both land or neither does, and a fenced producer can
land nothing at all. Every event and every head is signed with the service's key on its
way out, and the key is published before the first thing signed with it; a head read back
that is not believed is kept as unreadable, so its case's commands and deadlines are parked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata

from contracts.envelope import Envelope
from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.headstore import Fetched, HeadStore, Held, StoredHead, later_head
from services.common.isolation import UNREADABLE
from services.common.keys import Trust, publish_key
from services.common.settings import Settings
from services.common.signing import SIGNED_BY, KeyRing, Signer, admit_head

log = logs.get(__name__)


class Fenced(Exception):
    """The partition was claimed by another instance since (or its writer broke): nothing landed."""


class Watch(Protocol):
    """Told of the heads a partition holds as they change (the due-date index, an action)."""

    def held(self, partition: int, heads: Mapping[str, StoredHead]) -> None:
        """A partition was claimed with these heads."""

    def kept(self, partition: int, heads: Mapping[str, StoredHead]) -> None:
        """These heads of a partition were stored."""

    def released(self, partition: int) -> None:
        """A partition is no longer held."""


@dataclass
class Claim:
    """A partition this instance writes: its transactional producer and its cases' heads."""

    partition: int
    producer: AIOKafkaProducer
    heads: Held
    # Held while a transaction is open, so a release waits for it.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Transaction:
    """One batch of a partition: its events and the heads they lead to, stored all or nothing."""

    def __init__(self, claim: Claim, events_topic: str, heads_topic: str, signer: Signer) -> None:
        self.claim, self.events_topic, self.heads_topic = claim, events_topic, heads_topic
        self.signer = signer
        self.kept: dict[str, StoredHead] = {}

    async def append(self, events: list[Envelope]) -> list[tuple[int, int]]:
        """Sign and write events in order; return where each landed, once every replica has it."""
        producer = self.claim.producer
        futures = [
            await producer.send(
                self.events_topic,
                key=env.case_id.encode(),
                value=self.signer.seal(env).to_bytes(),
                headers=[("event_type", env.event_type.encode())],
            )
            for env in events
        ]
        done: list[RecordMetadata] = await asyncio.gather(*futures)
        return [(m.partition, m.offset) for m in done]

    async def keep(self, heads: dict[str, StoredHead]) -> None:
        """Write the cases' new heads, in the partition their commands come from."""
        producer = self.claim.producer
        futures = [
            await producer.send(
                self.heads_topic,
                key=case_id.encode(),
                value=json.dumps(
                    self.signer.seal_head(head), ensure_ascii=False, separators=(",", ":")
                ).encode(),
                partition=self.claim.partition,
            )
            for case_id, head in heads.items()
        ]
        await asyncio.gather(*futures)
        self.kept.update(heads)

    async def answer(self, topic: str, replies: list[tuple[str, bytes]]) -> None:
        """Write replies (command id, reply) in the partition their commands come from."""
        producer, partition = self.claim.producer, self.claim.partition
        futures = [
            await producer.send(topic, key=key.encode(), value=value, partition=partition)
            for key, value in replies
        ]
        await asyncio.gather(*futures)


class Partitions:
    """The command partitions this instance writes, each claimed once, written in transactions."""

    def __init__(
        self,
        settings: Settings,
        *,
        writer: str,
        events_topic: str,
        heads_topic: str,
        signer: Signer,
    ) -> None:
        self.settings = settings
        self.signer = signer
        self._published = False
        # What the heads read back are checked against: the service's keys, the checkpoint.
        self.trust = Trust(settings)
        # Names the transactional ids: one per partition, the same in every instance.
        self.writer = writer
        self.events_topic, self.heads_topic = events_topic, heads_topic
        self.claims: dict[int, Claim] = {}
        # The heads of every partition claimed, kept out of memory but for the latest used.
        self.store = HeadStore()
        self._claiming: dict[int, asyncio.Lock] = {}
        self.watches: list[Watch] = []

    def held(self, partition: int, case_id: str) -> StoredHead | None:
        """The head a claimed partition holds for a case, or None."""
        claim = self.claims.get(partition)
        return None if claim is None else claim.heads.get(case_id)

    async def claim(self, partition: int) -> Claim:
        """Return the partition's claim; the first time, fence older owners and read its heads."""
        lock = self._claiming.setdefault(partition, asyncio.Lock())
        async with lock:
            held = self.claims.get(partition)
            if held is None:
                held = self.claims[partition] = await self._claim(partition)
                for watch in self.watches:
                    watch.held(partition, held.heads)
            return held

    async def settle(self, partitions: set[int]) -> None:
        """Claim the partitions assigned to this instance and release every other."""
        for partition in set(self.claims) - partitions:
            await self.release(partition)
        results = await asyncio.gather(
            *(self.claim(p) for p in sorted(partitions)), return_exceptions=True
        )
        for partition, result in zip(sorted(partitions), results, strict=True):
            if isinstance(result, BaseException):
                # Claimed again by the first batch that needs it.
                log.warning("partition.claim_failed", partition=partition, error=repr(result))

    async def release(self, partition: int) -> None:
        """Stop writing a partition, once its open transaction, if any, is over."""
        claim = self.claims.pop(partition, None)
        if claim is None:
            return
        # At once: a claim made again while the transaction ends reads the heads afresh.
        self.store.drop(partition)
        for watch in self.watches:
            watch.released(partition)
        async with claim.lock:
            await _stop(claim.producer)
        log.info("partition.released", partition=partition)

    async def close(self) -> None:
        """Release every partition."""
        for partition in list(self.claims):
            await self.release(partition)

    @contextlib.asynccontextmanager
    async def transaction(self, claim: Claim) -> AsyncIterator[Transaction]:
        """Open a transaction on a claimed partition; commit it when the block ends.

        Raises Fenced if another instance claimed the partition in the meantime, and passes
        on any other failure; either way nothing of the block lands, and the claim is given
        up, so the next one fences the transaction left open and reads the heads again.
        """
        async with claim.lock:
            if self.claims.get(claim.partition) is not claim:
                raise Fenced(f"partition {claim.partition} was released")
            txn = Transaction(claim, self.events_topic, self.heads_topic, self.signer)
            try:
                await claim.producer.begin_transaction()
                yield txn
                await claim.producer.commit_transaction()
            except BaseException as exc:
                if self.claims.get(claim.partition) is claim:
                    del self.claims[claim.partition]
                await _stop(claim.producer)
                if _fenced(exc):
                    raise Fenced(f"partition {claim.partition}: {type(exc).__name__}") from exc
                raise
            if self.claims.get(claim.partition) is claim:
                claim.heads.update(txn.kept)
            for watch in self.watches:
                watch.kept(claim.partition, txn.kept)

    async def _claim(self, partition: int) -> Claim:
        if not self._published:
            # Readers find the key before any event signed with it.
            await asyncio.to_thread(publish_key, self.settings, self.signer)
            self._published = True
        producer = kafka_kit.producer(
            self.settings,
            transactional_id=f"{self.writer}-{partition}",
            client_id=f"taizhang-decider-{partition}",
            # A transaction left open by an instance that died blocks committed readers of
            # the partition until a new owner claims it, or until this runs out.
            transaction_timeout_ms=int(self.settings.session_timeout_s * 3000),
        )
        try:
            # Registering the transactional id fences every older producer of the partition.
            await producer.start()
            cases = await self._read_heads(partition)
        except BaseException:
            await _stop(producer)
            self.store.drop(partition)
            raise
        log.info("partition.claimed", partition=partition, cases=cases)
        return Claim(partition, producer, Held(self.store, partition))

    async def _read_heads(self, partition: int) -> int:
        """Read a partition's case heads as committed, oldest first, keeping each case's last.

        They are kept in the store a fetch at a time; return how many cases it holds.
        """
        tp = TopicPartition(self.heads_topic, partition)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            **kafka_kit.secured_async(self.settings),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            client_id="taizhang-heads",
        )
        self.store.drop(partition)
        await asyncio.to_thread(self.trust.refresh, checkpoint=False)
        await consumer.start()
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
                heads = Fetched(self.store, partition)
                for msg in batch.get(tp, []):
                    if msg.key is None:
                        continue
                    case_id = msg.key.decode()
                    if msg.value is None:
                        heads.pop(case_id)
                        continue
                    try:
                        incoming = json.loads(msg.value)
                        refused = await self._disbelief(case_id, incoming)
                        if refused is not None:
                            log.error(
                                "head.refused",
                                case_id=case_id,
                                topic=tp.topic,
                                partition=tp.partition,
                                offset=msg.offset,
                                reason=refused,
                            )
                            heads[case_id] = {UNREADABLE: f"not believed: {refused}"}
                            continue
                        # Held as the decider keeps it; who signed it was checked above.
                        held = {k: v for k, v in incoming.items() if k not in SIGNED_BY}
                        heads[case_id], problem = later_head(heads.get(case_id), held)
                    except (ValueError, TypeError, AttributeError) as exc:
                        # Kept as unreadable: the case's commands are parked, the others go on.
                        heads[case_id] = {UNREADABLE: f"not a head: {exc}"}
                        continue
                    if problem is not None:
                        log.error(
                            "head.conflict",
                            case_id=case_id,
                            topic=tp.topic,
                            partition=tp.partition,
                            offset=msg.offset,
                            reason=problem,
                        )
                heads.keep()
        finally:
            await consumer.stop()
        return self.store.count(partition)

    async def _disbelief(self, case_id: str, head: Any) -> str | None:
        """Why a stored head must not be believed, or None; the checkpoint is read if needed."""
        if not isinstance(head, dict):
            return None
        unsigned = head.get("key_id") is None and head.get("signature") is None
        if unsigned and not self.trust.covered_read:
            await asyncio.to_thread(self.trust.refresh, checkpoint=True)
        ring = self.trust.ring or KeyRing()
        return admit_head(case_id, head, ring, self.signer.service, self.trust.covered)


# Failures after which the writer cannot write again: another one registered its id, or its
# client gave up on it for good. Claiming the partition again is the way on.
_FATAL = {"ProducerFenced", "InvalidProducerEpoch", "InvalidTxnState", "OutOfOrderSequenceNumber"}


def _fenced(exc: BaseException) -> bool:
    """Whether a failure means the writer is done: fenced, or its client in a state it keeps."""
    causes = [e for e in (exc, exc.__cause__, exc.__context__) if e is not None]
    if any(type(e).__name__ in _FATAL for e in causes):
        return True
    # The client refuses to open a transaction once it has failed for good.
    return isinstance(exc, AssertionError) and "state transition" in str(exc)


async def _stop(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(KafkaError, AssertionError, asyncio.TimeoutError):
        await asyncio.wait_for(producer.stop(), timeout=10)
