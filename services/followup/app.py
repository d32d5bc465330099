"""Entry points of the follow-up service: its HTTP app and its stream worker."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from contracts import dispute as d
from contracts import grievance as g
from contracts import suggestion as s
from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.app import case_app
from services.common.foreign import Foreign
from services.common.reactors import reactor
from services.common.readmodel import ReadModel
from services.common.settings import Settings
from services.common.store import Db, open_store
from services.common.units import load_units
from services.common.worker import DeciderWorker
from services.followup import policies
from services.followup.api import router, stats_router
from services.followup.domain import Followup
from services.followup.service import KIND

PEOPLE = """
CREATE TABLE IF NOT EXISTS source_people (
    case_id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL
);
"""


def remember_person(db: Db, env: Envelope, event: EventPayload) -> None:
    """Keep whose key seals a source case's personal data, so follow-up words use it too."""
    person = None
    if isinstance(event, g.GrievanceLogged) and event.complainant is not None:
        person = event.complainant.person_id
    elif isinstance(event, d.DisputeApplied) and event.applicant is not None:
        person = event.applicant.person_id
    elif isinstance(event, s.SuggestionSubmitted) and event.worker is not None:
        person = event.worker.person_id
    if person is not None:
        db.execute(
            "INSERT INTO source_people (case_id, person_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (env.case_id, person),
        )


# Only the events that open a source case name the person whose key seals it.
PERSONS = Foreign.reading(
    remember_person, g.GrievanceLogged, d.DisputeApplied, s.SuggestionSubmitted
)


def read_model(settings: Settings) -> ReadModel[Followup]:
    """Open the follow-up read model."""
    return ReadModel(
        open_store(settings, "followup"),
        KIND,
        settings.topic(f"{KIND.stream}.events"),
        extra_schema=PEOPLE,
        foreign={
            settings.topic(f"{stream}.events"): PERSONS
            for stream in ("grievance", "dispute", "suggestion")
        },
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the follow-up HTTP app."""
    return case_app(settings or Settings(), "followup", KIND, read_model, [router, stats_router])


def create_worker(settings: Settings | None = None) -> DeciderWorker[Followup]:
    """Build the follow-up stream worker with the policies that schedule and close the loop."""
    settings = settings or Settings()
    units = load_units(settings.units_file)
    from_grievance = partial(
        policies.from_grievance,
        callback_days=lambda unit: units.service_levels(unit).callback_working_days,
    )
    return DeciderWorker(
        settings,
        KIND,
        "followup",
        extras=(
            reactor(
                "grievance", "followup-grievance", from_grievance, opened_by=("grievance.logged",)
            ),
            reactor(
                "suggestion",
                "followup-suggestion",
                policies.from_suggestion,
                opened_by=(
                    "suggestion.submitted",
                    "suggestion.group_formed",
                    "suggestion.query_raised",
                ),
            ),
            reactor(
                "dispute", "followup-dispute", policies.from_dispute, opened_by=("dispute.applied",)
            ),
            reactor(
                "followup",
                "followup-loop",
                policies.close_the_loop,
                opened_by=("followup.scheduled",),
            ),
        ),
    )
