"""The web portal's process: a backend-for-frontend that renders pages from the services' APIs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from services.common import heap
from services.common import logging as logs
from services.common.limits import LimitsMiddleware
from services.common.revocations import Revocations
from services.common.settings import Settings
from services.common.units import load_units
from services.portal import (
    audit,
    dashboard,
    democracy,
    followups,
    grievances,
    imports,
    library,
    mediation,
    notices,
    receipts,
    session,
    volunteers,
)
from services.portal.client import Api
from services.portal.guard import FormRefused, check_form
from services.portal.web import HERE, SESSION_COOKIE, Portal, SignInNeeded, page

log = logs.get(__name__)


def create_app(settings: Settings) -> FastAPI:
    """Build the portal's HTTP app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        api = Api.from_settings(settings)
        revocations = Revocations(settings)
        await revocations.start()
        app.state.portal = Portal(
            settings=settings,
            api=api,
            units=load_units(settings.units_file),
            demo_users=session.load_demo_users(settings),
            revocations=revocations,
        )
        log.info("portal.started", services=api.urls)
        heap.settle("portal")
        try:
            yield
        finally:
            await api.close()
            await revocations.stop()

    async def forms(request: Request) -> None:
        await check_form(request, settings)

    # Every route: a form is refused before any is read if it is not this site's.
    app = FastAPI(
        title="Taizhang portal",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        dependencies=[Depends(forms)],
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    # A form is read whole before it is parsed: its size is bounded like any service's body.
    app.add_middleware(
        LimitsMiddleware,
        settings=settings,
        max_body=settings.max_body_bytes,
        per_minute=settings.rate_limit_per_minute,
        cookie=SESSION_COOKIE,
    )

    @app.exception_handler(SignInNeeded)
    async def _sign_in(_: Request, __: SignInNeeded) -> Response:
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(FormRefused)
    async def _refused(request: Request, exc: FormRefused) -> Response:
        log.warning("portal.form_refused", path=request.url.path, reason=str(exc))
        current = page(request)
        error = {"message": current.words("error.form"), "detail": ""}
        return current.render("problem.html", status=403, error=error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Logged for the operators; the person sees a sentence, never a stack trace.
        log.error("portal.failed", path=request.url.path, error=repr(exc))
        current = page(request)
        error = {"message": current.words("error.other"), "detail": ""}
        return current.render("problem.html", status=500, error=error)

    # The receipt routes come before the case pages' own, whose steps they would match.
    for module in (
        session,
        receipts,
        grievances,
        democracy,
        mediation,
        followups,
        notices,
        library,
        volunteers,
        audit,
        dashboard,
        imports,
    ):
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
