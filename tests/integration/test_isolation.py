"""Poison already in the log, on the real broker: each bad case is parked, the worker serves on.

The follow-up service runs alone; grievances are written straight onto their events topic
with real hash chains, as the intake decider would have written them. Two memories the
follow-up worker restores at start are poisoned before it starts, as a release with a
changed model would find them: the head of one follow-up, and a policy's memory of one
grievance. Then poison records are written after it is up: commands that trip the decider,
an escalation due on the last day of the calendar (the date that stopped the worker for
good), and an event the read model cannot apply. Only then come the ordinary cases.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from contracts.commands import CommandEnvelope
from contracts.envelope import Actor, Envelope, parse_record, seal_envelope
from services.common import command_signing
from services.common.calendar import local_date
from services.common.ids import new_case_id
from services.common.keys import signer_for
from services.followup.app import create_worker
from services.followup.policies import followup_id_for
from services.intake.service import KIND as GRIEVANCE_KIND
from tests.integration.conftest import Stack
from tests.integration.history import SEALED, Step, decide_case, signed, write
from tests.integration.polling import eventually
from tests.integration.reading import ok, read_topic

pytestmark = pytest.mark.integration

UNIT = "demo/co/p05"
OFFICER = {"user": "fup-p05", "role": "followup_officer", "unit": UNIT}
AUDITOR = {"user": "auditor", "role": "auditor", "unit": "demo"}
RESOLVE: Step = ("resolve", {"how": "on_site", "resolution": SEALED})
BAD_HEAD = "FUP-POISONHEAD0001"
KEPT_BY_AN_OLDER_RELEASE = b'"kept by an older release"'


@dataclass
class World:
    """What was written, and where the poison is."""

    stack: Stack
    memory_case: str = ""
    memory_fup: str = ""
    quarantined_fup: str = ""
    quarantined_at: tuple[int, int] = (0, 0)
    head_command: str = ""
    rule_command: str = ""
    callbacks: list[str] = field(default_factory=list)
    progress: list[str] = field(default_factory=list)

    def topic(self, name: str) -> str:
        return self.stack.settings.topic(name)


def grievance(*steps: Step, hours_ago: float = 1) -> tuple[str, list[Envelope]]:
    """A grievance of the unit, logged and acknowledged, then the steps; decided by its rules."""
    case_id = new_case_id("GRV", str(uuid.uuid4()))
    opened: Step = (
        "log",
        {
            "unit": UNIT,
            "category": "canteen",
            "summary": SEALED,
            "channel": "in_person",
            "anonymous": True,
        },
    )
    start = datetime.now(UTC) - timedelta(hours=hours_ago)
    return case_id, decide_case(
        GRIEVANCE_KIND, case_id, [opened, ("acknowledge", {}), *steps], start
    )


def after(last: Envelope, event_type: str, payload: dict[str, Any]) -> Envelope:
    """The next event of a case, chained to its last one, that its decider never decided."""
    at = last.occurred_at + timedelta(minutes=1)
    return seal_envelope(
        event_type=event_type,
        schema_version=1,
        case_id=last.case_id,
        case_version=last.case_version + 1,
        occurred_at=at,
        recorded_at=at,
        actor=last.actor,
        correlation_id=last.correlation_id,
        causation_id=str(uuid.uuid4()),
        payload=payload,
        prev_hash=last.hash,
        event_id=uuid.uuid4(),
    )


def command(case_id: str, command_type: str, payload: dict[str, Any]) -> CommandEnvelope:
    now = datetime.now(UTC)
    return CommandEnvelope(
        command_id=str(uuid.uuid4()),
        command_type=command_type,
        case_id=case_id,
        actor=Actor(user_id="system", role="system", unit=UNIT),
        issued_at=now,
        occurred_at=now,
        correlation_id=case_id,
        causation_id="test",
        payload=payload,
    )


def send(
    stack: Stack, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]] | None = None
) -> tuple[int, int]:
    producer = KafkaProducer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    try:
        sent = producer.send(topic, key=key.encode(), value=value, headers=headers).get(timeout=10)
        return sent.partition, sent.offset
    finally:
        producer.close()


def poison_memories(stack: Stack, memory_case: str) -> None:
    """Write a head and a policy memory the follow-up worker cannot read, before it starts."""
    worker = create_worker(stack.settings)
    worker.declare_changelogs()
    sources = worker.app.tables["followup-grievance-sources"].changelog_topic.get_topic_name()
    # Signed by the service, as an older release could have written it: believed, unreadable.
    unreadable = {"version": "three", "hash": "0" * 64}
    head = json.dumps(signer_for(stack.settings, "followup").seal_head(unreadable)).encode()
    send(stack, worker.partitions.heads_topic, BAD_HEAD, head)
    send(stack, sources, memory_case, KEPT_BY_AN_OLDER_RELEASE)


def scheduled(officer: httpx.Client, fup: str) -> dict[str, Any]:
    found = eventually(
        lambda: officer.get(f"/followups/{fup}"),
        until=lambda response: response.status_code == 200,
        timeout=90,
        what=f"follow-up {fup} to be scheduled",
    )
    return ok(found)


def parked(world: World, topic: str, case_id: str, count: int) -> list[ConsumerRecord]:
    """Wait for `count` dead letters of a case in `<topic>.dlq`; return them."""
    return eventually(
        lambda: [
            r
            for r in read_topic(world.stack, f"{world.topic(topic)}.dlq")
            if r.key == case_id.encode()
        ],
        until=lambda found: len(found) >= count,
        what=f"{count} dead letter(s) of {case_id} beside {topic}",
    )


def headers(record: ConsumerRecord) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


def reply_to(world: World, command_id: str) -> dict[str, Any]:
    found = eventually(
        lambda: [
            r
            for r in read_topic(world.stack, world.topic("followup.replies"))
            if r.key == command_id.encode()
        ],
        what=f"the reply to {command_id}",
    )
    body: dict[str, Any] = json.loads(found[0].value)
    return body


def dead_letter_lines(world: World, part: str) -> list[dict[str, Any]]:
    """The log lines of a follow-up part that name a parked record."""
    text = world.stack.log("followup", part)
    # A terminal's control characters may precede a line: the line starts at its brace.
    return [
        json.loads(line[line.index("{") :])
        for line in text.splitlines()
        if '"record.dead_lettered"' in line
    ]


def poison_records(w: World, opened: Envelope) -> None:
    """Write poison after the worker is up: an event, two commands, a date past the calendar."""
    # An event the read model cannot apply, though it follows the chain.
    unreadable = after(opened, "followup.progress_noted", {"progress": "no note"})
    w.quarantined_at = send(
        w.stack,
        w.topic("followup.events"),
        opened.case_id,
        signed(w.stack.settings, unreadable).to_bytes(),
    )
    # A command for the case whose head cannot be read, and one dated at the calendar's edge.
    for_head = command(BAD_HEAD, "note_progress", {"note": SEALED})
    source = {"source_case_id": "DSP-0000000000AA", "source_event_id": str(uuid.uuid4())}
    reminder = {"kind": "limitation_reminder", "unit": UNIT, "limitation_date": "0001-01-05"}
    tripping = command(new_case_id("FUP", str(uuid.uuid4())), "schedule", {**reminder, **source})
    for meta in (for_head, tripping):
        # Signed as the ledger signs them: what trips them is what they say, not who sent them.
        headers = command_signing.headers(w.stack.settings, meta, "followup.api")
        value = meta.model_dump_json().encode()
        send(w.stack, w.topic("followup.commands"), meta.case_id, value, headers)
    w.head_command, w.rule_command = for_head.command_id, tripping.command_id
    # An escalation due on the last day of the calendar, the date that stopped the worker.
    overflow_id, overflow = grievance()
    due = {"owner": "lead-p05", "due": "9999-12-31"}
    overflow.append(after(overflow[-1], "grievance.escalated", due))
    write(w.stack.settings, iter([(overflow_id, overflow)]))


@pytest.fixture(scope="module")
def world(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The follow-up service with poison in its memories, its commands and its events."""
    with Stack(bootstrap, tmp_path_factory.mktemp("isolation"), "isolation") as stack:
        w = World(stack)
        memory_case, memory_events = grievance(RESOLVE)
        w.memory_case = memory_case
        w.memory_fup = followup_id_for(str(memory_events[-1].event_id), "callback")
        poison_memories(stack, memory_case)
        stack.start("followup")
        with stack.client("followup", **OFFICER) as officer:
            # A call-back scheduled, decided and shown: the worker is up; this one is poisoned next.
            first = grievance(RESOLVE)
            write(stack.settings, iter([first]))
            w.quarantined_fup = followup_id_for(str(first[1][-1].event_id), "callback")
            scheduled(officer, w.quarantined_fup)
            [body] = ok(officer.get(f"/followups/{w.quarantined_fup}/history"))["events"]
            del body["_position"]
            poison_records(w, parse_record(json.dumps(body).encode())[1])
            write(stack.settings, iter([(memory_case, memory_events)]))

            # Then the ordinary cases: two call-backs, two escalations already overdue.
            yesterday = (local_date(datetime.now(UTC)) - timedelta(days=1)).isoformat()
            escalate: Step = ("escalate", {"owner": "lead-p05", "due": yesterday})
            ordinary = [grievance(RESOLVE), grievance(RESOLVE)]
            ordinary += [grievance(escalate, hours_ago=40), grievance(escalate, hours_ago=40)]
            write(stack.settings, iter(ordinary))
            w.callbacks = [
                followup_id_for(str(e[-1].event_id), "callback") for _, e in ordinary[:2]
            ]
            w.progress = [followup_id_for(str(e[-1].event_id), "progress") for _, e in ordinary[2:]]
        yield w


def test_the_worker_stays_up_and_every_other_case_is_decided_reacted_to_and_ticked(
    world: World,
) -> None:
    with world.stack.client("followup", **OFFICER) as officer:
        views = [scheduled(officer, fup) for fup in world.callbacks + world.progress]
        assert [v["kind"] for v in views] == ["callback", "callback", "progress", "progress"]
        overdue = eventually(
            lambda: [ok(officer.get(f"/followups/{fup}"))["overdue"] for fup in world.progress],
            until=lambda marks: all(len(m) == 1 for m in marks),
            what="the timer to mark both escalations overdue",
        )
        assert len(overdue) == 2
        listed = ok(officer.get("/followups", params={"unit": UNIT, "limit": 50}))
        # The first call-back and the four ordinary cases; the poisoned memory scheduled nothing.
        ordinary = {world.quarantined_fup, *world.callbacks, *world.progress}
        assert ordinary <= {item["case_id"] for item in listed["items"]}
        parked(world, "grievance.events", world.memory_case, 3)
        assert officer.get(f"/followups/{world.memory_fup}").status_code == 404
    assert world.stack.procs["followup-worker"].poll() is None, world.stack.log(
        "followup", "worker"
    )
    assert world.stack.procs["followup-api"].poll() is None


def test_a_command_whose_head_cannot_be_read_is_refused_and_parked(world: World) -> None:
    head = reply_to(world, world.head_command)
    assert not head["ok"] and head["refusal"]["status"] == 500
    [parked_head] = [
        r
        for r in parked(world, "followup.commands", BAD_HEAD, 2)
        if "cannot be read" in headers(r)["reason"]
    ]
    assert headers(parked_head)["reason"].startswith(f"the head of {BAD_HEAD} cannot be read:")
    assert json.loads(parked_head.value)["command_id"] == world.head_command
    # A reminder dated in the calendar's first days once tripped the rules; the calendar now
    # stops at its edges, so it is decided like any other command sent beside the bad one.
    rule = reply_to(world, world.rule_command)
    assert rule["ok"] and rule["version"] == 1, rule


def test_a_case_whose_deadlines_fail_is_parked_once_and_set_aside(world: World) -> None:
    timer = [
        r
        for r in parked(world, "followup.commands", BAD_HEAD, 2)
        if headers(r)["reason"].startswith("timer:")
    ]
    assert len(timer) == 1, [headers(r) for r in timer]
    assert headers(timer[0])["quarantined"] == "true"
    assert headers(timer[0])["source_offset"] == "-1"
    note = json.loads(timer[0].value)
    assert note["case_id"] == BAD_HEAD and note["version"] is None
    assert "ValidationError" in headers(timer[0])["reason"]


def test_a_policy_that_cannot_read_its_memory_quarantines_that_grievance(world: World) -> None:
    records = parked(world, "grievance.events", world.memory_case, 3)
    first, *later = sorted(records, key=lambda r: int(headers(r)["source_offset"]))
    assert headers(first)["quarantined"] == "true"
    assert headers(first)["reason"].startswith("followup-grievance: ValidationError")
    assert all(
        f"{world.memory_case} quarantined since" in headers(r)["reason"]
        and "quarantined" not in dict(r.headers)
        for r in later
    )


def test_an_event_the_read_model_cannot_apply_quarantines_its_case_and_its_view_says_so(
    world: World,
) -> None:
    partition, offset = world.quarantined_at
    topic = world.topic("followup.events")
    with world.stack.client("followup", **OFFICER) as officer:
        view = eventually(
            lambda: ok(officer.get(f"/followups/{world.quarantined_fup}")),
            until=lambda v: "quarantined" in v,
            what="the follow-up's view to show its quarantine",
        )
    assert view["version"] == 1 and view["status"] == "open"
    assert view["quarantined"]["position"] == [topic, partition, offset]
    assert view["quarantined"]["reason"].startswith("cannot apply: ValidationError")
    [dead] = [
        r
        for r in parked(world, "followup.events", world.quarantined_fup, 1)
        if headers(r).get("consumer", "").endswith("read-model")
    ]
    assert headers(dead)["source_offset"] == str(offset) and headers(dead)["quarantined"] == "true"
    lines = dead_letter_lines(world, "api")
    [line] = [x for x in lines if x["case_id"] == world.quarantined_fup]
    assert (line["topic"], line["partition"], line["offset"]) == (topic, partition, offset)
    assert line["quarantined"] is True and line["reason"] == view["quarantined"]["reason"]


def test_every_parked_record_is_named_in_one_log_line_and_counted_in_metrics(world: World) -> None:
    lines = dead_letter_lines(world, "worker")
    for topic, case, count in (
        ("followup.commands", BAD_HEAD, 2),
        ("grievance.events", world.memory_case, 3),
    ):
        offsets = sorted(
            int(headers(r)["source_offset"]) for r in parked(world, topic, case, count)
        )
        mine = [x for x in lines if x["case_id"] == case]
        assert sorted(x["offset"] for x in mine) == offsets
        assert all(x["topic"] == world.topic(topic) and x["reason"] for x in mine)
    dlqs = [
        world.topic(f"{t}.dlq")
        for t in ("followup.commands", "followup.events", "grievance.events")
    ]

    def counts() -> tuple[dict[str, int], dict[str, int], str]:
        on_topics = {t: len(read_topic(world.stack, t)) for t in dlqs}
        with world.stack.client("followup", **AUDITOR) as auditor:
            exposed = auditor.get("/metrics").text
        gauges = re.finditer(r'taizhang_dead_letters\{topic="([^"]+)"\} (\S+)', exposed)
        counted = {m[1]: int(float(m[2])) for m in gauges if m[1] in dlqs}
        return on_topics, counted, exposed

    on_topics, counted, exposed = eventually(
        counts, until=lambda c: c[0] == c[1], what="/metrics to count every dead letter"
    )
    assert counted == on_topics and all(on_topics.values()), on_topics
    assert re.search(r"^taizhang_quarantined_cases 1\.0$", exposed, re.M), exposed
