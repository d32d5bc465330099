"""The broker killed or hung under load: answers in seconds, nothing acknowledged lost or twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

import httpx
import pytest

from services.cli.broker import LocalBroker
from services.cli.deployment import free_port
from services.common.settings import ROOT
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.polling import eventually
from tests.integration.reading import read_topic, text_opener

pytestmark = [pytest.mark.integration, pytest.mark.one_store]

# What the ledger promises a caller while the broker is away: an answer within this long.
ANSWER_WITHIN_S = 5.0
# Long enough for a hung call to show as one, short of the suite's own timeout.
CLIENT_TIMEOUT_S = 45.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """A broker of this module's own: its tests kill it and pause it."""
    port = free_port()
    own = LocalBroker(
        home=tmp_path_factory.mktemp("faults-kafka") / f"node-{port}",
        libs=ROOT / "var" / "kafka" / "libs",
        port=port,
        controller_port=free_port(),
    )
    own.start()
    yield own
    pid = own.running_pid()
    if pid is not None:
        os.kill(pid, signal.SIGCONT)
    own.stop()
    shutil.rmtree(own.home, ignore_errors=True)


@pytest.fixture(scope="module")
def faults(broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The intake service on the module's broker, as configured by default."""
    with Stack(broker.bootstrap, tmp_path_factory.mktemp("faults"), "faults") as s:
        # How long a caller waits for a decision is part of what is under test here.
        del s.env["TAIZHANG_REPLY_TIMEOUT_S"]
        s.start("intake")
        warm_up(s)
        yield s


@dataclass
class Load:
    """Reps logging complaints from a few threads, retrying every 503 with the key it names.

    Every other complaint is sent without a key, so its first retry uses the assigned one.
    """

    stack: Stack
    threads: int = 4
    each: int = 40
    marker: str = field(default_factory=lambda: f"faults-{uuid.uuid4().hex[:8]}")
    # Per answer: its status and how long it took.
    answers: list[tuple[int, float]] = field(default_factory=list)
    # Per complaint (its summary): the case the ledger acknowledged.
    acknowledged: dict[str, str] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)
    _futures: list[Future[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.threads)

    def start(self) -> None:
        self._futures = [self._pool.submit(self._rep, t) for t in range(self.threads)]

    def finish(self, timeout: float = 180) -> None:
        """Wait for every complaint to be acknowledged; re-raise what failed in a thread."""
        deadline = time.monotonic() + timeout
        try:
            for future in self._futures:
                future.result(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def summaries(self) -> list[str]:
        return [f"{self.marker}-{t}-{i}" for t in range(self.threads) for i in range(self.each)]

    def _rep(self, thread: int) -> None:
        with self.stack.client("intake") as rep:
            rep.timeout = httpx.Timeout(CLIENT_TIMEOUT_S)
            for i in range(self.each):
                summary = f"{self.marker}-{thread}-{i}"
                key = summary if i % 2 else None
                self.acknowledge(rep, summary, key)
                time.sleep(0.05)

    def acknowledge(self, rep: httpx.Client, summary: str, key: str | None) -> None:
        """Log one complaint, retrying after each 503 with the key the answer names."""
        while True:
            started = time.perf_counter()
            headers = {"Idempotency-Key": key} if key else {}
            response = rep.post(
                "/grievances", json={**GRIEVANCE, "summary": summary}, headers=headers
            )
            took = time.perf_counter() - started
            with self._lock:
                self.answers.append((response.status_code, took))
            named = response.headers.get("Idempotency-Key")
            assert named and (key is None or named == key), (key, response.headers)
            key = named
            if response.status_code == 201:
                with self._lock:
                    self.acknowledged[summary] = response.json()["case_id"]
                return
            assert response.status_code == 503, response.text
            assert response.json()["idempotency_key"] == key, response.text
            time.sleep(float(response.headers["Retry-After"]))

    def report(self) -> dict[str, Any]:
        statuses = Counter(status for status, _ in self.answers)
        unavailable = [took for status, took in self.answers if status == 503]
        return {
            "complaints": self.threads * self.each,
            "acknowledged": len(self.acknowledged),
            "answers": dict(statuses),
            "slowest_503_s": round(max(unavailable, default=0.0), 2),
            "slowest_s": round(max((took for _, took in self.answers), default=0.0), 2),
        }


def logged_on_topic(stack: Stack) -> list[dict[str, Any]]:
    """Every grievance.logged event on the stack's events topic, repeats included.

    Each summary is given opened, as the complaint was sent.
    """
    records = read_topic(stack, f"{stack.prefix}grievance.events")
    events = [json.loads(r.value) for r in records]
    logged = [e for e in events if e["event_type"] == "grievance.logged"]
    with text_opener(stack) as opened:
        for event in logged:
            event["payload"]["summary"] = opened(event["payload"]["summary"])
    return logged


def assert_exactly_once(stack: Stack, load: Load) -> dict[str, int]:
    """Every complaint acknowledged once, one event on the topic, one row in the read model."""
    assert sorted(load.acknowledged) == sorted(load.summaries)
    assert len(set(load.acknowledged.values())) == len(load.summaries)
    logged = logged_on_topic(stack)
    mine = [e for e in logged if e["payload"]["summary"] in load.acknowledged]
    doubled = {s: n for s, n in Counter(e["payload"]["summary"] for e in mine).items() if n > 1}
    assert not doubled, f"complaints logged more than once: {doubled}"
    assert {e["payload"]["summary"]: e["case_id"] for e in mine} == load.acknowledged
    distinct = {e["event_id"] for e in logged}
    with stack.client("intake") as rep:
        total = eventually(
            lambda: rep.get("/grievances", params={"limit": 1}).json()["total"],
            until=lambda n: n == len(distinct),
            timeout=30,
            what="the read model to hold every logged grievance",
        )
        rows = 0
        for summary, case in load.acknowledged.items():
            view = rep.get(f"/grievances/{case}").json()
            assert view["summary"] == summary and view["version"] == 1, view
            rows += 1
    return {
        "events_on_topic": len(mine),
        "rows_in_read_model": rows,
        "logged_on_topic_in_all": len(distinct),
        "read_model_total": total,
    }


def in_flight_at_the_fault(stack: Stack, since: int) -> int:
    """How many 503s the API gave for commands it had already handed to the producer."""
    lines = stack.log("intake", "api")[since:].splitlines()
    return sum(1 for line in lines if '"command.unavailable"' in line and '"stored": true' in line)


def survived(stack: Stack, load: Load, fault: str, log_from: int) -> None:
    """After the fault: every complaint once everywhere, and every 503 within seconds."""
    report = load.report()
    counts = assert_exactly_once(stack, load)
    handed_over = in_flight_at_the_fault(stack, log_from)
    print(f"\n{fault}: {report} {counts} 503s with the command handed over: {handed_over}")
    assert report["answers"].get(503, 0) > 0, report
    assert report["slowest_503_s"] < ANSWER_WITHIN_S, report
    # A decided command may still wait a moment for the read model to show it.
    assert report["slowest_s"] < 2 * ANSWER_WITHIN_S, report


def broker_pid(broker: LocalBroker) -> int:
    pid = broker.running_pid()
    assert pid is not None, "the module's broker is not running"
    return pid


def test_broker_hung_answers_503_within_seconds_and_doubles_nothing(
    faults: Stack, broker: LocalBroker
) -> None:
    log_from = len(faults.log("intake", "api"))
    load = Load(faults)
    load.start()
    time.sleep(1.5)
    pid = broker_pid(broker)
    # As in a network partition: connections stay open and nothing answers.
    os.kill(pid, signal.SIGSTOP)
    time.sleep(8)
    os.kill(pid, signal.SIGCONT)
    load.finish()
    survived(faults, load, "broker hung 8 s", log_from)


def test_broker_killed_answers_503_within_seconds_and_doubles_nothing(
    faults: Stack, broker: LocalBroker
) -> None:
    log_from = len(faults.log("intake", "api"))
    load = Load(faults)
    load.start()
    time.sleep(1.5)
    pid = broker_pid(broker)
    # Paused first, so the kill lands with commands in flight.
    os.kill(pid, signal.SIGSTOP)
    time.sleep(1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    time.sleep(7)
    broker.start()
    load.finish()
    survived(faults, load, "broker killed 8 s", log_from)
