"""The audit logic without a broker: verdicts, references, checkpoints, the index and lineage."""

from __future__ import annotations

import os
import random
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.envelope import Envelope
from services.audit import checkpoint, ledger
from services.audit.index import CaseIndex
from services.audit.replay import NotYet, as_it_stood, open_deadlines
from services.common.settings import Settings
from services.intake.service import KIND
from tests.integration.history import decide_case, grievance_script

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def case(case_id: str, seed: int = 1, **links: str) -> list[Envelope]:
    steps = grievance_script(random.Random(seed), "demo/co/p01")
    return decide_case(KIND, case_id, steps, T0, **links)


def records(*cases: list[Envelope], partition: int = 0) -> list[ledger.LogRecord]:
    out: list[ledger.LogRecord] = []
    for events in cases:
        for env in events:
            pos = ledger.Position("grievance.events", partition, len(out))
            out.append(ledger.LogRecord(pos, env.case_id, env.to_bytes()))
    return out


def test_a_clean_history_has_no_findings_and_its_heads() -> None:
    a, b = case("GRV-AAAA00000001"), case("GRV-BBBB00000002", seed=2)
    verdict = ledger.verify(records(a, b), references=True)
    assert verdict.clean and verdict.cases == 2 and verdict.events == len(a) + len(b)
    assert verdict.heads["GRV-AAAA00000001"] == (len(a), a[-1].hash)


def test_a_reference_to_a_missing_case_is_a_finding() -> None:
    parent = case("GRV-AAAA00000001")
    child = case("GRV-CCCC00000003", correlation_id="GRV-AAAA00000001")
    assert ledger.verify(records(parent, child), references=True).clean
    verdict = ledger.verify(records(child), references=True)
    [finding] = verdict.findings
    assert finding.kind == "reference" and finding.case_id == "GRV-CCCC00000003"
    assert "correlation_id names GRV-AAAA00000001" in finding.detail
    assert str(finding.position) == "grievance.events/0@0"


def test_a_checkpoint_catches_a_case_rewritten_or_cut_short() -> None:
    a, b = case("GRV-AAAA00000001"), case("GRV-BBBB00000002", seed=2)
    signed = ledger.verify(records(a, b)).heads
    steps = grievance_script(random.Random(1), "demo/co/p01")
    steps[0] = (steps[0][0], {**steps[0][1], "summary": "另一段历史"})
    other = decide_case(KIND, "GRV-AAAA00000001", steps, T0)
    verdict = ledger.verify(records(other, b[:-1]))
    assert verdict.clean, "each chain on its own is perfect"
    where = ledger.Position("audit.checkpoints", 0, 9)
    ledger.check_checkpoint(verdict, signed, where)
    kinds = {(f.case_id, f.kind, f.detail.split(":")[0]) for f in verdict.findings}
    assert ("GRV-BBBB00000002", "checkpoint", "truncated") in kinds
    assert ("GRV-AAAA00000001", "checkpoint", "rewritten") in kinds
    assert len(verdict.findings) == 2


def test_checkpoint_signatures_hold_and_break(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    key = checkpoint.signing_key(settings)
    private = tmp_path / "keys" / "audit-ed25519.pem"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    body = checkpoint.build({"GRV-AAAA00000001": (3, "ab" * 32)}, {"t": {0: 5}}, T0)
    value = checkpoint.sign(key, body)
    where = ledger.Position("audit.checkpoints", 0, 0)
    opened = checkpoint.open_record(value, where, checkpoint.public_key(settings))
    assert opened.heads == {"GRV-AAAA00000001": (3, "ab" * 32)}
    forged = value.replace(b'[3,"', b'[2,"')
    with pytest.raises(checkpoint.CheckpointError, match="signature"):
        checkpoint.open_record(forged, where, None)
    stranger = checkpoint.sign(checkpoint.signing_key(Settings(var_dir=tmp_path / "x")), body)
    with pytest.raises(checkpoint.CheckpointError, match="not the audit service"):
        checkpoint.open_record(stranger, where, checkpoint.public_key(settings))


def test_the_index_finds_a_case_and_its_lineage(tmp_path: Path) -> None:
    parent = case("GRV-AAAA00000001")
    child = case(
        "GRV-CCCC00000003",
        correlation_id="GRV-AAAA00000001",
        causation_id=str(parent[-1].event_id),
    )
    index = CaseIndex(tmp_path / "index.sqlite")
    recs = records(parent, child)
    index.add(recs[:3], {("grievance.events", 0): 3})
    index.add(recs[3:], {("grievance.events", 0): len(recs), ("grievance.events", 1): 0})
    index.add(recs[3:], {("grievance.events", 0): 2})  # a redelivered batch changes nothing
    assert index.count() == len(recs)
    assert index.offsets() == {("grievance.events", 0): len(recs), ("grievance.events", 1): 0}
    assert [e.case_version for e in index.entries("GRV-CCCC00000003")] == list(
        range(1, len(child) + 1)
    )
    assert index.heads()["GRV-AAAA00000001"] == (len(parent), parent[-1].hash)
    tree = index.lineage("GRV-CCCC00000003")
    assert tree.root == "GRV-AAAA00000001"
    assert tree.cases == ["GRV-AAAA00000001", "GRV-CCCC00000003"]
    [link] = tree.links
    assert link.caused == parent[-1].event_type and link.event_id == str(child[0].event_id)
    index.close()


def test_a_case_as_it_stood_before_it_existed_and_later() -> None:
    events = case("GRV-AAAA00000001")
    with pytest.raises(NotYet, match="did not exist yet"):
        as_it_stood(KIND, "GRV-AAAA00000001", events, T0 - timedelta(days=1))
    view = as_it_stood(KIND, "GRV-AAAA00000001", events, events[0].recorded_at)
    assert view["version"] == 1 and view["state"]["status"] == "logged"
    assert [d["deadline"] for d in view["open_deadlines"]] == ["ack_due", "answer_due"]


def test_open_deadlines_end_when_met_or_finished() -> None:
    events = case("GRV-AAAA00000001")
    acked = KIND.replay(events[:2])
    assert [d["deadline"] for d in open_deadlines(acked, T0)] == ["answer_due"]
    assert open_deadlines(KIND.replay(events), T0 + timedelta(days=400)) == []
