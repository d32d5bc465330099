"""The shared key vault on a real PostgreSQL server: one key per person, erased for good."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from contracts.personal import ERASED
from services.common.pgvault import PostgresKeyVault, schema_name
from services.common.vault import KeyCache, KeyErased, Sealer

pytestmark = pytest.mark.one_store

MASTER = "integration-master-key"


@pytest.fixture
def prefix() -> str:
    """A deployment of its own, so its schema meets no other test's."""
    return f"vt{uuid.uuid4().hex[:8]}."


@pytest.fixture
def vault(postgres_url: str, prefix: str) -> Iterator[PostgresKeyVault]:
    with closing(PostgresKeyVault(postgres_url, prefix, MASTER)) as opened:
        yield opened


def test_every_replica_sees_the_same_keys_and_people(
    postgres_url: str, prefix: str, vault: PostgresKeyVault
) -> None:
    person = Sealer(vault, MASTER).seal_person("王小林", "13800000001")
    with closing(PostgresKeyVault(postgres_url, prefix, MASTER)) as other:
        there = Sealer(other, MASTER)
        assert there.open(person.name) == "王小林"
        assert there.open(person.phone) == "13800000001"
        assert there.person_id("138 0000 0001") == person.person_id
    with closing(PostgresKeyVault(postgres_url, f"other{prefix}", MASTER)) as elsewhere:
        assert Sealer(elsewhere, MASTER).open(person.name) == ERASED, "deployments do not meet"


def test_two_replicas_sealing_the_same_people_at_once_make_one_key_each(
    postgres_url: str, prefix: str
) -> None:
    kids = [f"PER-race{n:04d}" for n in range(40)]
    phones = [f"139{n:08d}" for n in range(40)]
    start = threading.Barrier(2)
    seen: list[tuple[list[bytes | None], list[str]]] = []

    def replica() -> None:
        with closing(PostgresKeyVault(postgres_url, prefix, MASTER)) as mine:
            sealer = Sealer(mine, MASTER)
            start.wait(timeout=30)
            keys = [mine.key(kid, create=True) for kid in kids]
            people = [sealer.person_id(phone) for phone in phones]
            seen.append((keys, people))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(seen) == 2
    (keys_a, people_a), (keys_b, people_b) = seen
    assert keys_a == keys_b and all(keys_a)
    assert people_a == people_b and len(set(people_a)) == len(phones)
    with psycopg.connect(postgres_url) as db:
        counted = db.execute(f'SELECT count(*) FROM "{schema_name(prefix)}".vault_keys').fetchone()
    assert counted == (len(kids),)


def test_an_erased_key_is_deleted_rewritten_away_and_never_made_again(
    postgres_url: str, prefix: str, vault: PostgresKeyVault
) -> None:
    sealer = Sealer(vault, MASTER)
    for n in range(30):
        sealer.seal(f"PER-other{n:03d}", "x")
    person = sealer.seal_person("王小林", "13800000001")
    table = f'"{schema_name(prefix)}".vault_keys'
    with psycopg.connect(postgres_url, autocommit=True) as db:
        found = db.execute(
            f"SELECT wrapped FROM {table} WHERE kid = %s", (person.person_id,)
        ).fetchone()
        assert found is not None
        wrapped: bytes = found[0]
        db.execute("CHECKPOINT")
        before = table_file(db, table)
        assert before is None or wrapped in before.read_bytes()
    assert sealer.erase(person.person_id)
    assert sealer.open(person.name) == ERASED
    assert sealer.known("13800000001") is None
    with pytest.raises(KeyErased):
        sealer.seal(person.person_id, "again")
    with psycopg.connect(postgres_url, autocommit=True) as db:
        assert db.execute(
            f"SELECT count(*) FROM {table} WHERE kid = %s", (person.person_id,)
        ).fetchone() == (0,)
        db.execute("CHECKPOINT")
        after = table_file(db, table)
        if after is not None:
            assert wrapped not in after.read_bytes(), "no page of the table keeps the key"
    assert Sealer(vault, MASTER).open(Sealer(vault, MASTER).seal("PER-other001", "y")) == "y"


def test_a_key_never_made_and_erased_is_never_made(vault: PostgresKeyVault) -> None:
    assert not vault.erase("PER-nevermade")
    assert vault.key("PER-nevermade", create=True) is None


def test_an_erasure_elsewhere_reaches_a_cached_key_once_it_ages_out(
    postgres_url: str, prefix: str
) -> None:
    clock = Clock()
    cache = KeyCache(max_age_s=5.0, clock=clock)
    with (
        closing(PostgresKeyVault(postgres_url, prefix, MASTER, cache)) as here,
        closing(PostgresKeyVault(postgres_url, prefix, MASTER)) as there,
    ):
        sealed = Sealer(here, MASTER).seal("PER-cached01", "秘密")
        assert there.erase("PER-cached01")
        clock.now = 4.9
        assert Sealer(here, MASTER).open(sealed) == "秘密", "held, not asked for, within its age"
        clock.now = 5.0
        assert Sealer(here, MASTER).open(sealed) == ERASED


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def table_file(db: psycopg.Connection[tuple[object, ...]], table: str) -> Path | None:
    """The table's file on disk, when the server runs on this machine and lets us see it."""
    row = db.execute(
        "SELECT current_setting('data_directory'), pg_relation_filepath(%s::regclass)", (table,)
    ).fetchone()
    if row is None:
        return None
    path = Path(str(row[0])) / str(row[1])
    try:
        path.stat()
    except OSError:
        return None
    return path
