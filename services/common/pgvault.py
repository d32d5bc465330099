"""The shared key vault on PostgreSQL: every replica of every service sees the same keys.

Each deployment keeps its tables in a schema named by its topic prefix, so deployments
sharing a server never meet. An erased key's row is deleted and the table rewritten at
once (VACUUM FULL), so no page of the table still holds the wrapped key.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    LargeBinary,
    MetaData,
    Table,
    Text,
    delete,
    exists,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from services.common import logging as logs
from services.common import store
from services.common.vault import KeyCache, VaultUnavailable, Wrapping

log = logs.get(__name__)
# Held while the schema is made, so replicas starting together do not race to make it.
SCHEMA_LOCK = 0x7A1_7A1
# How long an erasure waits to rewrite the table before it leaves that to the next one.
REWRITE_WAIT = "10s"


def schema_name(topic_prefix: str) -> str:
    """The schema a deployment's vault lives in, named by its topic prefix (`<prefix>vault`)."""
    return store.schema_name(topic_prefix, "vault")


@contextmanager
def answering() -> Iterator[None]:
    """Say that the vault is unreachable as such, so callers answer 503 and not 500."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise VaultUnavailable(type(exc.orig).__name__) from exc


def _tables(schema: str) -> tuple[MetaData, Table, Table, Table]:
    meta = MetaData(schema=schema)
    keys = Table(
        "vault_keys",
        meta,
        Column("kid", Text, primary_key=True),
        Column("wrapped", LargeBinary, nullable=False),
        Column("wrap", Text, nullable=False),
        Column("made_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    # What was erased, by id only, so that an erased key is never made again.
    erased = Table(
        "vault_erased",
        meta,
        Column("kid", Text, primary_key=True),
        Column("erased_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    people = Table(
        "vault_people",
        meta,
        Column("lookup", Text, primary_key=True),
        Column("person_id", Text, nullable=False, index=True),
    )
    return meta, keys, erased, people


class PostgresKeyVault:
    """Data keys wrapped under a key derived from the master secret, in one shared database."""

    def __init__(
        self, url: str, topic_prefix: str, master_key: str, cache: KeyCache | None = None
    ) -> None:
        self.schema = schema_name(topic_prefix)
        self._engine: Engine = store.postgres_engine(url, pool_size=2, max_overflow=4)
        self._meta, self._keys, self._erased, self._people = _tables(self.schema)
        self._wrapping = Wrapping(master_key)
        self._cache = cache if cache is not None else KeyCache()
        self._lock = threading.Lock()
        with self._engine.begin() as db:
            db.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK)))
            db.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            self._meta.create_all(db)

    def _hold(self, db: Connection, kid: str) -> None:
        # Making and erasing one key take turns, so an erasure can never be outrun by a make.
        db.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"{self.schema}/{kid}", 0)))
        )

    def _read(self, db: Connection, kid: str) -> bytes | None:
        row = db.execute(
            select(self._keys.c.wrapped, self._keys.c.wrap).where(self._keys.c.kid == kid)
        ).first()
        return None if row is None else self._wrapping.unwrap(kid, row.wrapped, row.wrap)

    def key(self, kid: str, *, create: bool) -> bytes | None:
        """Return the data key, creating it if asked; None once erased or never made."""
        with self._lock:
            cached = self._cache.get(kid)
        if cached is not None:
            return cached
        with answering():
            with self._engine.connect() as db:
                key = self._read(db, kid)
            if key is None and create:
                key = self._make(kid)
        if key is not None:
            with self._lock:
                self._cache.put(kid, key)
        return key

    def _make(self, kid: str) -> bytes | None:
        """Make the key unless it was erased; return the one kept."""
        with self._engine.begin() as db:
            self._hold(db, kid)
            not_erased = ~exists().where(self._erased.c.kid == kid)
            wrapped = self._wrapping.fresh(kid)
            made = select(literal(kid), literal(wrapped), literal(self._wrapping.current)).where(
                not_erased
            )
            db.execute(
                insert(self._keys)
                .from_select(["kid", "wrapped", "wrap"], made)
                .on_conflict_do_nothing(index_elements=["kid"])
            )
            # Read back: when two replicas make the same key at once, both use the one kept.
            return self._read(db, kid)

    def person(self, lookup: str, earlier: str | None = None) -> str:
        """Return the person id filed under a keyed lookup, filing one if none is.

        The one filed is `earlier` while that id's key lives (cases from before lookups were
        filed), else a fresh random id.
        """
        with answering(), self._engine.begin() as db:
            live = (
                earlier
                and db.execute(select(self._keys.c.kid).where(self._keys.c.kid == earlier)).first()
            )
            fresh = earlier if live else f"PER-{uuid.uuid4().hex[:20]}"
            db.execute(
                insert(self._people)
                .values(lookup=lookup, person_id=fresh)
                .on_conflict_do_nothing(index_elements=["lookup"])
            )
            filed: str = db.execute(
                select(self._people.c.person_id).where(self._people.c.lookup == lookup)
            ).scalar_one()
            return filed

    def known(self, lookup: str) -> str | None:
        """Return the person id filed under a keyed lookup, or None; files nothing."""
        with answering(), self._engine.connect() as db:
            found = db.execute(
                select(self._people.c.person_id).where(self._people.c.lookup == lookup)
            ).scalar()
        return None if found is None else str(found)

    def erase(self, kid: str) -> bool:
        """Destroy a data key and the lookups leading to it; return whether one existed."""
        with self._lock:
            self._cache.drop(kid)
        with answering(), self._engine.begin() as db:
            self._hold(db, kid)
            db.execute(insert(self._erased).values(kid=kid).on_conflict_do_nothing())
            existed = db.execute(delete(self._keys).where(self._keys.c.kid == kid)).rowcount > 0
            dropped = db.execute(delete(self._people).where(self._people.c.person_id == kid))
        if existed or dropped.rowcount:
            self._rewrite()
        return existed

    def _rewrite(self) -> None:
        """Rewrite the tables erased from, so no page keeps a deleted row's bytes."""
        # A plain VACUUM frees a deleted row's space but may leave its bytes in the page until
        # reused; the full one writes the live rows to a new file and removes the old.
        tables = ", ".join(f'"{self.schema}"."{t.name}"' for t in (self._keys, self._people))
        try:
            with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
                db.execute(text(f"SET lock_timeout = '{REWRITE_WAIT}'"))
                try:
                    db.execute(text(f"VACUUM FULL {tables}"))
                finally:
                    db.execute(text("RESET lock_timeout"))
        except DBAPIError as exc:
            # The key is gone for every reader already; the next erasure rewrites the table.
            log.warning("vault.rewrite_deferred", error=type(exc.orig).__name__)

    def close(self) -> None:
        """Let go of the vault's connections."""
        self._engine.dispose()
