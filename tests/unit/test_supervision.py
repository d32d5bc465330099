"""Supervision: the restart schedule, stopping by a deadline, what /health says of a worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from services.cli.lifecycle import SUPERVISOR_MARGIN_S, Backoff, stop_grace, stop_together
from services.cli.processes import belongs, role
from services.common.presence import WorkerWatch
from services.common.settings import Settings


def test_restarts_wait_longer_each_time_up_to_the_most_and_start_over_after_a_stable_run() -> None:
    backoff = Backoff(first=1, most=30, stable=60)
    quick = [backoff.delay(uptime=2) for _ in range(8)]
    assert quick == [1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.delay(uptime=60) == 1
    assert backoff.delay(uptime=59.9) == 2


def test_a_part_that_keeps_failing_for_ever_waits_the_most_without_overflowing() -> None:
    backoff = Backoff(first=0.5, most=30, stable=60)
    delays = [backoff.delay(uptime=0) for _ in range(5000)]
    assert delays[:3] == [0.5, 1, 2] and max(delays) == delays[-1] == 30


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakePart:
    name: str
    clock: Clock
    # Seconds from SIGTERM to exit; None: ignores SIGTERM.
    stops_after: float | None
    running: bool = True
    signals: list[tuple[str, float]] = field(default_factory=list)
    termed_at: float | None = None

    def alive(self) -> bool:
        if self.running and self.termed_at is not None and self.stops_after is not None:
            self.running = self.clock.now < self.termed_at + self.stops_after
        return self.running

    def terminate(self) -> None:
        self.signals.append(("TERM", self.clock.now))
        self.termed_at = self.clock.now

    def kill(self) -> None:
        self.signals.append(("KILL", self.clock.now))
        self.running = False


def test_every_part_is_asked_at_once_and_only_the_stubborn_are_killed_at_the_deadline() -> None:
    clock = Clock()
    parts = [
        FakePart("broker", clock, stops_after=3),
        FakePart("intake-api", clock, stops_after=0.5),
        FakePart("intake-worker", clock, stops_after=None),
        FakePart("gone", clock, stops_after=0, running=False),
    ]
    stopped = stop_together(parts, grace=8, clock=clock, sleep=clock.sleep)
    assert [p.signals[0] for p in parts[:3]] == [("TERM", 0.0)] * 3
    assert parts[3].signals == []
    assert stopped.asked == ("broker", "intake-api", "intake-worker")
    assert stopped.killed == ("intake-worker",)
    assert parts[2].signals[-1][0] == "KILL" and 8 <= parts[2].signals[-1][1] < 8.2
    assert [p.signals for p in parts[:2]] == [[("TERM", 0.0)], [("TERM", 0.0)]]
    assert not any(p.alive() for p in parts)


def test_brokers_have_the_time_a_controlled_shutdown_takes_and_no_more() -> None:
    clock = Clock()
    parts = [
        FakePart("broker-1", clock, stops_after=20),
        FakePart("broker-2", clock, stops_after=None),
        FakePart("intake-worker", clock, stops_after=None),
        FakePart("intake-api", clock, stops_after=1),
    ]
    stopped = stop_together(
        parts, lambda name: stop_grace(name, 8, 30), clock=clock, sleep=clock.sleep
    )
    assert [p.signals[0] for p in parts] == [("TERM", 0.0)] * 4
    assert stopped.killed == ("broker-2", "intake-worker")
    assert parts[0].signals == [("TERM", 0.0)], "a broker that stops in its grace is not killed"
    assert parts[2].signals[-1][0] == "KILL" and 8 <= parts[2].signals[-1][1] < 8.2
    assert parts[1].signals[-1][0] == "KILL" and 30 <= parts[1].signals[-1][1] < 30.2
    assert 30 <= stopped.seconds < 30.2


def test_each_part_is_given_its_grace_by_its_name() -> None:
    assert stop_grace("broker", 8, 30) == stop_grace("broker-3", 8, 30) == 30
    assert stop_grace("intake-worker", 8, 30) == stop_grace("portal-api", 8, 30) == 8
    # A supervisor waits for its own brokers before it goes.
    assert stop_grace("supervisor", 8, 30) == 30 + SUPERVISOR_MARGIN_S
    assert stop_grace("supervisor", 8, 0) == 8 + SUPERVISOR_MARGIN_S


def test_stopping_returns_as_soon_as_every_part_has_gone() -> None:
    clock = Clock()
    parts = [FakePart(f"p{i}", clock, stops_after=i / 2) for i in range(4)]
    stopped = stop_together(parts, grace=8, clock=clock, sleep=clock.sleep)
    assert stopped.killed == () and 1.5 <= stopped.seconds < 1.7


def test_a_second_request_to_stop_kills_what_is_left_at_once() -> None:
    clock = Clock()
    parts = [FakePart("worker", clock, stops_after=None)]
    stopped = stop_together(
        parts, grace=8, clock=clock, sleep=clock.sleep, hurry=lambda: clock.now >= 1
    )
    assert stopped.killed == ("worker",) and 1 <= stopped.seconds < 1.2


def test_the_parts_of_a_deployment_are_told_by_their_command_lines() -> None:
    python = "/srv/taizhang/.venv/bin/python"
    assert role([python, "-m", "services.cli.main", "serve", "intake", "--part", "worker"]) == (
        "intake-worker"
    )
    assert role([python, "-m", "services.cli.main", "serve", "portal", "--port", "8000"]) == (
        "portal-api"
    )
    assert role([python, "/srv/taizhang/.venv/bin/taizhang", "up", "--foreground"]) == (
        "supervisor"
    )
    assert role(["java", "-cp", "/srv/taizhang/var/kafka/libs/*", "kafka.Kafka", "x"]) == "broker"
    assert role([python, "-m", "services.cli.main", "audit", "verify"]) is None
    assert role([python, "-m", "pytest", "tests"]) is None


def test_a_broker_belongs_to_the_deployment_whose_var_folder_holds_its_properties() -> None:
    mine = Settings(var_dir=Path("/srv/taizhang/var"))
    java = ["java", "-cp", "/srv/taizhang/var/kafka/libs/*", "kafka.Kafka"]
    assert belongs(1, [*java, "/srv/taizhang/var/kafka/node-9092/server.properties"], mine)
    # The test session's broker runs on this checkout's jars, with its data elsewhere.
    assert not belongs(1, [*java, "/tmp/pytest-1/kafka0/node-5000/server.properties"], mine)


async def test_health_counts_a_worker_gone_from_the_api_start_or_its_last_sighting() -> None:
    clock = Clock()
    answers: list[bool | None] = [False, True, False, False, None]
    asked: list[float] = []

    def probe() -> bool | None:
        asked.append(clock.now)
        return answers.pop(0)

    watch = WorkerWatch(
        Settings(worker_grace_s=30, worker_check_s=3), "intake", probe=probe, clock=clock
    )
    clock.now = 20
    assert await watch.report(True) == {"worker": False, "worker_gone_s": 20.0}
    assert not watch.overdue()
    clock.now = 21
    assert await watch.report(True) == {"worker": False, "worker_gone_s": 21.0}
    assert asked == [20]  # the last answer is reused for a few seconds
    clock.now = 23
    assert await watch.report(True) == {"worker": True, "worker_gone_s": None}
    clock.now = 30
    assert (await watch.report(True))["worker_gone_s"] == 7.0
    clock.now = 53.5
    assert await watch.report(True) == {"worker": False, "worker_gone_s": 30.5}
    assert watch.overdue()
    # A broker that does not answer says nothing about the worker either way.
    assert await watch.report(False) == {"worker": None, "worker_gone_s": 30.5}
    assert not watch.overdue()
    clock.now = 60
    assert (await watch.report(True))["worker"] is None and asked == [20, 23, 30, 53.5, 60]
