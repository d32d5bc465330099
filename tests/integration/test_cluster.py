"""Three brokers; the leader of the busiest partition killed mid-load: nothing lost or doubled."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from structlog.testing import capture_logs

from contracts.envelope import parse_record
from services.cli.broker import collect_quietly
from services.cli.cluster import LocalCluster
from services.common.kafka import all_topics, ensure_topics, key_partition
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.polling import eventually
from tests.integration.reading import read_topic
from tests.integration.takeovers import members, spawn_worker, wait_members

# Three brokers starting and one restarting after a crash take minutes on a busy machine.
pytestmark = [pytest.mark.integration, pytest.mark.one_store, pytest.mark.timeout(600)]

CLIENTS = 4
# Commands acknowledged before the kill, so the busiest partition has a clear leader.
WARM = 40
# How long the load goes on once the node killed is back.
AFTER_S = 5.0
# A command is retried with its key this long at most before the test gives up on it.
GIVE_UP_S = 90.0
RETRY_S = 0.2
# The longest stretch in which every attempt failed that counts as "a short burst".
BURST_BOUND_S = 20.0
SESSION_S = 6
# A node restarted after a crash recovers every partition it holds before it answers.
RESTART_S = 240.0


@pytest.fixture(scope="module")
def spread(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Intake and two workers on the cluster, every topic on three replicas (min ISR 2)."""
    with Stack(cluster.bootstrap, tmp_path_factory.mktemp("cluster"), "c", replicas=3) as s:
        s.env["TAIZHANG_SESSION_TIMEOUT_S"] = str(SESSION_S)
        spawn_worker(s, "a")
        spawn_worker(s, "b")
        s.spawn("intake", "api")
        warm_up(s)
        wait_members(s, 2)
        yield s
    collect_quietly()


@dataclass
class Load:
    """What the clients sent and were told, shared by their threads."""

    stack: Stack
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Every attempt: when it was answered, and whether it was acknowledged.
    attempts: list[tuple[float, bool]] = field(default_factory=list)
    events: dict[str, list[str]] = field(default_factory=dict)
    abandoned: list[str] = field(default_factory=list)

    def acknowledged(self) -> int:
        with self.lock:
            return len(self.events)

    def send(self, client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Send one command, retried under its Idempotency-Key on 503 until acknowledged."""
        key, given_up = str(uuid.uuid4()), time.monotonic() + GIVE_UP_S
        while time.monotonic() < given_up:
            try:
                response = client.post(path, json=body, headers={"Idempotency-Key": key})
                status = response.status_code
            except httpx.TransportError:
                status = 0
            with self.lock:
                self.attempts.append((time.monotonic(), status in (200, 201)))
            if status in (200, 201):
                result: dict[str, Any] = response.json()
                return result
            assert status in (0, 503), response.text
            time.sleep(RETRY_S)
        with self.lock:
            self.abandoned.append(key)
        return None

    def client(self) -> None:
        """Log grievances one after another until told to stop."""
        with self.stack.client("intake") as client:
            while not self.stop.is_set():
                result = self.send(client, "/grievances", GRIEVANCE)
                if result is not None:
                    with self.lock:
                        self.events[result["case_id"]] = result["event_ids"]


def longest_failure(attempts: list[tuple[float, bool]]) -> tuple[int, float]:
    """The longest run of failed attempts across all clients, and the seconds it lasted."""
    run, began, worst = 0, 0.0, (0, 0.0)
    for at, ok in sorted(attempts):
        if ok:
            if run:
                worst = max(worst, (run, at - began), key=lambda w: w[1])
            run = 0
        else:
            began = at if run == 0 else began
            run += 1
    return worst


def committed(stack: Stack) -> list[tuple[str, str, str]]:
    """Every committed grievance event from offset 0: its event id, command id and case."""
    topic = f"{stack.prefix}grievance.events"
    found = []
    for record in read_topic(stack, topic, committed=True, quiet_ms=3000):
        _, env = parse_record(record.value)
        found.append((str(env.event_id), env.causation_id, env.case_id))
    return found


def busiest(stack: Stack) -> int:
    """The partition of the grievance events holding the most records now."""
    topic = f"{stack.prefix}grievance.events"
    consumer = KafkaConsumer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(parts)
    finally:
        consumer.close()
    return int(max(parts, key=lambda tp: ends[tp]).partition)


def test_a_topic_that_exists_with_other_replicas_is_named_and_left_as_it_is(spread: Stack) -> None:
    fewer = spread.settings.model_copy(update={"replication_factor": 2})
    [events] = [s for s in all_topics(fewer) if s.name == f"{spread.prefix}grievance.events"]
    with capture_logs() as logged:
        assert ensure_topics(fewer, [events]) == []
    [differs] = [e for e in logged if e["event"] == "topic.durability_differs"]
    assert differs["topic"] == events.name
    assert (differs["replicas"], differs["min_insync_replicas"]) == (3, 2)
    assert differs["configured_replicas"] == 2


def test_the_leader_killed_mid_load_loses_and_doubles_nothing(
    cluster: LocalCluster, spread: Stack
) -> None:
    load = Load(spread)
    threads = [threading.Thread(target=load.client, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    eventually(load.acknowledged, until=lambda n: n >= WARM, timeout=90, what="the load to run")
    topic = f"{spread.prefix}grievance.events"
    partition = busiest(spread)
    leader = cluster.leader(topic, partition)
    killed_at = time.monotonic()
    cluster.kill(leader)
    elected = eventually(
        lambda: cluster.leader(topic, partition),
        until=lambda node: node not in (leader, -1),
        timeout=60,
        interval=0.2,
        ignoring=(KafkaError,),
        what="a new leader",
    )
    elected_s = time.monotonic() - killed_at
    # The load goes on while the node starts again and catches up.
    restart_s = cluster.restart(leader, timeout=RESTART_S)
    time.sleep(AFTER_S)
    load.stop.set()
    for thread in threads:
        thread.join(timeout=GIVE_UP_S + 30)

    found = committed(spread)
    by_event = Counter(event_id for event_id, _, _ in found)
    by_case: dict[str, list[str]] = defaultdict(list)
    for event_id, _, case_id in found:
        by_case[case_id].append(event_id)
    told = [e for events in load.events.values() for e in events]
    missing = [e for e in told if by_event[e] == 0]
    twice = [e for e, n in by_event.items() if n > 1]
    run, run_s = longest_failure(load.attempts)
    failed = sum(not ok for _, ok in load.attempts)
    print(
        f"\ncluster leader kill: node {leader} led partition {partition}; node {elected} led"
        f" {elected_s:.1f}s after the kill; node {leader} back in {restart_s:.1f}s;"
        f" {len(load.events)} commands acknowledged ({len(told)} events), {len(found)} events"
        f" on the topic, {len(missing)} missing, {len(twice)} twice; {len(load.attempts)}"
        f" attempts, {failed} failed; longest run of failures {run} over {run_s:.1f}s"
    )
    assert not load.abandoned, f"{len(load.abandoned)} commands were never acknowledged"
    assert missing == [], "acknowledged events missing from the topic"
    assert twice == [], "events on the topic more than once"
    for case, events in load.events.items():
        assert by_case[case] == events, f"{case}: told {events}, stored {by_case[case]}"
    assert run_s < BURST_BOUND_S, f"{run} failures in a row over {run_s:.1f}s"


def test_a_worker_killed_on_the_cluster_hands_its_cases_to_the_other(spread: Stack) -> None:
    if members(spread) != 2:
        wait_members(spread, 2)
    load = Load(spread)
    partitions = spread.settings.partitions
    # One case in every command partition, so whichever the killed worker held are among them.
    cases: dict[int, str] = {}
    with spread.client("intake") as client:
        for _ in range(partitions * 10):
            logged = load.send(client, "/grievances", GRIEVANCE)
            assert logged is not None
            cases.setdefault(key_partition(logged["case_id"], partitions), logged["case_id"])
            if len(cases) == partitions:
                break
    assert len(cases) == partitions
    proc = spread.procs.pop("intake-worker-b")
    proc.kill()
    proc.wait(timeout=30)
    began = time.monotonic()
    with spread.client("intake") as client:
        answered = [
            load.send(client, f"/grievances/{case}/acknowledge", {}) for case in cases.values()
        ]
    took = time.monotonic() - began
    print(f"\nworker killed: {len(cases)} partitions answered by the other in {took:.1f}s")
    assert all(a is not None for a in answered)
    wait_members(spread, 1)
