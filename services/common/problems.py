"""Problem+json (RFC 9457): the one shape every error of every service takes."""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import logging as logs
from services.common.bus import BrokerUnavailable
from services.common.settings import ROOT
from services.common.vault import KeyErased, VaultUnavailable

log = logs.get(__name__)

PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    429: "Too many requests",
}


class Problem(Exception):
    """An RFC 9457 problem to return to the client."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        self.headers = dict(headers or {})


def title_of(status: int) -> str:
    """Return the title a status carries when nothing more specific is known."""
    return TITLES.get(status, "Error")


def problem_body(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """Return the members of a problem document."""
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Render a problem+json response."""
    body = problem_body(status, title, detail, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = [
        {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    where = f"{first['field']}: " if first["field"] else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}{first['message']}{more}", errors


def _where(exc: BaseException) -> str:
    """The innermost line the exception passed: where to look, without what it carried."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    last = frames[-1]
    path = Path(last.filename)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return f"{shown}:{last.lineno} in {last.name}"


class LastResort:
    """Answer any error no handler knows with a problem+json 500 and a correlation id.

    The person gets the id and no trace; the operators get one log line with the id, the path
    and where the error arose. Its message is left out, for it may quote what was sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            correlation_id = uuid.uuid4().hex
            log.error(
                "request.failed",
                correlation_id=correlation_id,
                method=scope.get("method"),
                path=scope.get("path"),
                error=type(exc).__name__,
                at=_where(exc),
            )
            if started:
                raise
            detail = f"the service failed on this request; quote {correlation_id} when reporting it"
            response = problem_response(
                500, "Internal error", detail, correlation_id=correlation_id
            )
            response.headers["X-Correlation-Id"] = correlation_id
            await response(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Turn every error into problem+json with a message a person can act on."""

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _validation_detail(exc)
        return problem_response(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, title_of(exc.status_code), str(exc.detail))

    @app.exception_handler(KeyErased)
    async def _erased(_: Request, exc: KeyErased) -> JSONResponse:
        detail = "this person's data was erased: nothing more can be recorded under their key"
        return problem_response(409, "Person erased", detail)

    @app.exception_handler(VaultUnavailable)
    async def _vault(_: Request, exc: VaultUnavailable) -> JSONResponse:
        log.warning("vault.unavailable", error=str(exc))
        detail = "the key vault did not answer; nothing was recorded, send it again"
        response = problem_response(503, "Key vault unavailable", detail)
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(BrokerUnavailable)
    async def _broker(_: Request, exc: BrokerUnavailable) -> JSONResponse:
        response = problem_response(503, "Ledger unavailable", str(exc))
        response.headers["Retry-After"] = "5"
        return response
