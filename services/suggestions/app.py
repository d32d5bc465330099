"""Entry points of the democratic-management service: its HTTP app and its stream worker."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import case_app
from services.common.reactors import gathering_reactor
from services.common.readmodel import ReadModel
from services.common.settings import Settings
from services.common.store import open_store
from services.common.worker import DeciderWorker
from services.suggestions import policies, stats
from services.suggestions.api import groups, queries, suggestions
from services.suggestions.domain import Suggestion
from services.suggestions.service import KIND


def read_model(settings: Settings) -> ReadModel[Suggestion]:
    """Open the read model of groups, suggestions and queries, with the unit grievance counts."""
    return ReadModel(
        open_store(settings, "suggestions"),
        KIND,
        settings.topic(f"{KIND.stream}.events"),
        extra_schema=stats.SCHEMA,
        foreign={settings.topic("grievance.events"): stats.GRIEVANCES},
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the democratic-management HTTP app."""
    return case_app(
        settings or Settings(),
        "suggestions",
        KIND,
        read_model,
        [groups.router, suggestions.router, queries.router, stats.router],
    )


def create_worker(settings: Settings | None = None) -> DeciderWorker[Suggestion]:
    """Build the democratic-management stream worker, with the policy that hands seats over."""
    seats = gathering_reactor(
        KIND.stream,
        "suggestions-seats",
        file_under=policies.file_by_group,
        memory=policies.GroupSeats,
        react=policies.hand_over_seats,
    )
    return DeciderWorker(settings or Settings(), KIND, "suggestions", extras=(seats,))
