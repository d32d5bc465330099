"""Entry points of the notification service: its HTTP app and its stream worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI

from contracts.notification import Channel as ChannelName
from services.common.app import case_app
from services.common.deadletters import Record, dead_letter
from services.common.effects import effects
from services.common.reactors import gathering_reactor
from services.common.readmodel import ReadModel
from services.common.settings import Settings
from services.common.store import open_store
from services.common.worker import DeciderWorker
from services.notify import dev, policies
from services.notify.api import preferences_router, router
from services.notify.channels import Channel, GatewayChannel, SmtpChannel
from services.notify.config import NotifyConfig
from services.notify.directory import load_directory
from services.notify.dispatch import Dispatcher, dead_letter_note
from services.notify.domain import Notification
from services.notify.local import LocalMailbox, Received
from services.notify.rules import Matter, Rules
from services.notify.sending import concerns
from services.notify.service import KIND


def read_model(settings: Settings) -> ReadModel[Notification]:
    """Open the notification read model."""
    return ReadModel(open_store(settings, "notify"), KIND, settings.topic(f"{KIND.stream}.events"))


def create_app(settings: Settings | None = None, config: NotifyConfig | None = None) -> FastAPI:
    """Build the notification HTTP app; in development, with the local mailbox and gateway."""
    settings = settings or Settings()
    config = config or NotifyConfig()
    app = case_app(settings, "notify", KIND, read_model, [router, preferences_router, dev.router])
    if not config.local or settings.environment == "production":
        return app
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        received = Received(settings.data_dir / "received.sqlite")
        mailbox = LocalMailbox(received, config.smtp_host, config.smtp_port)
        mailbox.start()
        a.state.received = received
        try:
            async with inner(a) as state:
                yield state
        finally:
            mailbox.stop()
            received.close()

    app.router.lifespan_context = lifespan
    return app


def create_worker(
    settings: Settings | None = None, config: NotifyConfig | None = None
) -> DeciderWorker[Notification]:
    """Build the notification worker: the rules that plan messages, and the dispatcher."""
    settings = settings or Settings()
    config = config or NotifyConfig()
    directory = load_directory(config.directory_file)
    channels: dict[ChannelName, Channel] = {
        "email": SmtpChannel(config.smtp_host, config.smtp_port, config.sender),
        "sms": GatewayChannel(config.gateway_url, "sms"),
        "wecom": GatewayChannel(config.gateway_url, "wecom"),
    }
    dispatcher = Dispatcher(settings, directory, channels, per_tick=config.per_tick)
    worker = DeciderWorker(
        settings,
        KIND,
        "notify",
        extras=(
            gathering_reactor(
                policies.SOURCES,
                "notify-matters",
                file_under=policies.file_under,
                memory=Matter,
                react=partial(policies.answer, Rules(directory)),
            ),
            effects("notify-dispatch", dispatcher, concerns),
        ),
    )
    events = settings.topic(f"{KIND.stream}.events")

    async def park(case_id: str, note: dict[str, Any], reason: str) -> None:
        # No record of the log failed: the note names the message, so the offset is none.
        where = Record(dead_letter_note(note), events, -1, -1, case_id.encode())
        await dead_letter(worker.sender, where, reason, case_id=case_id)

    dispatcher.park = park
    return worker
