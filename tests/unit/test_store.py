"""The read models' store: its file, its versions, its savepoints, its PostgreSQL spelling."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from services.common.dialects import COLUMNS, POSTGRESQL, SQLITE, adapt, total_order, translate
from services.common.readschema import VERSION
from services.common.settings import Settings
from services.common.store import (
    Store,
    StoreError,
    environmental,
    existing_store,
    schema_name,
    sqlite_store,
)

NOTES = "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)"


def opened(path: Path, version: int = 1) -> Store:
    store = sqlite_store(path)
    store.prepare({"notes": (version, NOTES)})
    return store


def write(store: Store, *rows: tuple[str, str]) -> None:
    store.begin()
    store.writer.executemany("INSERT INTO notes (id, body) VALUES (?, ?)", list(rows))
    store.commit()


def test_rows_read_by_name_and_position(tmp_path: Path) -> None:
    store = opened(tmp_path / "s.sqlite")
    write(store, ("a", "one"))
    (row,) = store.read("SELECT id, body FROM notes WHERE id = ?", ("a",))
    assert (row["body"], row[0], len(row), dict(row)) == ("one", "a", 2, {"id": "a", "body": "one"})
    store.close()


def test_the_same_version_keeps_the_rows(tmp_path: Path) -> None:
    write(opened(tmp_path / "s.sqlite"), ("a", "one"))
    again = sqlite_store(tmp_path / "s.sqlite")
    assert again.prepare({"notes": (1, NOTES)}) is False
    assert [r[0] for r in again.read("SELECT id FROM notes")] == ["a"]


def test_an_older_version_is_emptied_to_be_built_again(tmp_path: Path) -> None:
    write(opened(tmp_path / "s.sqlite"), ("a", "one"))
    newer = sqlite_store(tmp_path / "s.sqlite")
    assert newer.prepare({"notes": (2, NOTES)}) is True
    assert newer.read("SELECT id FROM notes") == []
    assert [tuple(r) for r in newer.read("SELECT * FROM schema_versions")] == [("notes", 2)]


def test_a_newer_version_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    write(opened(tmp_path / "s.sqlite", version=3), ("a", "one"))
    older = sqlite_store(tmp_path / "s.sqlite")
    with pytest.raises(StoreError, match="newer version"):
        older.prepare({"notes": (2, NOTES)})
    assert len(older.read("SELECT id FROM notes")) == 1


def test_a_file_from_before_versions_is_built_again(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
    db.execute("INSERT INTO notes VALUES ('a', 'one')")
    db.commit()
    db.close()
    store = sqlite_store(path)
    assert store.prepare({"notes": (1, NOTES)}) is True
    assert store.read("SELECT id FROM notes") == []


def test_a_new_part_empties_the_store(tmp_path: Path) -> None:
    write(opened(tmp_path / "s.sqlite"), ("a", "one"))
    more = sqlite_store(tmp_path / "s.sqlite")
    other = "CREATE TABLE IF NOT EXISTS other (id TEXT PRIMARY KEY)"
    assert more.prepare({"notes": (1, NOTES), "other": (1, other)}) is True


def test_a_savepoint_undoes_only_what_came_after_it(tmp_path: Path) -> None:
    store = opened(tmp_path / "s.sqlite")
    store.begin()
    store.writer.execute("INSERT INTO notes VALUES (?, ?)", ("a", "kept"))
    point = store.writer.savepoint()
    store.writer.execute("INSERT INTO notes VALUES (?, ?)", ("b", "undone"))
    with pytest.raises(sqlite3.IntegrityError):
        store.writer.execute("INSERT INTO notes VALUES (?, ?)", ("a", "twice"))
    point.rollback()
    store.commit()
    assert [tuple(r) for r in store.read("SELECT * FROM notes")] == [("a", "kept")]


def test_readers_see_only_what_was_committed(tmp_path: Path) -> None:
    store = opened(tmp_path / "s.sqlite")
    store.begin()
    store.writer.execute("INSERT INTO notes VALUES (?, ?)", ("a", "open"))
    assert store.read("SELECT id FROM notes") == []
    store.rollback()
    assert store.read("SELECT id FROM notes") == []


def test_a_busy_file_is_the_stores_failure_and_a_broken_rule_is_not(tmp_path: Path) -> None:
    store = opened(tmp_path / "s.sqlite")
    write(store, ("a", "one"))
    with pytest.raises(sqlite3.IntegrityError) as broken:
        write(store, ("a", "again"))
    store.rollback()
    assert not environmental(broken.value)
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorname = "SQLITE_BUSY"
    assert environmental(busy)


def test_a_lost_server_is_the_stores_failure_and_a_refused_row_is_not() -> None:
    assert environmental(psycopg.OperationalError("server closed the connection"))
    assert environmental(psycopg.errors.DeadlockDetected())
    assert not environmental(psycopg.errors.UniqueViolation())
    assert not environmental(ValueError("a defect"))


def test_postgresql_spells_json_paths_its_own_way() -> None:
    sql = (
        "SELECT json_extract(state, '$.kind') FROM cases WHERE case_id LIKE 'HLP-%'"
        " AND EXISTS (SELECT 1 FROM json_each(state, '$.tags') WHERE instr(value, ?) > 0)"
        " AND json_array_length(state, '$.overdue') > ?"
    )
    out = translate(POSTGRESQL, sql)
    assert "(CAST(state AS jsonb) ->> 'kind')" in out
    assert "jsonb_array_elements_text(" in out and "AS json_each(value)" in out
    assert "strpos(value, %s)" in out and "jsonb_array_length(" in out
    assert "LIKE 'HLP-%%'" in out and "?" not in out
    assert translate(SQLITE, sql) == sql


def test_marks_inside_quotes_are_text() -> None:
    assert (
        translate(POSTGRESQL, "SELECT '?', \"a?\" WHERE x = ?") == "SELECT '?', \"a?\" WHERE x = %s"
    )


def test_booleans_are_integers_on_both() -> None:
    assert adapt(POSTGRESQL, [True, False, "x", None]) == (1, 0, "x", None)
    assert adapt(SQLITE, [True]) == (True,)


def test_rows_sort_by_code_point_and_null_first_on_both() -> None:
    columns = [("id", "TEXT"), ("n", "integer"), ("body", "text")]
    assert total_order(SQLITE, columns) == '"id", "n", "body"'
    assert total_order(POSTGRESQL, columns) == (
        '"id" COLLATE "C" NULLS FIRST, "n" NULLS FIRST, "body" COLLATE "C" NULLS FIRST'
    )


def test_a_store_is_read_whole_in_its_order_and_only_if_it_is_there(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    assert existing_store(settings, "notes") is None
    assert not (settings.data_dir / "notes.sqlite").exists()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    write(opened(settings.data_dir / "notes.sqlite"), ("b", "two"), ("a", "one"), ("B", "é"))
    found = existing_store(settings, "notes")
    assert found is not None
    columns = [(str(r[0]), str(r[1])) for r in found.read(COLUMNS[SQLITE], ("notes",))]
    sql = f"SELECT * FROM notes ORDER BY {total_order(SQLITE, columns)}"
    assert list(found.scan(sql, batch=2)) == [("B", "é"), ("a", "one"), ("b", "two")]
    found.close()


def test_schemas_are_named_by_prefix_and_service() -> None:
    assert schema_name("it1a2b3c4d.", "intake") == "it1a2b3c4d_intake"
    assert schema_name("", "library") == "library"
    assert schema_name("9x-", "notify") == "s_9x_notify"
    long = schema_name("p" * 80, "followup")
    assert len(long) == 63 and long != schema_name("p" * 81, "followup")


def test_the_read_models_version_is_recorded(tmp_path: Path) -> None:
    from services.common.readmodel import ReadModel
    from services.intake.service import KIND

    model = ReadModel(tmp_path / "m.sqlite", KIND, "grievance.events")
    versions = {r[0]: r[1] for r in model.select("SELECT * FROM schema_versions")}
    assert versions == {"readmodel": VERSION} and model.rebuilt is False
    model.close()
