"""The audit logic without a broker: verdicts, references, checkpoints, the index and lineage."""

from __future__ import annotations

import ast
import os
import random
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.envelope import Actor, Envelope
from services.audit import checkpoint, export, verification
from services.audit.index import CaseIndex, index_path
from services.audit.lineage import IndexNotReady, indexed
from services.audit.rebuild import Rebuilds, Rebuilt, TableCheck
from services.audit.records import CaseIdError, LogRecord, NoSuchCase, Position
from services.audit.replay import NotYet, as_it_stood, open_deadlines
from services.common.settings import Settings
from services.intake.service import KIND
from tests.integration.history import decide_case, grievance_script, sealed_text

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def case(case_id: str, seed: int = 1, **links: str) -> list[Envelope]:
    steps = grievance_script(random.Random(seed), "demo/co/p01")
    return decide_case(KIND, case_id, steps, T0, **links)


def records(*cases: list[Envelope], partition: int = 0) -> list[LogRecord]:
    out: list[LogRecord] = []
    for events in cases:
        for env in events:
            pos = Position("grievance.events", partition, len(out))
            out.append(LogRecord(pos, env.case_id, env.to_bytes()))
    return out


def test_a_clean_history_has_no_findings_and_its_heads() -> None:
    a, b = case("GRV-AAAA00000001"), case("GRV-BBBB00000002", seed=2)
    verdict = verification.verify(records(a, b), references=True)
    assert verdict.clean and verdict.cases == 2 and verdict.events == len(a) + len(b)
    assert verdict.heads["GRV-AAAA00000001"] == (len(a), a[-1].hash)


def test_a_reference_to_a_missing_case_is_a_finding() -> None:
    parent = case("GRV-AAAA00000001")
    child = case("GRV-CCCC00000003", correlation_id="GRV-AAAA00000001")
    assert verification.verify(records(parent, child), references=True).clean
    verdict = verification.verify(records(child), references=True)
    [finding] = verdict.findings
    assert finding.kind == "reference" and finding.case_id == "GRV-CCCC00000003"
    assert "correlation_id names GRV-AAAA00000001" in finding.detail
    assert str(finding.position) == "grievance.events/0@0"


def test_a_checkpoint_catches_a_case_rewritten_or_cut_short() -> None:
    a, b = case("GRV-AAAA00000001"), case("GRV-BBBB00000002", seed=2)
    signed = verification.verify(records(a, b)).heads
    steps = grievance_script(random.Random(1), "demo/co/p01")
    steps[0] = (steps[0][0], {**steps[0][1], "summary": sealed_text("另一段历史")})
    other = decide_case(KIND, "GRV-AAAA00000001", steps, T0)
    verdict = verification.verify(records(other, b[:-1]))
    assert verdict.clean, "each chain on its own is perfect"
    where = Position("audit.checkpoints", 0, 9)
    verification.check_checkpoint(verdict, signed, where)
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
    where = Position("audit.checkpoints", 0, 0)
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


def test_the_lineage_comes_from_the_index_or_a_named_refusal(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    with pytest.raises(CaseIdError):
        indexed(settings, case_id="not-a-case")
    with pytest.raises(IndexNotReady, match="not been built"):
        indexed(settings, case_id="GRV-AAAA00000001")
    parent = case("GRV-AAAA00000001")
    child = case("GRV-CCCC00000003", correlation_id="GRV-AAAA00000001")
    index = CaseIndex(index_path(settings))
    index.add(records(parent, child), {})
    index.close()
    with pytest.raises(NoSuchCase, match="no case GRV-ZZZZ00000009 in the index"):
        indexed(settings, case_id="GRV-ZZZZ00000009")
    tree = indexed(settings, case_id="GRV-CCCC00000003")
    assert tree.root == "GRV-AAAA00000001" and tree.cases[-1] == "GRV-CCCC00000003"


def test_a_ledger_is_refused_before_anything_is_read_or_written(tmp_path: Path) -> None:
    outsider = Actor(user_id="rep-p01", role="worker_rep", unit="demo/co/p01")
    out = tmp_path / "ledger.csv"
    with pytest.raises(export.NotPermitted, match="cannot export the ledger of demo/co/p02"):
        export.write_ledger(
            Settings(var_dir=tmp_path),
            unit="demo/co/p02",
            period=export.Period(None, None),
            actor=outsider,
            path=out,
            fmt="csv",
        )
    assert not out.exists()
    assert export.may_export(export.local_exporter("demo/co/p02"), "demo/co/p02")


def test_a_ledger_holds_text_with_control_characters_in_a_spreadsheet(tmp_path: Path) -> None:
    # A decision typed with a vertical tab once failed the whole export with a 500.
    from openpyxl import load_workbook

    row = {"case_id": "GRV-AAAA00000001", "outcome": "补发\x0b工资\x00", "days_open": 2}
    out = tmp_path / "ledger.xlsx"
    export.write(out, "xlsx", ["case_id", "outcome", "days_open"], [row], "台账 demo/co/p01")
    sheet = load_workbook(out).active
    assert sheet is not None
    assert [c.value for c in sheet[3]] == ["GRV-AAAA00000001", "补发\ufffd工资\ufffd", 2]
    export.write(tmp_path / "ledger.csv", "csv", ["outcome"], [row], "")
    text = (tmp_path / "ledger.csv").read_text(encoding="utf-8-sig")
    assert text.split("\n")[1] == "补发\x0b工资\x00"


def test_a_rebuild_proves_nothing_without_a_live_model_and_fails_on_a_difference() -> None:
    same = TableCheck("cases", 3, "ab", "ab")
    other = TableCheck("cases", 3, "ab", "cd")
    absent = Rebuilt("suggestions", "s.sqlite", live_found=False, tables=[same])
    assert Rebuilds([absent]).compared == [] and Rebuilds([absent]).equal
    equal = Rebuilt("intake", "i.sqlite", live_found=True, tables=[same])
    differs = Rebuilt("mediation", "m.sqlite", live_found=True, tables=[other])
    assert Rebuilds([absent, equal]).equal
    assert not Rebuilds([equal, differs]).equal


def test_the_audit_service_and_the_kit_never_import_the_cli() -> None:
    root = Path(__file__).resolve().parents[2] / "services"
    for path in [*(root / "audit").glob("*.py"), *(root / "common").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n.startswith("services.cli")], path


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_ledger_cell_that_would_start_a_formula_is_kept_as_text(
    tmp_path: Path, start: str
) -> None:
    from openpyxl import load_workbook

    typed = f'{start}HYPERLINK("http://evil")'
    row = {"case_id": "GRV-AAAA00000001", "outcome": typed, "days_open": -1}
    out = tmp_path / "ledger.xlsx"
    export.write(out, "xlsx", ["case_id", "outcome", "days_open"], [row], "台账")
    sheet = load_workbook(out).active
    assert sheet is not None
    cell = sheet.cell(row=3, column=2)
    # A spreadsheet keeps a carriage return as a line break; the cell still starts with "'".
    assert cell.data_type == "s" and str(cell.value).startswith("'")
    assert sheet.cell(row=3, column=3).value == -1  # numbers stay numbers
    export.write(tmp_path / "ledger.csv", "csv", ["outcome"], [row], "")
    text = (tmp_path / "ledger.csv").read_bytes().decode("utf-8-sig")
    assert text.split("\r\n", 1)[1].lstrip('"').startswith(f"'{start}")
    assert export.as_text("工资 = 3000") == "工资 = 3000"
