"""An open-loop load generator: requests leave on a fixed schedule, latency counts from it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from bench.stats import Step, summarise


class HttpError(Exception):
    """The server closed the connection or answered something unreadable."""


@dataclass(frozen=True)
class Request:
    """One request, encoded once and sent many times."""

    host: str
    port: int
    path: str
    body: bytes
    headers: dict[str, str]

    def encode(self) -> bytes:
        """Return the HTTP/1.1 request bytes (keep-alive)."""
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(self.body)}",
            *(f"{k}: {v}" for k, v in self.headers.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def parse_head(head: bytes) -> tuple[int, int]:
    """Return the status and the Content-Length of a response head."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise HttpError(f"not an HTTP response: {lines[0][:80]!r}")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return int(parts[1]), length


class Connection:
    """One keep-alive connection that sends a request and reads one response at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        """Connect to the server."""
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, raw: bytes) -> int:
        """Send one request and return the response status."""
        self.writer.write(raw)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise HttpError("the connection closed before a response") from exc
        status, length = parse_head(head)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


class Pool:
    """Keep-alive connections to one server, at most `size` of them at once."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self._free: deque[Connection] = deque()
        self._slots = asyncio.Semaphore(size)

    async def send(self, raw: bytes) -> int:
        """Send on a free connection (opening one if needed) and return the status."""
        async with self._slots:
            conn = self._free.pop() if self._free else await Connection.open(self.host, self.port)
            try:
                status = await conn.send(raw)
            except (OSError, HttpError):
                conn.close()
                raise
            self._free.append(conn)
            return status

    def close(self) -> None:
        """Close every idle connection."""
        while self._free:
            self._free.pop().close()


Send = Callable[[], Awaitable[int]]


async def open_loop(
    send: Send, rate: int, seconds: float, *, ok_status: int = 201, drain_s: float = 30.0
) -> Step:
    """Fire `rate` requests a second for `seconds`; latency runs from each scheduled time."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    # The event loop's clock ticks in milliseconds; latencies need a finer one.
    clock = time.perf_counter
    start = clock() + 0.05

    async def one(scheduled: float) -> None:
        nonlocal errors
        try:
            status = await send()
        except (OSError, HttpError, httpx.HTTPError):
            errors += 1
            return
        if status == ok_status:
            latencies.append((clock() - scheduled) * 1000)
        else:
            errors += 1

    tasks: set[asyncio.Task[None]] = set()
    issued = 0
    while issued < total:
        now = clock()
        due = min(total, int((now - start) * rate) + 1) if now >= start else 0
        while issued < due:
            task = asyncio.create_task(one(start + issued / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            issued += 1
        await asyncio.sleep(max(0.0, start + issued / rate - clock()))
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=drain_s)
        for task in late:
            task.cancel()
            errors += 1
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*late, return_exceptions=True)
    wall = clock() - start
    return summarise(rate, seconds, latencies, errors, max(wall, seconds))


async def closed_loop_rate(send: Send, workers: int, seconds: float) -> float:
    """Return the responses per second `workers` back-to-back senders get: the client's ceiling."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await send()
            done += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return done / (time.perf_counter() - began)


def raw_sender(pool: Pool, request: Request) -> Send:
    """Return a sender of one encoded request over the raw HTTP/1.1 pool."""
    raw = request.encode()

    async def send() -> int:
        return await pool.send(raw)

    return send


def httpx_sender(client: httpx.AsyncClient, request: Request) -> Send:
    """Return a sender of the same request through httpx."""

    async def send() -> int:
        response = await client.post(request.path, content=request.body, headers=request.headers)
        return response.status_code

    return send
