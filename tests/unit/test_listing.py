"""One unit's listing read in parts, and reports counted again only once the ledger moved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.common import casequery
from services.common.asof import report
from services.common.readmodel import ReadModel
from services.common.store import sqlite_store
from services.intake.service import KIND
from tests.unit.test_isolation import GOOD, TOPIC, history, records

# Units whose names begin alike: a sibling named "p010" is not below "p01".
UNITS = ["demo/co", "demo/co/p01", "demo/co/p01/team", "demo/co/p010", "demo/else"]


def filled(path: Path) -> ReadModel[Any]:
    model = ReadModel(sqlite_store(path), KIND, TOPIC)
    model.store.begin()
    model.store.writer.executemany(
        "INSERT INTO cases (case_id, unit, status, version, hash, opened_at, updated_at,"
        " correlation_id, state) VALUES (?, ?, 'logged', 1, 'h', ?, ?, ?, '{}')",
        [
            (f"GRV-LIST{n:08d}", UNITS[n % len(UNITS)], f"2026-01-{n % 28 + 1:02d}", "t", "c")
            for n in range(60)
        ],
    )
    model.store.commit()
    return model


def naive(model: ReadModel[Any], unit: str, limit: int, offset: int) -> tuple[int, list[str]]:
    sql, args = casequery.where(model.store, [unit], {}, None)
    total = model.store.read(f"SELECT count(*) FROM cases{sql}", args)[0][0]
    rows = model.store.read(
        f"SELECT case_id FROM cases{sql} ORDER BY {casequery.order(None)} LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    return int(total), [r["case_id"] for r in rows]


def test_a_units_listing_in_parts_is_the_listing_of_its_subtree(tmp_path: Path) -> None:
    model = filled(tmp_path / "m.sqlite")
    for unit in [*UNITS, "demo", "demo/co/p0"]:
        for limit, offset in ((5, 0), (7, 3), (50, 10), (100, 0)):
            total, rows = model.query(units=[unit], filters={}, limit=limit, offset=offset)
            assert (total, [r["case_id"] for r in rows]) == naive(model, unit, limit, offset)
    total, rows = model.query(units=["demo/co/p01"], filters={}, limit=100, offset=0)
    assert total == 24 and {r["unit"] for r in rows} == {"demo/co/p01", "demo/co/p01/team"}
    model.close()


def test_a_filtered_or_many_unit_listing_is_not_read_in_parts(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path / "s.sqlite")
    assert casequery.parts(store, ["demo/co"], {"status": "logged"}, None) is None
    assert casequery.parts(store, ["demo/co", "demo/else"], {}, None) is None
    assert casequery.parts(store, None, {}, None) is None
    assert casequery.parts(store, ["demo/co"], {"status": None}, None) is not None
    store.close()


def test_a_report_is_counted_again_only_once_more_is_applied(tmp_path: Path) -> None:
    model = ReadModel(sqlite_store(tmp_path / "r.sqlite"), KIND, TOPIC)
    counted: list[int] = []

    def count() -> dict[str, Any]:
        counted.append(len(model.states(units=["demo"], filters={})))
        return {"cases": counted[-1]}

    assert report(model, ("demo",), count) == {"cases": 0}
    assert report(model, ("demo",), count) == {"cases": 0} and counted == [0]
    model.apply_batch(records(history(GOOD, "acknowledge")))
    model.commit()
    assert report(model, ("demo",), count) == {"cases": 1}
    assert report(model, ("demo", "other"), count) == {"cases": 1} and counted == [0, 1, 1]
    model.close()
