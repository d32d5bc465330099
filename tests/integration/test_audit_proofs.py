"""Proofs from a running audit service: a bundle checked offline, heads that extend, a rewrite."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient

from contracts import verify_bundle
from contracts.envelope import parse_record
from services.audit import merkle, records
from services.intake.service import KIND
from tests.integration import history
from tests.integration.conftest import Stack
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration


@dataclass
class World:
    """The audit service running over a small generated history."""

    stack: Stack
    written: history.Generated

    def grievance(self) -> str:
        """A grievance with a few events."""
        return min(c for c, evs in self.written.events.items() if c[:3] == "GRV" and len(evs) > 2)


@pytest.fixture(scope="module")
def world(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    s = Stack(bootstrap, tmp_path_factory.mktemp("proofs"), "audit")
    s.env["TAIZHANG_TREE_HEAD_INTERVAL_S"] = "1"
    s.env["TAIZHANG_INDEX_INTERVAL_S"] = "0.2"
    s.env["TAIZHANG_CHECKPOINT_INTERVAL_S"] = "1"
    try:
        written = history.write(s.settings, history.generate(240))
        s.start("audit")
        yield World(s, written)
    finally:
        s.stop()


def auditor(stack: Stack) -> httpx.Client:
    return stack.client("audit", user="aud-1", role="auditor", unit="demo")


def heads(stack: Stack, **query: Any) -> list[dict[str, Any]]:
    with auditor(stack) as client:
        body: dict[str, Any] = (
            client.get("/audit/tree-heads", params=query).raise_for_status().json()
        )
    listed: list[dict[str, Any]] = body["tree_heads"]
    return listed


def covered(stack: Stack, case_id: str) -> list[dict[str, Any]]:
    """Wait until a signed head covers every record of a case's partition that was written."""
    tp = records.case_partition(stack.settings, case_id)
    end = records.end_offsets(stack.settings, [tp])[tp]
    return eventually(
        lambda: heads(stack, topic="grievance.events", partition=tp.partition),
        until=lambda found: bool(found) and found[0]["tree_size"] >= _records(stack, tp, end),
        timeout=90,
        interval=0.5,
        ignoring=(httpx.HTTPError,),
        what=f"a signed tree head over {tp.topic}/{tp.partition}",
    )


def _records(stack: Stack, tp: TopicPartition, end: int) -> int:
    return sum(1 for _ in records.read_partitions(stack.settings, [tp], ends={tp: end}))


def test_a_bundle_from_the_running_system_verifies_offline_and_fails_once_altered(
    world: World, tmp_path: Path
) -> None:
    stack, case_id = world.stack, world.grievance()
    covered(stack, case_id)
    target = tmp_path / "bundle.json"
    made = stack.cli("audit", "prove", case_id, "-o", str(target))
    assert made.returncode == 0, made.stdout + made.stderr
    # The verifier alone in an empty folder, without the ledger on its path or a broker.
    alone = tmp_path / "auditor"
    alone.mkdir()
    shutil.copy(verify_bundle.__file__, alone / "verify_bundle.py")
    shutil.copy(target, alone / "bundle.json")
    run = subprocess.run(
        [sys.executable, "-I", "verify_bundle.py", "bundle.json"],
        cwd=alone, capture_output=True, text=True, timeout=60, check=False, env={},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "bundle verifies" in run.stdout and f"{case_id}: versions 1 to" in run.stdout
    content = target.read_bytes()
    body = json.loads(content)
    assert len(body["events"]) == len(world.written.events[case_id])
    held = []
    for i in range(0, len(content), max(1, len(content) // 300)):
        altered = bytearray(content)
        altered[i] ^= 0x01
        try:
            if verify_bundle.verify(bytes(altered)).holds:
                held.append(i)
        except verify_bundle.Unreadable:
            pass
    assert not held, [content[i - 10 : i + 10] for i in held]
    (alone / "bundle.json").write_bytes(content.replace(b'"tree_size": ', b'"tree_size": 1', 1))
    broken = subprocess.run(
        [sys.executable, "-I", "verify_bundle.py", "bundle.json"],
        cwd=alone, capture_output=True, text=True, timeout=60, check=False, env={},
    )  # fmt: skip
    assert broken.returncode == 1, broken.stdout + broken.stderr
    with auditor(stack) as client:
        served = client.get(f"/audit/cases/{case_id}/bundle")
    assert served.status_code == 200, served.text
    assert verify_bundle.verify(served.content).holds


def test_inclusion_by_case_or_place_and_consistency_between_two_heads(world: World) -> None:
    stack, case_id = world.stack, world.grievance()
    first = covered(stack, case_id)[0]
    # A new case on the same partition, so a larger head is signed over it.
    rng = random.Random(7)
    other = next(
        c
        for c in (f"GRV-{rng.getrandbits(48):012X}" for _ in range(10_000))
        if records.partition_of(c, stack.settings.partitions) == first["partition"]
    )
    steps = history.grievance_script(rng, "demo/co/p01")[:2]
    more = history.decide_case(KIND, other, steps, history.START)
    history.send(
        stack.settings, [(e.case_id, history.signed(stack.settings, e).to_bytes()) for e in more]
    )
    with auditor(stack) as client:
        proved = client.get("/audit/proofs/inclusion", params={"case_id": case_id, "version": 1})
        assert proved.status_code == 200, proved.text
        body = proved.json()
        record = records.fetch(
            stack.settings, [records.Position(body["topic"], body["partition"], body["offset"])]
        )[0]
        head = body["tree_head"]
        assert merkle.verify_inclusion(
            merkle.leaf_hash(record.value), body["leaf_index"], head["tree_size"],
            [bytes.fromhex(p) for p in body["proof"]], bytes.fromhex(head["root_hash"]),
        )  # fmt: skip
        _, env = parse_record(record.value)
        assert env.case_id == case_id and env.case_version == 1
        place = client.get(
            "/audit/proofs/inclusion",
            params={
                "topic": "grievance.events",
                "partition": body["partition"],
                "offset": body["offset"],
            },
        ).json()
        assert place["leaf_index"] == body["leaf_index"]
        attempts: list[tuple[dict[str, str | int], int]] = [
            ({"case_id": case_id}, 422),
            ({"case_id": "GRV-" + "A" * 80, "version": 1}, 422),
            ({"case_id": "NOPE-1", "version": 1}, 422),
            ({"case_id": case_id, "version": 999}, 404),
            ({"topic": "grievance.events", "partition": 0, "offset": 2**60}, 422),
            ({"topic": "grievance.events", "partition": 0, "offset": 10**9}, 404),
        ]
        for params, status in attempts:
            refused = client.get("/audit/proofs/inclusion", params=params)
            assert refused.status_code == status, (params, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
        unsigned = client.get(
            "/audit/proofs/consistency",
            params={"topic": "grievance.events", "partition": 0, "first": 1, "second": 10**8},
        )
        assert unsigned.status_code == 404, unsigned.text
    with stack.client("audit") as rep:
        assert rep.get("/audit/tree-heads").status_code == 403
    with auditor(stack) as client:
        p = first["partition"]
        grown = eventually(
            lambda: heads(stack, topic="grievance.events", partition=p),
            until=lambda found: found[0]["tree_size"] > first["tree_size"],
            timeout=90,
            interval=0.5,
            what="a larger tree head after more records",
        )
        old, new = grown[-1]["tree_size"], grown[0]["tree_size"]
        answer = client.get(
            "/audit/proofs/consistency",
            params={"topic": "grievance.events", "partition": p, "first": old, "second": new},
        )
        assert answer.status_code == 200, answer.text
        proof = answer.json()
        assert merkle.verify_consistency(
            old, new, bytes.fromhex(proof["first"]["root_hash"]),
            bytes.fromhex(proof["second"]["root_hash"]), [bytes.fromhex(x) for x in proof["proof"]],
        )  # fmt: skip
    cli = stack.cli("audit", "proof-consistency", "grievance.events", str(p), str(old), str(new))
    assert cli.returncode == 0 and json.loads(cli.stdout)["proof"] == proof["proof"], cli.stderr
    listed = stack.cli("audit", "tree-heads", "--topic", "grievance.events", "--partition", str(p))
    assert listed.returncode == 0, listed.stderr
    assert "tree heads are checked with audit:" in listed.stdout
    assert f"grievance.events/{p} size {new} " in listed.stdout, listed.stdout


def test_records_re_appended_after_a_head_covered_them_are_a_finding(world: World) -> None:
    stack, case_id = world.stack, world.grievance()
    covered(stack, case_id)
    clean = stack.cli("audit", "verify", "--all")
    assert clean.returncode == 0 and "0 finding(s)" in clean.stdout, clean.stdout + clean.stderr
    stack.kill("audit", "worker")  # no newer head may bless what follows
    tp = records.case_partition(stack.settings, case_id)
    originals = list(records.read_partitions(stack.settings, [tp]))
    admin = KafkaAdminClient(bootstrap_servers=stack.settings.kafka_bootstrap_servers)
    try:
        admin.delete_records({tp: records.end_offsets(stack.settings, [tp])[tp]})
    finally:
        admin.close()
    # The partition written again, every record as it was but one case's first event: the
    # same content, so its hash still holds, in other bytes than the head signed.
    again = []
    for rec in originals:
        value = rec.value
        if rec.key == case_id and parse_record(value)[1].case_version == 1:
            value = json.dumps(json.loads(value)).encode()
        again.append((str(rec.key), value))
    history.send(stack.settings, again)
    found = stack.cli("audit", "verify", "--all")
    assert found.returncode == 1, found.stdout + found.stderr
    text = " ".join(found.stdout.split())
    assert text.count("tree-head (tree head) at") == 1, found.stdout[-3000:]
    assert "rewritten" in text and "the log now begins at offset" in text, found.stdout[-3000:]
    named = text.split("tree-head (tree head) at ", 1)[1].split(":", 1)[0]
    topic, _, rest = named.rpartition("/")
    partition, _, offset = rest.partition("@")
    assert (topic, int(partition)) == (tp.topic, tp.partition), named
    # The record named is the first one whose bytes differ from those the head signed.
    place = records.Position(topic, int(partition), int(offset))
    _, env = parse_record(records.fetch(stack.settings, [place])[0].value)
    assert (env.case_id, env.case_version) == (case_id, 1), named
