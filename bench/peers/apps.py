"""The peers of grievance intake: the same endpoint with validation only, and on eventsourcing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.common import receipts
from services.common.auth import can_act
from services.common.bearer import CurrentActor
from services.common.ids import command_id_for, new_case_id
from services.common.limits import LimitsMiddleware
from services.common.problems import Problem, install_problem_handlers
from services.common.revocations import Revocations
from services.common.settings import Settings
from services.common.units import load_units
from services.common.vault import Sealer, SqliteKeyVault
from services.intake.api import LogBody


class Grievance(Aggregate):
    """A grievance as an `eventsourcing` aggregate, with the lifecycle the history uses."""

    @event("Logged")
    def __init__(
        self,
        case_id: str,
        unit: str,
        category: str,
        summary: str,
        details: dict[str, Any] | None,
        channel: str,
        anonymous: bool,
        complainant: dict[str, Any] | None,
        receipt: dict[str, Any] | None = None,
    ) -> None:
        self.case_id, self.unit, self.category, self.summary = case_id, unit, category, summary
        self.details, self.channel, self.anonymous = details, channel, anonymous
        self.complainant, self.receipt = complainant, receipt
        self.status = "logged"

    @event("Acknowledged")
    def acknowledge(self) -> None:
        self.status = "acknowledged"

    @event("Resolved")
    def resolve(self, how: str, resolution: str) -> None:
        self.status, self.how, self.resolution = "resolved", how, resolution

    @event("Closed")
    def close(self) -> None:
        self.status = "closed"


class Ledger(Application[UUID]):
    """The single-machine event store a user might pick instead: eventsourcing on SQLite."""


def ledger(path: Path) -> Ledger:
    """Open the eventsourcing application on a SQLite file."""
    return Ledger(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    )


def _app(settings: Settings, title: str) -> FastAPI:
    app = FastAPI(title=title)
    app.state.settings = settings
    # The same check of revoked tokens as the ledger's, on a list nobody adds to here.
    app.state.revocations = Revocations(settings)
    app.add_middleware(
        LimitsMiddleware,
        settings=settings,
        max_body=settings.max_body_bytes,
        per_minute=settings.rate_limit_per_minute,
    )
    install_problem_handlers(app)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Answer that the process runs."""
        return {"status": "ok"}

    return app


def ceiling_app(settings: Settings) -> FastAPI:
    """The intake endpoint with token, unit and body checks only: no sealing, no store."""
    app = _app(settings, "grievance intake, validation only")
    units = load_units(settings.units_file)

    @app.post("/grievances", status_code=201)
    async def log_grievance(body: LogBody, actor: CurrentActor) -> JSONResponse:
        """Validate a grievance and answer as if it were logged."""
        if units.get(body.unit) is None:
            raise Problem(422, "Unknown unit", f"there is no unit {body.unit!r}")
        if not can_act(actor, body.unit):
            raise Problem(403, "Forbidden", f"you cannot log grievances for {body.unit}")
        case_id = new_case_id("GRV", command_id_for(actor, "grievances", None))
        result = {"case_id": case_id, "version": 1, "event_ids": [str(uuid.uuid4())]}
        return JSONResponse(result, status_code=201)

    return app


def eventsourcing_app(settings: Settings) -> FastAPI:
    """The same endpoint that seals personal data, issues the receipt and stores the event."""
    app = _app(settings, "grievance intake on eventsourcing + SQLite")
    units = load_units(settings.units_file)
    data = settings.data_dir
    sealer = Sealer(SqliteKeyVault(data / "vault.sqlite", settings.master_key), settings.master_key)
    store = ledger(data / "eventsourcing.sqlite")

    @app.post("/grievances", status_code=201)
    def log_grievance(body: LogBody, actor: CurrentActor) -> JSONResponse:
        """Log a grievance: seal the complainant, save the aggregate's first event."""
        if units.get(body.unit) is None:
            raise Problem(422, "Unknown unit", f"there is no unit {body.unit!r}")
        if not can_act(actor, body.unit):
            raise Problem(403, "Forbidden", f"you cannot log grievances for {body.unit}")
        command_id = command_id_for(actor, "grievances", None)
        case_id = new_case_id("GRV", command_id)
        # The worker's receipt, its PIN hashed as slowly as the ledger hashes it.
        slip = receipts.issue(settings.master_key, case_id, command_id)
        person = None
        kid = f"CASE-{case_id}"
        if body.complainant is not None:
            sealed = sealer.seal_person(body.complainant.name, body.complainant.phone)
            person, kid = sealed.model_dump(mode="json"), sealed.person_id
        details = sealer.seal(kid, body.details).model_dump(mode="json") if body.details else None
        grievance = Grievance(
            case_id=case_id,
            unit=body.unit,
            category=body.category,
            summary=body.summary,
            details=details,
            channel=body.channel,
            anonymous=body.anonymous,
            complainant=person,
            receipt=slip.record.model_dump(mode="json"),
        )
        recordings = store.save(grievance)
        result = {
            "case_id": case_id,
            "version": grievance.version,
            "event_ids": [str(r.notification.id) for r in recordings],
            "receipt": {"number": slip.number, "pin": slip.pin},
        }
        return JSONResponse(result, status_code=201)

    return app


def main() -> None:
    """Serve one peer: `python -m bench.peers.apps ceiling|eventsourcing PORT`."""
    import sys

    import uvicorn

    factories = {"ceiling": ceiling_app, "eventsourcing": eventsourcing_app}
    name, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(
        factories[name](Settings()),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
