"""The project instance's event log storage: Dagster's consolidated SQLite event log, with one engine per process.

Dagster's ``ConsolidatedSqliteEventLogStorage`` builds a new SQLAlchemy engine (``NullPool``) for every
connection it opens, i.e. for every event a run writes and again for its asset and check records.  A new
engine also starts with an empty statement cache, so every insert is compiled again.  Sampled over a cold
build, building engines, connecting and compiling cost about two thirds of Dagster's own time.  This storage
keeps one engine per process, whose pool holds the SQLite connections open between uses.

Same database, same schema, same transactions: each use is still its own transaction, committed when it
ends, and the pool rolls back whatever a connection returns with.  Other processes (``make ui``'s webserver
and daemon, a second build) read and write the same file as before, through SQLite's WAL and its 30 s busy
timeout; an idle pooled connection holds no lock.  A forked child never uses its parent's connections: it
makes its own engine.  Its commits are not synced one by one (``_wal_synchronous_normal``).
"""
from __future__ import annotations

import os
from contextlib import contextmanager

from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool


def _wal_synchronous_normal(dbapi_connection, _record) -> None:
    """SQLite's recommended setting in WAL mode: a commit appends to the WAL without an fsync of its own (the
    WAL is synced when it is checkpointed).  The database can never be corrupted by it; a power cut or an OS
    crash (not a crash of the process) may lose the last events written before it.  SQLite's default, FULL,
    which Dagster keeps, fsyncs each of a build's ~800 commits."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class KeptEngineSqliteEventLogStorage(ConsolidatedSqliteEventLogStorage):
    """``ConsolidatedSqliteEventLogStorage`` (same configuration, ``base_dir``), one engine per process."""

    _engine_and_pid: tuple[Engine, int] | None = None

    def _engine(self) -> Engine:
        if self._engine_and_pid is None or self._engine_and_pid[1] != os.getpid():
            if self._engine_and_pid is not None:
                # forked: leave the parent's connections to the parent (closing them here would break its own)
                self._engine_and_pid[0].dispose(close=False)
            # QueuePool with unlimited overflow: one connection kept per concurrent user (the webserver's
            # threads each check one out), none ever waits for the pool; five kept idle at most.
            engine = create_engine(self._conn_string, poolclass=QueuePool, pool_size=5, max_overflow=-1,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                                                 "check_same_thread": False})
            event.listen(engine, "connect", _wal_synchronous_normal)
            self._engine_and_pid = (engine, os.getpid())
        return self._engine_and_pid[0]

    @contextmanager
    def _connect(self):
        with self._engine().connect() as conn, conn.begin():
            yield conn

    def has_table(self, table_name: str) -> bool:
        with self._engine().connect() as conn:
            return bool(conn.dialect.has_table(conn, table_name))

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        # Dagster inspects the asset key table's columns again for every asset event.  A column, once
        # there, stays (a migration only adds), so only its presence is remembered.
        present = self.__dict__.setdefault("_asset_key_columns_present", set())
        if column_name not in present and super()._has_asset_key_col_on_connection(conn, column_name):
            present.add(column_name)
        return column_name in present

    def dispose(self) -> None:
        super().dispose()
        if self._engine_and_pid is not None and self._engine_and_pid[1] == os.getpid():
            self._engine_and_pid[0].dispose()
        self._engine_and_pid = None
