"""Erasing a person: the event on the privacy topic, and every process forgetting the key."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Request
from pydantic import Field, ValidationError, model_validator

from contracts.catalog import PRIVACY_TOPIC
from contracts.envelope import Actor, Frozen, now_utc
from contracts.privacy import KEY_ID, ErasureReason, PersonErased
from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.bearer import CurrentActor
from services.common.keystore import open_vault
from services.common.problems import Problem
from services.common.settings import Settings
from services.common.vault import KeyVault, Sealer

log = logs.get(__name__)


async def erase(
    settings: Settings,
    producer: AIOKafkaProducer,
    vault: KeyVault,
    *,
    key_id: str,
    actor: Actor,
    reason: ErasureReason,
) -> PersonErased:
    """Tell every process a key is erased, then destroy it here; return the erasure."""
    event = PersonErased(
        erasure_id=uuid.uuid4(), key_id=key_id, erased_at=now_utc(), actor=actor, reason=reason
    )
    # Written first: were this process to stop before destroying the key, the listeners
    # that read the erasure destroy it themselves.
    await producer.send_and_wait(
        settings.topic(PRIVACY_TOPIC), key=key_id.encode(), value=event.model_dump_json().encode()
    )
    await asyncio.to_thread(vault.erase, key_id)
    log.info("person.erased", erasure_id=str(event.erasure_id), reason=reason)
    return event


@contextlib.contextmanager
def own_sealer(settings: Settings) -> Iterator[Sealer]:
    """A sealer on this machine's vault, for a process that reads personal data once."""
    vault = open_vault(settings)
    try:
        yield Sealer(vault, settings.master_key)
    finally:
        vault.close()


class NotFiled(LookupError):
    """No person is filed under the phone number given."""


async def erase_standalone(
    settings: Settings,
    *,
    actor: Actor,
    reason: ErasureReason,
    key_id: str | None = None,
    phone: str | None = None,
) -> PersonErased:
    """Erase a person from outside the services (the command line), by person id or phone."""
    vault = await asyncio.to_thread(open_vault, settings)
    try:
        if phone is not None:
            key_id = await asyncio.to_thread(Sealer(vault, settings.master_key).known, phone)
            if key_id is None:
                raise NotFiled("no person is filed under that phone number")
        if key_id is None:
            raise ValueError("give a person id or a phone number")
        producer = kafka_kit.producer(settings, client_id="taizhang-privacy")
        await producer.start()
        try:
            return await erase(settings, producer, vault, key_id=key_id, actor=actor, reason=reason)
        finally:
            await producer.stop()
    finally:
        vault.close()


class ErasureListener:
    """Reads the privacy topic from its start and destroys each erased key in this process."""

    def __init__(self, settings: Settings, vault: KeyVault) -> None:
        self.settings = settings
        self.vault = vault
        self.seen = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Assign every partition of the privacy topic and tail it in the background."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="taizhang-privacy",
        )
        parts = await kafka_kit.assignable(self.settings, [self.settings.topic(PRIVACY_TOPIC)])
        await consumer.start()
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name="privacy-listener")

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batches.values():
                for record in records:
                    await self._apply(record.value or b"", record.partition, record.offset)

    async def _apply(self, value: bytes, partition: int, offset: int) -> None:
        try:
            event = PersonErased.model_validate_json(value)
        except ValidationError:
            # Every process reads this topic: one of them parking it would be as good as
            # none, so each says where it is and reads on.
            log.error(
                "record.unreadable",
                topic=self.settings.topic(PRIVACY_TOPIC),
                partition=partition,
                offset=offset,
            )
            return
        await asyncio.to_thread(self.vault.erase, event.key_id)
        self.seen += 1

    async def stop(self) -> None:
        """Stop tailing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()


@dataclass
class Privacy:
    """One process's vault, its sealer and the listener that keeps its keys current."""

    settings: Settings
    vault: KeyVault
    sealer: Sealer
    listener: ErasureListener


@asynccontextmanager
async def privacy(settings: Settings) -> AsyncIterator[Privacy]:
    """Open the vault and listen for erasures for as long as the process runs."""
    vault = await asyncio.to_thread(open_vault, settings)
    listener = ErasureListener(settings, vault)
    try:
        await listener.start()
        yield Privacy(settings, vault, Sealer(vault, settings.master_key), listener)
    finally:
        await listener.stop()
        vault.close()


# --- the route ----------------------------------------------------------------


class ErasureBody(Frozen):
    """Whom to erase, by person id or by phone number, and on which ground."""

    person_id: str | None = Field(default=None, pattern=KEY_ID)
    phone: str | None = Field(default=None, min_length=3, max_length=32, pattern=r"^[0-9 +()-]+$")
    reason: ErasureReason

    @model_validator(mode="after")
    def _one_of(self) -> ErasureBody:
        if (self.person_id is None) == (self.phone is None):
            raise ValueError("give either person_id or phone, not both")
        return self


class Erasing(Protocol):
    """A service context that can erase: its producer and its privacy."""

    producer: AIOKafkaProducer
    privacy: Privacy


def _erasing(request: Request) -> Erasing:
    ctx: Erasing = request.app.state.ctx
    return ctx


def _admin(actor: CurrentActor) -> Actor:
    if actor.role != "admin":
        raise Problem(403, "Forbidden", "only an admin erases a person's data")
    return actor


router = APIRouter(prefix="/privacy", tags=["privacy"])


@router.post("/erasures", status_code=201)
async def erase_person(
    body: ErasureBody,
    ctx: Annotated[Erasing, Depends(_erasing)],
    actor: Annotated[Actor, Depends(_admin)],
) -> dict[str, Any]:
    """Erase a person's data for good (PIPL Art. 47); every service shows `[erased]` in seconds."""
    key_id = body.person_id or await asyncio.to_thread(ctx.privacy.sealer.known, body.phone or "")
    if key_id is None:
        raise Problem(404, "Not found", "no person is filed under that phone number")
    try:
        event = await erase(
            ctx.privacy.settings,
            ctx.producer,
            ctx.privacy.vault,
            key_id=key_id,
            actor=actor,
            reason=body.reason,
        )
    except KafkaError as exc:
        raise Problem(
            503,
            "Ledger unavailable",
            "the erasure could not be written; nothing was erased, send it again",
            headers={"Retry-After": "5"},
        ) from exc
    return event.model_dump(mode="json")
