"""Entry points of the intake service: its HTTP app and its stream worker."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import case_app
from services.common.reactors import reactor
from services.common.readmodel import ReadModel
from services.common.settings import Settings
from services.common.store import open_store
from services.common.worker import DeciderWorker
from services.intake.api import receipts_router, router, stats_router
from services.intake.domain import Grievance
from services.intake.policies import READS, link_dispute
from services.intake.service import KIND


def read_model(settings: Settings) -> ReadModel[Grievance]:
    """Open the grievance read model."""
    return ReadModel(open_store(settings, "intake"), KIND, settings.topic(f"{KIND.stream}.events"))


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the intake HTTP app."""
    return case_app(
        settings or Settings(), "intake", KIND, read_model, [router, stats_router, receipts_router]
    )


def create_worker(settings: Settings | None = None) -> DeciderWorker[Grievance]:
    """Build the intake stream worker."""
    return DeciderWorker(
        settings or Settings(),
        KIND,
        "intake",
        extras=(reactor("dispute", "intake-dispute-link", link_dispute, reads=READS),),
    )
