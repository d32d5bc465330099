"""Where a read model keeps its tables: a SQLite file, or a PostgreSQL schema of its own.

The services write SQLite's SQL with `?` marks; on PostgreSQL it is rewritten
(`dialects.py`) and run through psycopg.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, NestedTransaction, create_engine, event, make_url
from sqlalchemy import exc as sa_exc

from services.common.dialects import POSTGRESQL, SQLITE, adapt, translate
from services.common.settings import Settings

# Which version of its tables each part of a store was built with.
VERSIONS = (
    "CREATE TABLE IF NOT EXISTS schema_versions (part TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)
# Failures of the store itself, not of what was written: the batch is tried again instead.
_SQLITE = ("BUSY", "LOCKED", "IOERR", "FULL", "NOMEM", "READONLY", "CANTOPEN", "CORRUPT", "NOTADB")
SQLITE_ENVIRONMENT = tuple(f"SQLITE_{name}" for name in _SQLITE)
# PostgreSQL's classes of the same: connection, resources, operator, system; and the
# transactions it rolled back to keep others consistent.
POSTGRES_ENVIRONMENT = ("08", "53", "57", "58", "XX", "40")
NAME_MAX = 63


class StoreError(Exception):
    """The store cannot be used as it is: written by a newer version, say."""


class Row:
    """One result row, read by position or by column name."""

    __slots__ = ("_names", "_values")

    def __init__(self, values: Sequence[Any], names: Mapping[str, int]) -> None:
        self._values = tuple(values)
        self._names = names

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._names[key] if isinstance(key, str) else key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:
        """Return the column names, in order."""
        return list(self._names)


class Rows:
    """What a statement returned, read whole."""

    def __init__(self, rows: list[Row]) -> None:
        self._rows = rows

    def fetchone(self) -> Row | None:
        """Return the first row, or None."""
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Row]:
        """Return every row."""
        return self._rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)


class Db:
    """One connection, speaking the SQLite dialect the services write, on either store."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self._raw: sqlite3.Connection | None = None

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        """Run one statement with `?` marks; return its rows, if it has any."""
        if self.dialect == SQLITE:
            # The driver's own statements, inside the transaction the engine opened: a read
            # model applies thousands of events a second, each a few statements.
            cursor = self._sqlite().execute(sql, tuple(args))
            if cursor.description is None:
                return Rows([])
            names = {str(d[0]): i for i, d in enumerate(cursor.description)}
            return Rows([Row(r, names) for r in cursor.fetchall()])
        try:
            result = self.conn.exec_driver_sql(
                translate(self.dialect, sql), adapt(self.dialect, args)
            )
        except sa_exc.DBAPIError as exc:
            raise _unwrapped(exc) from exc
        if not result.returns_rows:
            return Rows([])
        names = {str(k): i for i, k in enumerate(result.keys())}
        return Rows([Row(r, names) for r in result.fetchall()])

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of arguments."""
        if not rows:
            return
        if self.dialect == SQLITE:
            self._sqlite().executemany(sql, [tuple(r) for r in rows])
            return
        try:
            self.conn.exec_driver_sql(
                translate(self.dialect, sql), [adapt(self.dialect, r) for r in rows]
            )
        except sa_exc.DBAPIError as exc:
            raise _unwrapped(exc) from exc

    def script(self, ddl: str) -> None:
        """Run statements separated by semicolons (table definitions)."""
        for statement in ddl.split(";"):
            if statement.strip():
                self.execute(statement)

    def _sqlite(self) -> sqlite3.Connection:
        if self._raw is None:
            raw = self.conn.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection), "a SQLite store's connection"
            self._raw = raw
        return self._raw

    def savepoint(self) -> NestedTransaction:
        """Open a savepoint inside the open transaction."""
        return self.conn.begin_nested()


class Store:
    """A read model's store: one writer connection, readers from a pool."""

    def __init__(self, engine: Engine, reader: Engine, *, key: str) -> None:
        self.dialect = engine.dialect.name
        self._engine = engine
        self._reader = reader
        # Writers of the same schema (replicas) take turns, as SQLite's IMMEDIATE makes them.
        self._lock_key = int.from_bytes(
            hashlib.sha256(key.encode()).digest()[:8], "big", signed=True
        )
        self.writer = Db(engine.connect(), self.dialect)

    def begin(self) -> None:
        """Open the writer's transaction, waiting for any other writer of the same tables."""
        self.writer.conn.begin()
        if self.dialect == POSTGRESQL:
            self.writer.execute("SELECT pg_advisory_xact_lock(?)", (self._lock_key,))

    def commit(self) -> None:
        """Commit the writer's open transaction."""
        self.writer.conn.commit()

    def rollback(self) -> None:
        """Abandon the writer's open transaction, if there is one."""
        self.writer.conn.rollback()

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run a query on a reader connection, outside any write."""
        with self._reader.connect() as conn:
            return Db(conn, self.dialect).execute(sql, args).fetchall()

    def scan(self, sql: str, batch: int = 2000) -> Iterator[tuple[Any, ...]]:
        """Yield a query's rows as it reads them, a batch at a time, outside any write."""
        with self._reader.connect() as conn:
            if self.dialect == POSTGRESQL:
                # A cursor kept on the server, which lives only inside a transaction.
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            streamed = conn.execution_options(stream_results=True, yield_per=batch)
            for row in streamed.exec_driver_sql(translate(self.dialect, sql)):
                yield tuple(row)

    def json_value(self, value: Any) -> Any:
        """Return a value as a JSON field of a state compares with it: as text on PostgreSQL."""
        if self.dialect == POSTGRESQL and not isinstance(value, str):
            return "true" if value is True else "false" if value is False else str(value)
        return value

    def prepare(self, parts: Mapping[str, tuple[int, str]]) -> bool:
        """Create each part's tables at its version; return whether older ones were dropped.

        A store written by an older version is emptied, so the read model is built again from
        offset 0; one written by a newer version is refused.
        """
        self.begin()
        try:
            self.writer.execute(VERSIONS)
            stored = {r[0]: int(r[1]) for r in self.writer.execute("SELECT * FROM schema_versions")}
            newer = [p for p, (v, _) in parts.items() if stored.get(p, 0) > v]
            if newer:
                raise StoreError(f"written by a newer version of the ledger: {', '.join(newer)}")
            tables = set(self.tables()) - {"schema_versions"}
            stale = bool(tables) and any(stored.get(p, 0) < v for p, (v, _) in parts.items())
            if stale:
                for table in sorted(tables):
                    cascade = " CASCADE" if self.dialect == POSTGRESQL else ""
                    self.writer.execute(f'DROP TABLE IF EXISTS "{table}"{cascade}')
            for part, (version, ddl) in parts.items():
                self.writer.script(ddl)
                self.writer.execute(
                    "INSERT INTO schema_versions (part, version) VALUES (?, ?)"
                    " ON CONFLICT (part) DO UPDATE SET version = excluded.version",
                    (part, version),
                )
        except BaseException:
            self.rollback()
            raise
        self.commit()
        return stale

    def tables(self) -> list[str]:
        """Return the names of this store's tables."""
        if self.dialect == POSTGRESQL:
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        return [str(r[0]) for r in self.writer.execute(sql)]

    def close(self) -> None:
        """Close every connection."""
        self.writer.conn.close()
        self._engine.dispose()
        self._reader.dispose()


def open_store(settings: Settings, name: str) -> Store:
    """Open a service's store: its SQLite file under var/data, or its schema on DATABASE_URL."""
    if settings.database_url:
        return postgres_store(settings.database_url, schema_name(settings.topic_prefix, name))
    return sqlite_store(settings.data_dir / f"{name}.sqlite")


def existing_store(settings: Settings, name: str) -> Store | None:
    """Open a service's store to read it, only if it is there: nothing is created."""
    if not settings.database_url:
        path = settings.data_dir / f"{name}.sqlite"
        return sqlite_store(path) if path.exists() else None
    schema = schema_name(settings.topic_prefix, name)
    probe = postgres_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        with probe.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).first()
    finally:
        probe.dispose()
    return _schema_store(settings.database_url, schema) if found else None


def sqlite_store(path: Path | str) -> Store:
    """Open (and create) a SQLite file as a store."""
    url = f"sqlite:///{path}"
    args = {"check_same_thread": False, "timeout": 5.0}
    writer = create_engine(url, connect_args=args, pool_size=1, max_overflow=0)
    reader = create_engine(url, connect_args=args, pool_size=4, max_overflow=8)
    for engine in (writer, reader):
        event.listen(engine, "connect", _sqlite_connected)
    # The driver's own transactions would not cover savepoints: the writer says BEGIN itself.
    event.listen(writer, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return Store(writer, reader, key=str(path))


def postgres_store(url: str, schema: str) -> Store:
    """Open a schema on a PostgreSQL server as a store, creating the schema if need be."""
    bootstrap = postgres_engine(url, pool_size=1, max_overflow=0)
    try:
        with bootstrap.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.commit()
    finally:
        bootstrap.dispose()
    return _schema_store(url, schema)


def _schema_store(url: str, schema: str) -> Store:
    # Few connections a process: a server's connections are shared by every replica.
    writer = postgres_engine(url, schema=schema, pool_size=1, max_overflow=0)
    reader = postgres_engine(url, schema=schema).execution_options(isolation_level="AUTOCOMMIT")
    return Store(writer, reader, key=schema)


def postgres_engine(
    url: str, *, schema: str | None = None, pool_size: int = 2, max_overflow: int = 2
) -> Engine:
    """An engine on a PostgreSQL server through psycopg, its tables looked up in `schema`."""
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    # Values are bound in the client, so an untyped `? IS NULL` reads as it does in SQLite.
    args: dict[str, Any] = {"cursor_factory": psycopg.ClientCursor}
    if schema is not None:
        args["options"] = f"-c search_path={schema}"
    return create_engine(
        parsed,
        connect_args=args,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        # Opened afresh now and then, as proxies on the way drop connections long idle.
        pool_recycle=1800,
    )


def schema_name(prefix: str, service: str) -> str:
    """The PostgreSQL schema of a service in a deployment: its topic prefix and its name."""
    name = re.sub(r"[^a-z0-9_]", "_", f"{prefix}{service}".lower())
    if not name[:1].isalpha():
        name = f"s_{name}"
    if len(name) > NAME_MAX:
        name = f"{name[: NAME_MAX - 9]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return name


def environmental(exc: BaseException) -> bool:
    """Whether an error is the store's own failure, not one of the statement or its data."""
    if isinstance(exc, sqlite3.Error):
        return str(getattr(exc, "sqlite_errorname", "")).startswith(SQLITE_ENVIRONMENT)
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate or ""
        lost = isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
        return lost or state[:2] in POSTGRES_ENVIRONMENT
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


def _sqlite_connected(dbapi: Any, _record: Any) -> None:
    dbapi.isolation_level = None
    dbapi.execute("PRAGMA journal_mode=WAL")
    dbapi.execute("PRAGMA synchronous=NORMAL")
    dbapi.execute("PRAGMA busy_timeout=5000")


def _unwrapped(exc: sa_exc.DBAPIError) -> BaseException:
    """The driver's own error, which names what failed as the services have always seen it."""
    return exc.orig if isinstance(exc.orig, BaseException) else exc
