"""Body-size and rate limits, enforced before a request reaches any route."""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import PROBLEM, problem_body, title_of


class _TooLarge(Exception):
    """A body grew past the limit while being read."""


class LimitsMiddleware:
    """Refuse oversized bodies (413) and over-eager clients (429) before any work is done."""

    def __init__(self, app: ASGIApp, max_body: int, per_minute: int) -> None:
        self.app, self.max_body, self.per_minute = app, max_body, per_minute
        self._seen: dict[str, deque[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._reject(send, 413, f"the body is over {self.max_body} bytes")
            return
        client = headers.get(b"authorization", b"") or str(scope.get("client")).encode()
        if self._limited(hashlib.sha256(client).hexdigest()):
            await self._reject(send, 429, "too many requests; slow down and retry in a minute")
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

    def _limited(self, key: str) -> bool:
        now = time.monotonic()
        window = self._seen.setdefault(key, deque())
        while window and window[0] < now - 60:
            window.popleft()
        window.append(now)
        return len(window) > self.per_minute

    async def _reject(self, send: Send, status: int, detail: str) -> None:
        body = json.dumps(problem_body(status, title_of(status), detail)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
