"""The build keeps the Dagster instance's SQLite files open while a run writes events (build.sqlite_kept_open).

What it must do: while kept open, a connection that writes and closes leaves its commit in the WAL (no
checkpoint per event); once let go, the WAL is checkpointed into the database and every row is there."""
import sqlite3
from types import SimpleNamespace

from fact22_assets.build import sqlite_kept_open


def _wal_database(path):
    path.parent.mkdir(parents=True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL").fetchall()
    connection.execute("CREATE TABLE event_logs (id INTEGER PRIMARY KEY, event TEXT)")
    connection.commit()
    connection.close()


def _write_like_dagster(path, event):
    """One event as Dagster's NullPool storage writes it: connect, insert, commit, close."""
    connection = sqlite3.connect(path)
    connection.execute("INSERT INTO event_logs (event) VALUES (?)", (event,))
    connection.commit()
    connection.close()


def test_a_closed_writer_does_not_checkpoint_while_kept_open(tmp_path):
    database = tmp_path / "history" / "consolidated" / "event_log.db"
    _wal_database(database)
    wal = database.with_name(database.name + "-wal")
    _write_like_dagster(database, "unkept")
    assert not wal.exists()  # without a kept connection, the last close checkpoints and deletes the WAL

    per_run = tmp_path / "history" / "runs" / "run-1.db"  # an instance with a file per run makes it with the run
    with sqlite_kept_open(SimpleNamespace(root_directory=str(tmp_path))) as keep:
        assert keep() == [database]
        for n in range(3):
            _write_like_dagster(database, f"event {n}")
            assert wal.exists() and wal.stat().st_size > 0  # the commit is in the WAL, not checkpointed
        _wal_database(per_run)
        assert keep() == [database, per_run]
        _write_like_dagster(per_run, "the run's event")
        assert per_run.with_name("run-1.db-wal").exists()

    assert not wal.exists() and not per_run.with_name("run-1.db-wal").exists()  # let go: checkpointed once
    rows = sqlite3.connect(database).execute("SELECT event FROM event_logs ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["unkept", "event 0", "event 1", "event 2"]
    assert sqlite3.connect(per_run).execute("SELECT event FROM event_logs").fetchall() == [("the run's event",)]


def test_an_instance_without_a_folder_keeps_nothing():
    with sqlite_kept_open(SimpleNamespace()) as keep:
        assert keep() == []
