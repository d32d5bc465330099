"""Two deciders share the partitions; one dies or goes stale mid-load; every command lands once."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from contracts.envelope import Envelope
from services.common import kafka as kafka_kit
from services.common.keys import signer_for
from services.common.partitions import Fenced, Partitions
from services.intake.service import KIND
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.history import START, decide_case, sealed_text
from tests.integration.polling import eventually
from tests.integration.takeovers import (
    Stored,
    conflicts,
    pause_and_kill,
    pid,
    repeats,
    spawn_worker,
    stored,
    wait_members,
)

pytestmark = pytest.mark.integration

SESSION_S = 6
# A command waits out a takeover (a session timeout and a rebalance), then is retried.
ATTEMPTS = 12


@pytest.fixture(scope="module")
def pair(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Intake with two workers sharing the command partitions, on a short session timeout."""
    with Stack(bootstrap, tmp_path_factory.mktemp("takeover"), "takeover") as s:
        s.env["TAIZHANG_SESSION_TIMEOUT_S"] = str(SESSION_S)
        spawn_worker(s, "a")
        spawn_worker(s, "b")
        s.spawn("intake", "api")
        warm_up(s)
        wait_members(s, 2)
        try:
            yield s
        finally:
            for proc in s.procs.values():
                proc.send_signal(signal.SIGCONT)


@dataclass
class Told:
    """What the clients were told: the events of every acknowledged command, per case."""

    events: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    answered: int = 0
    retried: int = 0

    def cases(self) -> list[str]:
        return sorted(self.events)


async def send(client: httpx.AsyncClient, path: str, body: dict[str, Any], told: Told) -> str:
    """Send one command under its own Idempotency-Key, retried with that key until answered."""
    key = str(uuid.uuid4())
    for attempt in range(ATTEMPTS):
        try:
            response = await client.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:
            await asyncio.sleep(1)
            continue
        if response.status_code in (200, 201):
            result = response.json()
            told.events[result["case_id"]] += result["event_ids"]
            told.answered += 1
            told.retried += attempt > 0
            return str(result["case_id"])
        assert response.status_code == 503, response.text
        await asyncio.sleep(1)
    raise AssertionError(f"{path} was never answered under key {key}")


def client_for(stack: Stack) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {stack.token()}"}
    # Longer than a reply may take during a takeover, so the API answers first (503 or not).
    return httpx.AsyncClient(base_url=stack.url("intake"), headers=headers, timeout=90)


def assert_each_once(stack: Stack, told: Told) -> dict[str, int]:
    """Every acknowledged command's events once on the topic, in order, and the same everywhere."""
    cases = set(told.cases())
    committed = [s for s in stored(stack, committed=True) if s.case_id in cases]
    written = [s for s in stored(stack, committed=False) if s.case_id in cases]
    by_case: dict[str, list[Stored]] = defaultdict(list)
    for s in committed:
        by_case[s.case_id].append(s)
    assert conflicts(committed) == [], "events that contradict one another were committed"
    assert repeats(committed) == [], "events committed more than once"
    for case, events in by_case.items():
        assert [s.version for s in events] == list(range(1, len(events) + 1)), case
        assert [s.event_id for s in events] == told.events[case], case
    assert sorted(by_case) == sorted(cases)
    # What was written but never committed only repeats, byte for byte, what was committed.
    first = {s.event_id: s.value for s in committed}
    versions = {(s.case_id, s.version): s.hash for s in committed}
    aborted = [s for s in written if s not in committed]
    for s in written:
        assert first.get(s.event_id, s.value) == s.value, f"{s.event_id} differs at {s.offset}"
        assert versions.get((s.case_id, s.version), s.hash) == s.hash, s
    verdict = stack.cli("audit", "verify", "--all")
    assert verdict.returncode == 0, verdict.stdout
    with stack.client("intake") as rep:
        eventually(
            lambda: rep.get("/health").json()["lag"],
            until=lambda lag: lag == 0,
            timeout=30,
            what="the read model to catch up",
        )
        for case in cases:
            history = rep.get(f"/grievances/{case}/history").json()["events"]
            assert [e["event_id"] for e in history] == told.events[case], case
            assert rep.get(f"/grievances/{case}").json()["version"] == len(told.events[case])
    return {"events": len(committed), "aborted": len(aborted), "records": len(written)}


def in_background(steps: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            steps()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, failures


def opened(case_id: str, summary: str) -> tuple[Envelope, dict[str, Any]]:
    """The event and head of a grievance logged with a summary (version 1 either way)."""
    sealed = sealed_text(summary)
    body = {"unit": "demo/co/p01", "category": "canteen", "summary": sealed, "channel": "app"}
    [event] = decide_case(KIND, case_id, [("log", {**body, "anonymous": True})], START)
    return event, {"version": 1, "hash": event.hash}


def test_a_fenced_writer_lands_nothing(pair: Stack) -> None:
    """A writer paused inside its transaction, then a newer one: only the newer one's lands."""
    heads_topic = f"{pair.prefix}fence-test-heads"
    kafka_kit.ensure_topics(pair.settings, [kafka_kit.TopicSpec(heads_topic)])
    case_id = "GRV-FENCE0000001"
    stale_event, stale_head = opened(case_id, "暂停前写下的")
    fresh_event, fresh_head = opened(case_id, "接手后写下的")

    def writer() -> Partitions:
        return Partitions(
            pair.settings,
            writer=f"{pair.prefix}fence-test",
            events_topic=f"{pair.prefix}grievance.events",
            heads_topic=heads_topic,
            signer=signer_for(pair.settings, "intake"),
        )

    async def run() -> dict[str, Any]:
        old, new = writer(), writer()
        paused, resumed = asyncio.Event(), asyncio.Event()

        async def stale() -> None:
            claim = await old.claim(0)
            async with old.transaction(claim) as txn:
                await txn.append([stale_event])
                paused.set()
                await resumed.wait()
                await txn.keep({case_id: stale_head})

        task = asyncio.create_task(stale())
        await paused.wait()
        claim = await new.claim(0)
        async with new.transaction(claim) as txn:
            await txn.append([fresh_event])
            await txn.keep({case_id: fresh_head})
        resumed.set()
        with pytest.raises(Fenced):
            await task
        later = writer()
        held = dict((await later.claim(0)).heads)
        for partitions in (old, new, later):
            await partitions.close()
        return held

    held = asyncio.run(run())
    # The fenced writer's client leaves failed futures behind; they are finalised here, not in
    # the middle of whatever runs next.
    gc.collect()
    assert held == {case_id: fresh_head}
    committed = [s for s in stored(pair, committed=True) if s.case_id == case_id]
    written = [s for s in stored(pair, committed=False) if s.case_id == case_id]
    assert [s.hash for s in committed] == [fresh_event.hash]
    # The stale write reached the log only inside a transaction the newer writer aborted.
    assert sorted(s.hash for s in written) == sorted([stale_event.hash, fresh_event.hash])
    verdict = pair.cli("audit", "verify", case_id)
    assert verdict.returncode == 0, verdict.stdout


def test_a_worker_killed_mid_load_loses_and_doubles_nothing(pair: Stack) -> None:
    told = Told()
    cases, script = 16, ["acknowledge", "feedback", "feedback", "resolve", "close"]
    bodies = {
        "acknowledge": {},
        "feedback": {"note": "已电话回访"},
        "resolve": {"how": "on_site", "resolution": "现场解决"},
        "close": {},
    }

    async def one_case(client: httpx.AsyncClient) -> None:
        case = await send(client, "/grievances", GRIEVANCE, told)
        for step in script:
            await send(client, f"/grievances/{case}/{step}", bodies[step], told)

    async def load() -> None:
        async with client_for(pair) as client:
            await asyncio.gather(*(one_case(client) for _ in range(cases)))

    def kill_mid_load() -> None:
        eventually(lambda: told.answered, until=lambda n: n >= 30, timeout=60, what="load")
        pause_and_kill(pair, "a")

    thread, failures = in_background(kill_mid_load)
    asyncio.run(load())
    thread.join(timeout=5)
    assert not failures, failures
    assert told.answered == cases * (1 + len(script))
    counts = assert_each_once(pair, told)
    print(f"\nkilled mid-load: {told.answered} acknowledged ({told.retried} retried), {counts}")


def test_a_stale_decider_cannot_append_a_conflicting_event(pair: Stack) -> None:
    if "intake-worker-a" not in pair.procs:
        spawn_worker(pair, "a")
    wait_members(pair, 2)
    told = Told()
    done = threading.Event()

    async def one_case(client: httpx.AsyncClient) -> None:
        case = await send(client, "/grievances", GRIEVANCE, told)
        await send(client, f"/grievances/{case}/acknowledge", {}, told)
        while not done.is_set():
            await send(client, f"/grievances/{case}/feedback", {"note": "跟进中"}, told)
            await asyncio.sleep(0.3)

    async def load() -> None:
        async with client_for(pair) as client:
            await asyncio.gather(*(one_case(client) for _ in range(6)))

    def answered_more(count: int, what: str) -> None:
        start = told.answered
        eventually(lambda: told.answered, until=lambda n: n >= start + count, timeout=60, what=what)

    def phases() -> None:
        try:
            answered_more(20, "the load to start")
            # Paused past its session timeout: the other worker takes its partitions over.
            os.kill(pid(pair, "a"), signal.SIGSTOP)
            wait_members(pair, 1)
            answered_more(30, "the other worker to decide on the same cases")
            # Back, with whatever it held when it stopped.
            os.kill(pid(pair, "a"), signal.SIGCONT)
            wait_members(pair, 2)
            answered_more(20, "both workers to decide again")
            # And the one that took over goes: the stale one now decides every case.
            pause_and_kill(pair, "b")
            wait_members(pair, 1)
            answered_more(30, "the first worker to decide every case")
        finally:
            done.set()

    thread, failures = in_background(phases)
    asyncio.run(load())
    thread.join(timeout=5)
    assert not failures, failures
    counts = assert_each_once(pair, told)
    fenced = (pair.var / "log" / "intake-worker-a.log").read_text().count("decider.fenced")
    print(f"\nstale decider: {told.answered} acknowledged ({told.retried} retried),")
    print(f"  {counts}, {fenced} batch(es) of the stale worker refused")
