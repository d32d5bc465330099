"""The index's ledger table: each case as its believed events fold it, filed with their places."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from contracts.envelope import Envelope
from services.audit.index import CaseIndex
from services.audit.ledgerstore import fold_step, ledger_cases, stream_of
from services.audit.records import LogRecord, Position
from services.intake.service import KIND
from tests.integration.history import decide_case, grievance_script
from tests.unit.test_audit import T0


def case(case_id: str, unit: str, seed: int = 1) -> list[Envelope]:
    return decide_case(KIND, case_id, grievance_script(random.Random(seed), unit), T0)


def placed(
    events: list[Envelope], first: int = 0, topic: str = "demo.grievance.events"
) -> list[LogRecord]:
    return [
        LogRecord(Position(topic, 0, first + i), env.case_id, env.to_bytes())
        for i, env in enumerate(events)
    ]


def test_a_case_is_folded_as_a_replay_folds_it_and_a_redelivery_changes_nothing(
    tmp_path: Path,
) -> None:
    events = case("GRV-AAAA00000001", "demo/co/p01")
    index = CaseIndex(tmp_path / "index.sqlite")
    recs = placed(events)
    index.add(recs[:2], {})
    index.add(recs[2:], {})
    index.add(recs, {})
    [row] = ledger_cases(index.db, ["grievance"], "demo/co", None, None)
    replayed = KIND.replay(events)
    assert replayed is not None
    assert row.state == replayed.model_dump(mode="json")
    assert row.status == row.state["status"] == "closed" and row.unit == "demo/co/p01"
    assert row.opened_at < row.updated_at and row.correlation_id == events[0].correlation_id
    assert index.ledger_filed()
    index.close()


def test_the_unit_subtree_and_the_opening_dates_choose_the_rows(tmp_path: Path) -> None:
    index = CaseIndex(tmp_path / "index.sqlite")
    a = case("GRV-AAAA00000001", "demo/co/p01")
    b = case("GRV-BBBB00000002", "demo/cox", seed=2)
    c = case("GRV-CCCC00000003", "demo/co", seed=3)
    index.add(placed(a) + placed(b, len(a)) + placed(c, len(a) + len(b)), {})
    ids = {r.case_id for r in ledger_cases(index.db, ["grievance"], "demo/co", None, None)}
    assert ids == {"GRV-AAAA00000001", "GRV-CCCC00000003"}, "demo/cox lies outside demo/co"
    assert [
        r.case_id for r in ledger_cases(index.db, ["grievance"], "demo/co/p01", None, None)
    ] == ["GRV-AAAA00000001"]
    day = T0.date().isoformat()
    assert not list(ledger_cases(index.db, ["grievance"], "demo/co", None, day))
    assert len(list(ledger_cases(index.db, ["grievance"], "demo", day, "9999"))) == 3
    assert not list(ledger_cases(index.db, ["dispute"], "demo", None, None))
    index.close()


def test_a_gap_stops_the_fold_and_a_case_seen_from_its_middle_is_in_no_ledger(
    tmp_path: Path,
) -> None:
    index = CaseIndex(tmp_path / "index.sqlite")
    a = case("GRV-AAAA00000001", "demo/co/p01")
    b = case("GRV-BBBB00000002", "demo/co/p01", seed=2)
    index.add(placed([a[0], *a[2:]]) + placed(b[1:], 100), {})
    [row] = ledger_cases(index.db, ["grievance"], "demo", None, None)
    first = KIND.replay(a[:1])
    assert first is not None
    assert row.case_id == "GRV-AAAA00000001" and row.state == first.model_dump(mode="json")
    index.close()


def test_a_refused_record_is_not_folded(tmp_path: Path) -> None:
    index = CaseIndex(tmp_path / "index.sqlite")
    a = case("GRV-AAAA00000001", "demo/co/p01")
    recs = placed(a)
    index.add(recs, {}, refused={recs[1].position})
    [row] = ledger_cases(index.db, ["grievance"], "demo", None, None)
    first = KIND.replay(a[:1])
    assert first is not None and row.state == first.model_dump(mode="json")
    index.close()


def test_an_index_filed_before_the_table_says_so(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    index = CaseIndex(path)
    index.add(placed(case("GRV-AAAA00000001", "demo/co/p01")), {})
    index.close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM filed")
    again = CaseIndex(path)
    assert not again.ledger_filed(), "its table lacks the cases filed before it"
    again.close()
    assert not CaseIndex(path, readonly=True).ledger_filed()


def test_topics_name_their_stream_whatever_the_prefix() -> None:
    assert stream_of("grievance.events") == stream_of("x.y.grievance.events") == "grievance"
    assert stream_of("grievance.commands") is None and stream_of("xgrievance.events") is None


def test_an_event_the_rules_cannot_fold_stops_its_case_and_no_other(tmp_path: Path) -> None:
    index = CaseIndex(tmp_path / "index.sqlite")
    a = case("GRV-AAAA00000001", "demo/co/p01")
    b = case("GRV-BBBB00000002", "demo/co/p01", seed=2)
    strange = a[1].model_copy(update={"event_type": "grievance.unheard_of"})
    index.add(placed([a[0], strange, *a[2:]]) + placed(b, 100), {})
    rows = {r.case_id: r for r in ledger_cases(index.db, ["grievance"], "demo", None, None)}
    first = KIND.replay(a[:1])
    assert first is not None and rows["GRV-AAAA00000001"].state == first.model_dump(mode="json")
    assert rows["GRV-BBBB00000002"].status == "closed"
    assert index.count() == len(a) + len(b), "every place is filed all the same"
    index.close()


def test_each_event_opens_evolves_stops_or_is_passed_over() -> None:
    assert fold_step(None, False, 1, False) == "open"
    assert fold_step(None, False, 2, False) == fold_step(None, False, 1, True) == "never"
    assert fold_step(3, False, 4, False) == "evolve"
    assert fold_step(3, False, 5, False) == fold_step(3, False, 4, True) == "stop"
    assert fold_step(3, False, 3, False) == fold_step(3, True, 4, False) == "skip"
