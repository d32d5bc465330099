"""Tampering with the log on the real broker: verify names every kind, each at its place."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypedDict, Unpack

import pytest
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient

from contracts.envelope import Actor, Envelope, parse_record, seal_envelope
from services.audit import records
from services.audit.replay import replay_case
from services.intake.service import KIND
from tests.integration import history
from tests.integration.audit_world import EVENTS, World, build_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(bootstrap, tmp_path_factory.mktemp("tampering"), EVENTS)
    yield w
    w.stack.stop()


class Fields(TypedDict, total=False):
    """The fields a forger may set on an envelope before sealing it again."""

    event_type: str
    schema_version: int
    case_id: str
    case_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    correlation_id: str
    causation_id: str
    payload: dict[str, Any]
    prev_hash: str
    event_id: uuid.UUID


def _forge(env: Envelope, **changes: Unpack[Fields]) -> Envelope:
    fields: Fields = {
        "event_type": env.event_type,
        "schema_version": env.schema_version,
        "case_id": env.case_id,
        "case_version": env.case_version,
        "occurred_at": env.occurred_at,
        "recorded_at": env.recorded_at,
        "actor": env.actor,
        "correlation_id": env.correlation_id,
        "causation_id": env.causation_id,
        "payload": env.payload,
        "prev_hash": env.prev_hash,
        "event_id": env.event_id,
    }
    fields.update(changes)
    return seal_envelope(**fields)


def test_verify_all_is_clean_then_finds_every_kind_of_tampering(world: World) -> None:
    stack, settings = world.stack, world.stack.settings
    clean = stack.cli("audit", "verify", "--all")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 finding(s)" in clean.stdout and "signature holds" in clean.stdout
    assert "verifying" in clean.stderr
    stack.kill("audit", "worker")  # no newer checkpoint may bless what follows

    long_cases = [c for c, evs in sorted(world.written.events.items()) if len(evs) >= 4]
    topic = settings.topic("grievance.events")
    by_partition: dict[int, list[str]] = {}
    for c in long_cases:
        by_partition.setdefault(records.partition_of(c, settings.partitions), []).append(c)
    victim_partition = max(by_partition, key=lambda p: len(by_partition[p]))
    rewritten, truncated = by_partition[victim_partition][:2]
    others = [
        c for c in long_cases if records.partition_of(c, settings.partitions) != victim_partition
    ]
    forged_case, gap_case, schema_case = others[:3]

    # A case deleted and re-appended wholesale: the partition is emptied and written again,
    # every other case byte for byte, one case with a new history that chains perfectly,
    # another cut short.
    tp = TopicPartition(topic, victim_partition)
    originals = [r for r in records.read_partitions(settings, [tp])]
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        ends = records.end_offsets(settings, [tp])
        admin.delete_records({tp: ends[tp]})
    finally:
        admin.close()
    new_history: list[Envelope] = []
    prev = "0" * 64
    for env in world.written.events[rewritten]:
        payload = dict(env.payload)
        if env.event_type == "grievance.logged":
            payload["summary"] = "另一段历史"
        forged = _forge(env, payload=payload, prev_hash=prev)
        new_history.append(forged)
        prev = forged.hash
    cut = len(world.written.events[truncated]) - 1
    again: list[tuple[str, bytes]] = []
    for rec in originals:
        if rec.key == rewritten:
            continue
        if rec.key == truncated:
            _, env = parse_record(rec.value)
            if env.case_version > cut:
                continue
        again.append((str(rec.key), rec.value))
    again += [(rewritten, e.to_bytes()) for e in new_history]
    history.send(settings, again)

    # A forged event: content changed after it was hashed.
    last = world.written.events[forged_case][-1]
    wire = last.to_wire()
    wire["case_version"] = last.case_version + 1
    wire["prev_hash"] = last.hash
    wire["actor"] = {**wire["actor"], "user_id": "someone-else"}
    history.send(settings, [(forged_case, json.dumps(wire).encode())])
    # A version gap: a well-chained event that skips a version.
    last = world.written.events[gap_case][-1]
    gap = _forge(last, case_version=last.case_version + 2, prev_hash=last.hash,
                 event_id=uuid.uuid4())  # fmt: skip
    history.send(settings, [(gap_case, gap.to_bytes())])
    # A schema-invalid record: hashed and chained, but its payload breaks the contract.
    last = world.written.events[schema_case][-1]
    bad = _forge(
        last,
        event_type="grievance.resolved",
        payload={"how": "by magic"},
        case_version=last.case_version + 1,
        prev_hash=last.hash,
        event_id=uuid.uuid4(),
    )
    history.send(settings, [(schema_case, bad.to_bytes())])
    # A reference to a case that is not in the log.
    orphan = f"GRV-{uuid.uuid4().hex[:12].upper()}"
    opened = history.decide_case(
        KIND, orphan, history.grievance_script(random.Random(2), "demo/co/p03")[:1],
        last.recorded_at, correlation_id="GRV-NOSUCHCASE01",
    )  # fmt: skip
    history.send(settings, [(orphan, e.to_bytes()) for e in opened])

    found = stack.cli("audit", "verify", "--all")
    assert found.returncode == 1, found.stdout + found.stderr
    lines = found.stdout.splitlines()

    def finding(kind: str, case_id: str) -> str:
        hits = [line for line in lines if line.startswith(f"{kind} {case_id} at {topic}/")]
        assert len(hits) == 1, (kind, case_id, found.stdout[-3000:])
        return hits[0]

    assert "rewritten" in finding("checkpoint", rewritten)
    assert "truncated" in finding("checkpoint", truncated)
    assert "@" in finding("altered", forged_case)
    assert "expected version" in finding("gap", gap_case)
    assert "grievance.resolved" in finding("schema", schema_case)
    assert "GRV-NOSUCHCASE01" in finding("reference", orphan)
    # The emptied and rewritten partition no longer has the tree its signed head vouched for.
    heads = [line for line in lines if line.startswith("tree-head ")]
    assert len(heads) == 1 and f"{topic}/{victim_partition}@" in heads[0], found.stdout[-3000:]
    # Whoever rewrote the log could not sign: every event appended unsigned is named too.
    unsigned = [
        line for line in lines if line.startswith("signature ") and "carries no signature" in line
    ]
    rewritten_lines = [line for line in unsigned if line.startswith(f"signature {rewritten} ")]
    assert len(rewritten_lines) == len(new_history)
    for case_id in (gap_case, schema_case, orphan):
        assert len([line for line in unsigned if f" {case_id} " in line]) == 1, case_id
    assert f"{7 + len(new_history) + 3} finding(s)" in found.stdout
    # A replay checks its case as verify does, and names what it finds at its place.
    altered = replay_case(settings, case_id=forged_case)["findings"]
    assert [f["kind"] for f in altered] == ["altered"] and f"{topic}/" in altered[0]["position"]
    skipped = {f["kind"] for f in replay_case(settings, case_id=gap_case)["findings"]}
    assert skipped == {"gap", "signature"}
    assert replay_case(settings, case_id=others[3])["findings"] == []
