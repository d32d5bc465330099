"""Whether a service's stream worker runs, as the broker sees it: a member of the worker's group.

The broker knows, on one machine as on a cluster, which consumers hold a group: a worker
killed outright leaves it once its session times out. An API asks it, at most every few
seconds, and says how long its worker has been gone.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError

from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.settings import Settings

log = logs.get(__name__)
PROBE_TIMEOUT_S = 3.0


def worker_group(settings: Settings, service: str) -> str:
    """The consumer group a service's worker holds (its stream processor's application id)."""
    return f"{settings.topic_prefix}taizhang-{service}"


def group_has_members(settings: Settings, group: str) -> bool | None:
    """Whether any consumer holds the group; None when the broker does not say."""
    try:
        client = kafka_kit.admin(settings)
    except KafkaError:
        return None
    try:
        described: dict[str, dict[str, Any]] = client.describe_groups([group])
    except KafkaError:
        return None
    finally:
        client.close()
    found = described.get(group) or {}
    return bool(found.get("members"))


class WorkerWatch:
    """What an API knows about its worker: seen now or not, and for how long it has been gone.

    The API's start counts as the last sighting, so a worker that never joins turns the
    API unhealthy after the same grace as one that went away.
    """

    def __init__(
        self,
        settings: Settings,
        service: str,
        *,
        probe: Callable[[], bool | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        group = worker_group(settings, service)
        self.probe = probe or (lambda: group_has_members(settings, group))
        self.clock = clock
        self.grace = settings.worker_grace_s
        self.reuse = settings.worker_check_s
        self.seen: bool | None = None
        self.last_seen = clock()
        self.asked = -float("inf")
        self._lock = asyncio.Lock()

    def note(self, seen: bool | None) -> None:
        """Record one answer of the broker (None: it did not answer)."""
        now = self.clock()
        self.seen, self.asked = seen, now
        if seen:
            self.last_seen = now

    def gone_s(self) -> float | None:
        """Seconds since the worker was last seen, while it is not seen (None while it is)."""
        return None if self.seen else round(self.clock() - self.last_seen, 1)

    def overdue(self) -> bool:
        """Whether the worker is known to have been gone longer than the grace."""
        return self.seen is False and self.clock() - self.last_seen > self.grace

    async def report(self, reachable: bool) -> dict[str, Any]:
        """The /health fields about the worker, asking the broker if the last answer is old."""
        if not reachable:
            self.note(None)
        else:
            async with self._lock:
                if self.clock() - self.asked >= self.reuse:
                    try:
                        seen = await asyncio.wait_for(
                            asyncio.to_thread(self.probe), PROBE_TIMEOUT_S
                        )
                    except TimeoutError:
                        seen = None
                    self.note(seen)
        return {"worker": self.seen, "worker_gone_s": self.gone_s()}


class Presence:
    """Holds a worker that reads without a group as a member of its service's group.

    A thread of its own polls a small topic with every partition paused, so the broker
    sees the process for as long as it runs, whatever its main loop is doing.
    """

    def __init__(self, settings: Settings, service: str, topic: str) -> None:
        self.settings = settings
        self.group = worker_group(settings, service)
        self.topic = topic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hold, name="presence", daemon=True)

    def start(self) -> None:
        """Join the group in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Leave the group."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _hold(self) -> None:
        while not self._stop.is_set():
            try:
                consumer = KafkaConsumer(
                    bootstrap_servers=self.settings.kafka_bootstrap_servers,
                    **kafka_kit.secured(self.settings),
                    group_id=self.group,
                    client_id=self.group,
                    enable_auto_commit=False,
                    session_timeout_ms=int(self.settings.session_timeout_s * 1000),
                    heartbeat_interval_ms=int(self.settings.session_timeout_s * 250),
                )
            except KafkaError as exc:
                log.warning("presence.unreachable", group=self.group, error=str(exc))
                self._stop.wait(self.settings.session_timeout_s)
                continue
            try:
                consumer.subscribe([self.topic])
                while not self._stop.is_set():
                    consumer.poll(timeout_ms=1000, max_records=1)
                    consumer.pause(*consumer.assignment())
            except KafkaError as exc:
                log.warning("presence.lost", group=self.group, error=str(exc))
            finally:
                consumer.close()
