"""The web portal's process: a backend-for-frontend that renders pages from the services' APIs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from services.common import logging as logs
from services.common.limits import LimitsMiddleware
from services.common.settings import Settings
from services.common.units import load_units
from services.portal import (
    audit,
    dashboard,
    democracy,
    followups,
    grievances,
    library,
    mediation,
    session,
    volunteers,
)
from services.portal.client import Api
from services.portal.web import HERE, Portal, SignInNeeded, page

log = logs.get(__name__)


def create_app(settings: Settings) -> FastAPI:
    """Build the portal's HTTP app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        api = Api.from_settings(settings)
        app.state.portal = Portal(
            settings=settings,
            api=api,
            units=load_units(settings.units_file),
            demo_users=session.load_demo_users(settings),
        )
        log.info("portal.started", services=api.urls)
        try:
            yield
        finally:
            await api.close()

    app = FastAPI(title="Taizhang portal", version="1", lifespan=lifespan, docs_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    # A form is read whole before it is parsed: its size is bounded like any service's body.
    app.add_middleware(
        LimitsMiddleware,
        max_body=settings.max_body_bytes,
        per_minute=settings.rate_limit_per_minute,
    )

    @app.exception_handler(SignInNeeded)
    async def _sign_in(_: Request, __: SignInNeeded) -> Response:
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Logged for the operators; the person sees a sentence, never a stack trace.
        log.error("portal.failed", path=request.url.path, error=repr(exc))
        current = page(request)
        error = {"message": current.words("error.other"), "detail": ""}
        return current.render("problem.html", status=500, error=error)

    pages = (session, grievances, democracy, mediation, followups, library, volunteers, audit)
    for module in (*pages, dashboard):
        app.include_router(module.router)
    return app


class _NoWorker:
    """The portal consumes no stream: its worker part has nothing to run."""

    def run(self) -> None:
        """Return at once."""
        log.info("portal.no_worker")


def create_worker(settings: Settings) -> _NoWorker:
    """Return the portal's (empty) worker, for symmetry with the case services."""
    return _NoWorker()
