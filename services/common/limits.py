"""Body-size and rate limits, enforced before a request reaches any route."""

from __future__ import annotations

import ipaddress
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.auth import TokenError, read_claims
from services.common.problems import PROBLEM, problem_body, title_of
from services.common.settings import Settings

# Clients remembered at once: the least recently seen is forgotten first.
MAX_CLIENTS = 10_000
# Probes of whoever runs the service: counted apart, so other traffic from their address
# (a flood of bad tokens, say) cannot make a healthy service look dead.
PROBES = frozenset({"/health"})


class _TooLarge(Exception):
    """A body grew past the limit while being read."""


class Buckets:
    """A token bucket per client, refilled evenly over a minute, for a bounded set of clients."""

    def __init__(
        self, per_minute: int, cap: int = MAX_CLIENTS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute, self.cap, self.clock = per_minute, cap, clock
        self.rate = per_minute / 60.0
        self._left: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._left)

    def take(self, key: str) -> float:
        """Take one request from the client's bucket; return 0, or seconds until one is free."""
        now = self.clock()
        tokens, last = self._left.pop(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._left[key] = (tokens, now)
        while len(self._left) > self.cap:
            self._left.popitem(last=False)
        return wait


def forwarded(peer: str, header: str, trusted: str) -> str:
    """The client's address: the peer's, or the one a trusted proxy (the portal) names.

    Only a peer in `trusted` (comma-separated addresses) is believed, and only for the last
    address of its X-Forwarded-For, which it saw itself; what it names must be an address.
    """
    if peer not in {p.strip() for p in trusted.split(",") if p.strip()}:
        return peer
    named = header.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(named))
    except ValueError:
        return peer


def client_of(settings: Settings, scope: Scope, cookie: str | None = None) -> str:
    """Who a request is from: the verified token's subject, else the client's address.

    A token that does not verify counts as none, so garbage in the header buys no bucket.
    """
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if not token and cookie is not None:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:  # a malformed cookie header is no cookie
            jar = SimpleCookie()
        token = jar[cookie].value if cookie in jar else ""
    if token:
        try:
            return f"user:{read_claims(settings, token).actor.user_id}"
        except TokenError:
            pass
    client = scope.get("client")
    peer = client[0] if client else "-"
    named = headers.get(b"x-forwarded-for", b"").decode("latin-1")
    return f"addr:{forwarded(peer, named, settings.trusted_proxies)}"


class LimitsMiddleware:
    """Refuse oversized bodies (413) and over-eager clients (429) before any work is done."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        max_body: int,
        per_minute: int,
        cookie: str | None = None,
    ) -> None:
        self.app, self.settings, self.max_body = app, settings, max_body
        self.cookie = cookie
        self.buckets = Buckets(per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._reject(send, 413, f"the body is over {self.max_body} bytes")
            return
        client = client_of(self.settings, scope, self.cookie)
        if scope.get("path") in PROBES:
            client = f"probe:{client}"
        wait = self.buckets.take(client)
        if wait > 0:
            after = max(1, math.ceil(wait))
            detail = f"too many requests; slow down and retry in {after} s"
            await self._reject(send, 429, detail, [(b"retry-after", str(after).encode())])
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return message

        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._reject(send, 413, f"the body is over {self.max_body} bytes")

    async def _reject(
        self,
        send: Send,
        status: int,
        detail: str,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        body = json.dumps(problem_body(status, title_of(status), detail)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM.encode()),
                    (b"content-length", str(len(body)).encode()),
                    *(extra or []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
