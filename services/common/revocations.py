"""Revoked tokens and users, shared by every process through one compacted topic.

A revocation is access state, not a case's history: every process reads the whole topic
at start and follows it, compaction keeps the latest word on each token or user, and
records older than the longest a token can live are deleted, since nothing they name is
still believed by then.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import BaseModel, Field

from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.auth import Claims
from services.common.settings import Settings

log = logs.get(__name__)
CATCH_UP_S = 30.0


class Revocation(BaseModel):
    """One token, or every token of a user issued before `at`, no longer believed."""

    kind: Literal["token", "user"]
    subject: str = Field(min_length=1, max_length=200)
    at: int
    # After this moment nothing it names is believed anyway.
    until: int
    by: str = Field(max_length=200)

    @property
    def key(self) -> str:
        """The compaction key: the latest revocation of a token or a user is what counts."""
        return f"{self.kind}:{self.subject}"


class Revocations:
    """What this process knows is revoked, kept current from the topic, and how to revoke."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topic(kafka_kit.REVOCATIONS)
        # Token id -> when it expires; user -> tokens issued before this are refused.
        self.tokens: dict[str, int] = {}
        self.users: dict[str, tuple[int, int]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._pruned = 0.0

    def refused(self, claims: Claims) -> str | None:
        """Return why a verified token is no longer believed, or None."""
        if claims.token_id in self.tokens:
            return "the token was revoked (signed out)"
        user = self.users.get(claims.actor.user_id)
        if user is not None and claims.issued_at <= user[0]:
            return "the user's tokens were revoked"
        return None

    def apply(self, revocation: Revocation) -> None:
        """Take a revocation into account, and forget those that no longer matter."""
        now = int(time.time())
        if revocation.until > now:
            if revocation.kind == "token":
                self.tokens[revocation.subject] = revocation.until
            else:
                prior = self.users.get(revocation.subject, (0, 0))
                self.users[revocation.subject] = max(prior, (revocation.at, revocation.until))
        if now - self._pruned >= 60:
            # Bounded: what no token outlives is forgotten, once a minute at most.
            self.tokens = {k: u for k, u in self.tokens.items() if u > now}
            self.users = {k: v for k, v in self.users.items() if v[1] > now}
            self._pruned = now

    async def start(self) -> None:
        """Read every revocation there is, then follow the topic in the background."""
        parts = await self._partitions()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            **kafka_kit.secured_async(self.settings),
            group_id=None,
            enable_auto_commit=False,
            client_id="taizhang-revocations",
        )
        await consumer.start()
        self._consumer = consumer
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        # Nobody is let in before every revocation already made is known.
        async with asyncio.timeout(CATCH_UP_S):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                await self._read(consumer)
        self._task = asyncio.create_task(self._follow(consumer), name="revocations")

    async def _partitions(self) -> list[TopicPartition]:
        """The topic's partitions, waited for a while: a topic just made shows none at first."""
        deadline = time.monotonic() + CATCH_UP_S
        while True:
            try:
                return await kafka_kit.assignable(self.settings, [self.topic])
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def stop(self) -> None:
        """Stop following the topic."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()
        if self._producer:
            await self._producer.stop()

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        batch = await consumer.getmany(timeout_ms=500)
        for msg in (m for msgs in batch.values() for m in msgs):
            if msg.value is None:
                continue
            try:
                self.apply(Revocation.model_validate_json(msg.value))
            except ValueError:
                log.warning(
                    "revocation.unreadable",
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                )

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                await self._read(consumer)
            except KafkaError as exc:
                log.warning("revocations.unreadable", error=str(exc))
                await asyncio.sleep(1.0)

    async def revoke(self, revocation: Revocation) -> None:
        """Store a revocation (acks=all) and believe it here at once."""
        if self._producer is None:
            self._producer = kafka_kit.producer(self.settings, client_id="taizhang-revocations")
            await self._producer.start()
        await self._producer.send_and_wait(
            self.topic, key=revocation.key.encode(), value=revocation.model_dump_json().encode()
        )
        self.apply(revocation)
        log.info("access.revoked", kind=revocation.kind, by=revocation.by)

    async def sign_out(self, claims: Claims) -> None:
        """Revoke one token: the one a person signs out with."""
        now = int(time.time())
        await self.revoke(
            Revocation(
                kind="token",
                subject=claims.token_id,
                at=now,
                until=claims.expires_at,
                by=claims.actor.user_id,
            )
        )

    async def revoke_user(self, user: str, by: str) -> None:
        """Revoke every token a user holds now; tokens issued afterwards are believed again."""
        now = int(time.time())
        until = now + self.settings.token_max_hours * 3600
        await self.revoke(Revocation(kind="user", subject=user, at=now, until=until, by=by))
