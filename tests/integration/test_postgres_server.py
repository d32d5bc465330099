"""The tests' own PostgreSQL server answers on the address it gives."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.one_store


def test_the_server_answers_and_keeps_what_it_is_given(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE TABLE IF NOT EXISTS probe (n INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO probe (n) VALUES (1) ON CONFLICT DO NOTHING")
    with psycopg.connect(postgres_url) as db:
        row = db.execute("SELECT count(*) FROM probe WHERE n = 1").fetchone()
    assert row == (1,)
