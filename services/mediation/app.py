"""Entry points of the mediation service: its HTTP app and its stream worker."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import case_app
from services.common.reactors import reactor
from services.common.readmodel import ReadModel
from services.common.settings import Settings
from services.common.store import open_store
from services.common.worker import DeciderWorker
from services.mediation.api import receipts_router, router
from services.mediation.domain import Dispute
from services.mediation.policies import READS, open_from_grievance
from services.mediation.service import KIND


def read_model(settings: Settings) -> ReadModel[Dispute]:
    """Open the dispute read model."""
    return ReadModel(
        open_store(settings, "mediation"), KIND, settings.topic(f"{KIND.stream}.events")
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the mediation HTTP app."""
    return case_app(
        settings or Settings(), "mediation", KIND, read_model, [router, receipts_router]
    )


def create_worker(settings: Settings | None = None) -> DeciderWorker[Dispute]:
    """Build the mediation stream worker, with the policy that opens disputes from referrals."""
    return DeciderWorker(
        settings or Settings(),
        KIND,
        "mediation",
        extras=(reactor("grievance", "mediation-referral", open_from_grievance, reads=READS),),
    )
