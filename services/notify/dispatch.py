"""Sending what is due: each message opened, rendered and handed to its channel, then recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from contextlib import closing
from datetime import datetime
from typing import Any

from contracts.commands import CommandEnvelope
from contracts.notification import Channel as ChannelName
from contracts.personal import ERASED
from services.common import logging as logs
from services.common.calendar import end_of_day
from services.common.ids import timer_command_id
from services.common.keystore import open_vault
from services.common.reactions import system_actor
from services.common.settings import Settings
from services.common.vault import Sealer
from services.notify.channels import Channel, Undelivered
from services.notify.directory import Directory
from services.notify.domain import MAX_ATTEMPTS, Notification, Preferences
from services.notify.messages import render
from services.notify.sending import Limiter, quiet, ready, route

log = logs.get(__name__)
# Parks a note (never an address) of a message that failed for good: (case id, note, reason).
Park = Callable[[str, dict[str, Any], str], Awaitable[None]]


def command(
    note: Notification, command_type: str, payload: dict[str, Any], now: datetime
) -> CommandEnvelope:
    """The command recording one try of a message; the same id for the same try."""
    attempt = str(note.attempts + 1)
    return CommandEnvelope(
        command_id=timer_command_id(note.case_id, command_type, attempt),
        command_type=command_type,
        case_id=note.case_id,
        actor=system_actor(note.unit),
        issued_at=now,
        occurred_at=now,
        correlation_id=note.source_case_id,
        causation_id=f"dispatch:{attempt}",
        payload=payload,
        reply=False,
    )


class Dispatcher:
    """Sends the messages due in the cases a worker holds, once each, within limits and hours."""

    def __init__(
        self,
        settings: Settings,
        directory: Directory,
        channels: Mapping[ChannelName, Channel],
        *,
        per_tick: int = 50,
    ) -> None:
        self.settings, self.directory, self.channels = settings, directory, channels
        self.per_tick = per_tick
        self.limiter = Limiter(directory.limits.person_per_hour, directory.limits.unit_per_hour)
        # Tries handed over whose outcome the held case does not show yet, by message.
        self.pending: dict[str, int] = {}
        self.park: Park | None = None

    async def __call__(self, states: dict[str, Any], now: datetime) -> list[CommandEnvelope]:
        """Send what is due now among the held cases; return the commands that record it."""
        prefs = {s.user: s for s in states.values() if isinstance(s, Preferences)}
        notes = [s for s in states.values() if isinstance(s, Notification)]
        self.pending = {
            n.case_id: self.pending[n.case_id]
            for n in notes
            if n.case_id in self.pending
            and n.status == "planned"
            and n.attempts < self.pending[n.case_id]
        }
        due = sorted(
            (n for n in notes if ready(n, now) and n.case_id not in self.pending),
            key=lambda n: n.next_try,
        )[: self.per_tick]
        if not due:
            return []
        out: list[CommandEnvelope] = []
        # Opened afresh each tick, so a key erased by another process is seen as erased here.
        vault = await asyncio.to_thread(open_vault, self.settings)
        with closing(vault):
            sealer = Sealer(vault, self.settings.master_key)
            for note in due:
                meta = await self._one(note, prefs.get(note.recipient), sealer, now)
                if meta is not None:
                    self.pending[note.case_id] = note.attempts + 1
                    out.append(meta)
        return out

    async def _one(
        self, note: Notification, prefs: Preferences | None, sealer: Sealer, now: datetime
    ) -> CommandEnvelope | None:
        if (
            note.audience == "staff"
            and note.deadline is not None
            and now >= end_of_day(note.deadline)
        ):
            return command(note, "cancel", {"reason": "expired"}, now)
        if quiet(note, prefs, self.directory, now):
            return None
        way = route(note, prefs, self.directory.person(note.recipient))
        if way is None:
            return await self._failed(note, "email", Undelivered("no_address", permanent=True), now)
        address = way.address
        if note.audience == "worker":
            address = sealer.open(note.address)
            if address is None or address == ERASED:
                log.info("notification.withheld", case_id=note.case_id, reason="erased")
                return command(note, "cancel", {"reason": "erased"}, now)
        if address is None:
            return await self._failed(
                note, way.channel, Undelivered("no_address", permanent=True), now
            )
        if not self.limiter.allows(note.recipient, note.unit, now):
            log.info("notification.deferred", case_id=note.case_id, reason="rate limit")
            return None
        language = prefs.language if prefs is not None else note.language
        message = render(note.template, language, note.params)
        attempt = note.attempts + 1
        try:
            await self.channels[way.channel].send(address, message, f"{note.case_id}.{attempt}")
        except Undelivered as exc:
            return await self._failed(note, way.channel, exc, now)
        self.limiter.record(note.recipient, note.unit, now)
        log.info("notification.sent", case_id=note.case_id, channel=way.channel, attempt=attempt)
        return command(note, "record_sent", {"channel": way.channel, "attempt": attempt}, now)

    async def _failed(
        self, note: Notification, channel: ChannelName, why: Undelivered, now: datetime
    ) -> CommandEnvelope:
        attempt = note.attempts + 1
        final = why.permanent or attempt >= MAX_ATTEMPTS
        log.warning(
            "notification.failed",
            case_id=note.case_id,
            channel=channel,
            attempt=attempt,
            code=why.code,
            status=why.status,
            permanent=final,
        )
        if final and self.park is not None:
            parked = {
                "case_id": note.case_id,
                "recipient": note.recipient,
                "channel": channel,
                "attempt": attempt,
            }
            await self.park(note.case_id, parked, f"undeliverable: {why}")
        payload = {
            "channel": channel,
            "attempt": attempt,
            "code": why.code,
            "status": why.status,
            "permanent": final,
        }
        return command(note, "record_failure", payload, now)


def dead_letter_note(note: dict[str, Any]) -> bytes:
    """The parked record of a message that failed for good: ids only, never an address."""
    return json.dumps(note, sort_keys=True).encode()
