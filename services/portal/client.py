"""Calls to the services' HTTP APIs with the signed-in user's token, and their errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from services.common.settings import Settings

SERVICES = ("intake", "suggestions", "mediation", "followup", "audit", "notify", "library")


class ApiError(Exception):
    """A service refused or could not answer; `status` follows the service's problem+json."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status, self.title, self.detail = status, title, detail


@dataclass
class Api:
    """The services' APIs, reached with one shared connection pool."""

    urls: dict[str, str]
    http: httpx.AsyncClient

    @classmethod
    def from_settings(cls, settings: Settings) -> Api:
        """Build the client from the service URLs in the settings."""
        urls = {name: str(getattr(settings, f"{name}_url")).rstrip("/") for name in SERVICES}
        return cls(urls=urls, http=httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=3.0)))

    async def get(
        self, token: str, service: str, path: str, params: dict[str, Any] | None = None
    ) -> Any:
        """Read from a service; raise ApiError on a refusal or when it cannot be reached."""
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        return await self._call("GET", token, service, path, params=clean)

    async def download(
        self, token: str, service: str, path: str, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """Fetch a file a service builds (a ledger); raise ApiError as `get` does."""
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        return await self._send("GET", token, service, path, params=clean)

    async def post(
        self, token: str, service: str, path: str, body: dict[str, Any], key: str | None = None
    ) -> Any:
        """Send a command; the Idempotency-Key makes a double-submitted form count once."""
        return await self._call("POST", token, service, path, json=body, headers=_keyed(key))

    async def put(
        self, token: str, service: str, path: str, body: dict[str, Any], key: str | None = None
    ) -> Any:
        """Replace a setting, as `post` sends a command."""
        return await self._call("PUT", token, service, path, json=body, headers=_keyed(key))

    async def public_post(
        self, service: str, path: str, body: dict[str, Any], client: str, key: str | None = None
    ) -> Any:
        """Send a worker's request to a public route, naming the browser it came from."""
        headers = {"X-Forwarded-For": client, **({"Idempotency-Key": key} if key else {})}
        try:
            url = f"{self.urls[service]}{quote(path, safe='/')}"
            response = await self.http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiError(503, "Unavailable", f"{service} cannot be reached") from exc
        if response.status_code >= 400:
            raise _problem(response)
        return response.json()

    async def sign_out(self, token: str) -> None:
        """Revoke a token for every service (the ledger's APIs share what is revoked)."""
        await self._send("POST", token, "intake", "/tokens/revoke")

    async def _call(self, method: str, token: str, service: str, path: str, **kw: Any) -> Any:
        return (await self._send(method, token, service, path, **kw)).json()

    async def _send(
        self, method: str, token: str, service: str, path: str, **kw: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        try:
            # A case id comes from the address a person typed: what it holds is sent escaped.
            url = f"{self.urls[service]}{quote(path, safe='/')}"
            response = await self.http.request(method, url, headers=headers, **kw)
        except httpx.HTTPError as exc:
            raise ApiError(503, "Unavailable", f"{service} cannot be reached") from exc
        if response.status_code >= 400:
            raise _problem(response)
        return response

    async def close(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()


def _keyed(key: str | None) -> dict[str, str]:
    if key and not (key.isascii() and key.isprintable()):
        # The page puts an ASCII key in its form; no header can carry anything else.
        raise ApiError(422, "Invalid request", "the form's key is not one the portal gave")
    return {"Idempotency-Key": key} if key else {}


def _problem(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    status = response.status_code
    return ApiError(status, str(body.get("title", "Error")), str(body.get("detail", "")))
