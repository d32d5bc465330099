"""Several workers of one deployment, paused and killed; and what their stream's topic holds."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from contracts.envelope import parse_record
from services.common.settings import ROOT
from tests.integration.conftest import Stack
from tests.integration.polling import eventually

# Describing the group logs a warning for every member whose assignment is the processor's own.
logging.getLogger("kafka.admin").setLevel(logging.ERROR)


def members(stack: Stack) -> int:
    """How many workers the decider group holds once it is stable (-1 while it rebalances)."""
    admin = KafkaAdminClient(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        group = admin.describe_groups([f"{stack.prefix}taizhang-intake"])
    finally:
        admin.close()
    [found] = group.values()
    return len(found["members"]) if found["group_state"] == "Stable" else -1


def wait_members(stack: Stack, count: int) -> None:
    eventually(
        lambda: members(stack),
        until=lambda n: n == count,
        timeout=90,
        interval=1,
        what=f"{count} worker(s) to share the partitions",
    )


def spawn_worker(stack: Stack, instance: str) -> None:
    """Start one more intake worker on the deployment, with a log of its own."""
    log = stack.var / "log" / f"intake-worker-{instance}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "services.cli.main", "serve", "intake", "--part", "worker"]
    with log.open("ab") as out:
        stack.procs[f"intake-worker-{instance}"] = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **stack.env}, cwd=ROOT
        )


def pid(stack: Stack, instance: str) -> int:
    return stack.procs[f"intake-worker-{instance}"].pid


def pause_and_kill(stack: Stack, instance: str) -> None:
    """Pause the worker so the kill lands with work in flight, then kill it."""
    os.kill(pid(stack, instance), signal.SIGSTOP)
    time.sleep(0.5)
    proc = stack.procs.pop(f"intake-worker-{instance}")
    proc.kill()
    proc.wait(timeout=30)


@dataclass(frozen=True)
class Stored:
    """One event record as the topic holds it."""

    offset: tuple[int, int]
    case_id: str
    version: int
    event_id: str
    hash: str
    value: bytes


def stored(stack: Stack, committed: bool) -> list[Stored]:
    """Every event record of the grievance stream, committed ones only or all that were written."""
    topic = f"{stack.prefix}grievance.events"
    consumer = KafkaConsumer(
        bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"],
        group_id=None,
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
        isolation_level="read_committed" if committed else "read_uncommitted",
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        out = []
        for m in consumer:
            _, env = parse_record(m.value)
            out.append(
                Stored(
                    (m.partition, m.offset),
                    env.case_id,
                    env.case_version,
                    str(env.event_id),
                    env.hash,
                    m.value,
                )
            )
        return sorted(out, key=lambda s: s.offset)
    finally:
        consumer.close()


def conflicts(records: list[Stored]) -> list[tuple[Stored, Stored]]:
    """Pairs of records that give one case version, or one event id, two different hashes."""
    seen: dict[object, Stored] = {}
    out = []
    for s in records:
        for key in ((s.case_id, s.version), s.event_id):
            first = seen.setdefault(key, s)
            if first.hash != s.hash:
                out.append((first, s))
    return out


def repeats(records: list[Stored]) -> list[Stored]:
    """Records that repeat, byte for byte, one read before."""
    seen: set[bytes] = set()
    out = []
    for s in records:
        if s.value in seen:
            out.append(s)
        seen.add(s.value)
    return out
