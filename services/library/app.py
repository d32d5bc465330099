"""Entry points of the library service: its HTTP app and its stream worker."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import case_app
from services.common.readmodel import ReadModel
from services.common.settings import Settings
from services.common.store import open_store
from services.common.worker import DeciderWorker
from services.library import sources
from services.library.api import classrooms, helps, stats, typical, volunteers
from services.library.domain.typical import Typical
from services.library.service import KIND


def read_model(settings: Settings) -> ReadModel[Typical]:
    """Open the library read model, with what it keeps of the disputes and grievances."""
    return ReadModel(
        open_store(settings, "library"),
        KIND,
        settings.topic(f"{KIND.stream}.events"),
        extra_schema=sources.SCHEMA,
        foreign={
            settings.topic("dispute.events"): sources.DISPUTES,
            settings.topic("grievance.events"): sources.GRIEVANCES,
        },
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the library HTTP app."""
    routers = [typical.router, classrooms.router, volunteers.router, helps.router, stats.router]
    return case_app(settings or Settings(), "library", KIND, read_model, routers)


def create_worker(settings: Settings | None = None) -> DeciderWorker[Typical]:
    """Build the library stream worker."""
    return DeciderWorker(settings or Settings(), KIND, "library")
