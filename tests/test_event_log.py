"""The project instance's event log storage (glue/event_log.py) and the dagster.yaml that names it (build.py).

What it must do: record a run as Dagster's own consolidated storage does, in the same file (a run written by
either class is read whole by the other: the UI of an older instance, a webserver started before); build its
engine once per process, not once per event; share the file with another process writing at the same time;
and be what a new project instance, or one configured by this project before, is made with."""
import os
import sqlite3
import subprocess
import sys

import dagster as dg
import pytest
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage

from fact22_assets import build
from fact22_assets.glue import event_log
from fact22_assets.glue.event_log import KeptEngineSqliteEventLogStorage


@dg.asset
def upstream() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset(deps=[upstream])
def downstream() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 2})


@dg.asset_check(asset=downstream)
def downstream_rows() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, metadata={"checked": 2})


def _project_instance(monkeypatch, home) -> dg.DagsterInstance:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return build.project_instance()


def _materialise(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([upstream, downstream, downstream_rows], instance=instance)
    assert result.success
    return result.run_id


def _recorded(instance: dg.DagsterInstance, run_id: str) -> tuple:
    """What the UI shows of the run: its materialisations (with metadata), its check result, its events."""
    rows = {key: instance.get_latest_materialization_event(dg.AssetKey(key)).asset_materialization.metadata["rows"].value
            for key in ("upstream", "downstream")}
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("downstream"), "downstream_rows")])
    [execution] = check.values()
    return rows, execution.run_id, execution.status.value, _types(instance, run_id)


def test_a_new_project_instance_records_a_run_through_the_kept_engine_as_dagster_s_own_class_reads_it(
        monkeypatch, tmp_path):
    instance = _project_instance(monkeypatch, tmp_path / "home")
    assert type(instance.event_log_storage) is KeptEngineSqliteEventLogStorage
    run_id = _materialise(instance)
    recorded = _recorded(instance, run_id)
    assert recorded[0] == {"upstream": 3, "downstream": 2} and recorded[1:3] == (run_id, "SUCCEEDED")
    assert "ASSET_CHECK_EVALUATION" in recorded[3] and recorded[3][-1] == "PIPELINE_SUCCESS"
    instance.dispose()

    # the same files read by Dagster's class: what a webserver configured before this storage existed shows
    (tmp_path / "home" / "dagster.yaml").write_text(build._earlier_instance_config(tmp_path / "home") + "# kept\n")
    earlier = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    assert type(earlier.event_log_storage) is ConsolidatedSqliteEventLogStorage
    assert _recorded(earlier, run_id) == recorded
    # ...and a run written by Dagster's class is read whole by the kept engine
    second = _materialise(earlier)
    earlier.dispose()
    (tmp_path / "home" / "dagster.yaml").write_text(build.instance_config(tmp_path / "home"))
    again = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    assert _recorded(again, second)[:3] == (recorded[0], second, "SUCCEEDED")
    assert _types(again, second) == recorded[3] and _types(again, run_id) == recorded[3]


def _types(instance, run_id):
    return [e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.dagster_event]


def test_the_engine_is_built_once_per_process_not_per_event(monkeypatch, tmp_path):
    built = []
    real = event_log.create_engine
    monkeypatch.setattr(event_log, "create_engine", lambda *a, **k: built.append(a) or real(*a, **k))
    instance = _project_instance(monkeypatch, tmp_path / "home")
    _materialise(instance)
    _materialise(instance)
    assert len(built) == 1
    with instance.event_log_storage._engine().connect() as conn:
        # commits in the WAL are not fsynced one by one
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_forked_child_builds_its_own_engine_and_leaves_the_parent_s(monkeypatch, tmp_path):
    instance = _project_instance(monkeypatch, tmp_path / "home")
    first = _materialise(instance)
    parent_engine = instance.event_log_storage._engine()
    pid = os.fork()
    if pid == 0:  # the child: its own engine, and a run recorded through it
        code = 1
        try:
            code = 0 if instance.event_log_storage._engine() is not parent_engine and _materialise(instance) else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert instance.event_log_storage._engine() is parent_engine
    third = _materialise(instance)  # the parent's pooled connections still work after the child's exit
    runs = {r.run_id for r in instance.get_runs()}
    assert first in runs and third in runs and len(runs) == 3


_WRITER = """
import sys
import dagster as dg
from dagster._core.events.log import EventLogEntry
instance = dg.DagsterInstance.from_config(sys.argv[1])
for n in range(int(sys.argv[2])):
    instance.event_log_storage.store_event(EventLogEntry(
        error_info=None, level=20, user_message=f"other {n}", run_id="other", timestamp=0.0))
"""


def test_another_process_writes_the_same_file_while_the_kept_connections_are_open(monkeypatch, tmp_path):
    home = tmp_path / "home"
    instance = _project_instance(monkeypatch, home)
    storage = instance.event_log_storage
    from dagster._core.events.log import EventLogEntry

    storage.store_event(EventLogEntry(error_info=None, level=20, user_message="mine 0", run_id="mine", timestamp=0.0))
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(home), "150"])
    for n in range(1, 150):
        storage.store_event(EventLogEntry(error_info=None, level=20, user_message=f"mine {n}", run_id="mine",
                                          timestamp=0.0))
    assert writer.wait(timeout=300) == 0
    assert [e.user_message for e in instance.all_logs("mine")] == [f"mine {n}" for n in range(150)]
    assert [e.user_message for e in instance.all_logs("other")] == [f"other {n}" for n in range(150)]
    instance.dispose()
    with sqlite3.connect(home / "history" / "consolidated" / "event_log.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize("written", ["earlier", "own"])
def test_an_instance_keeps_its_configuration_unless_this_project_wrote_it_before(monkeypatch, tmp_path, written):
    home = tmp_path / "home"
    home.mkdir()
    text = (build._earlier_instance_config(home) if written == "earlier"
            else "telemetry:\n  enabled: false\n")  # a configuration of the user's own (the tests' sites use it)
    (home / "dagster.yaml").write_text(text)
    instance = _project_instance(monkeypatch, home)
    now = (home / "dagster.yaml").read_text()
    if written == "earlier":
        assert now == build.instance_config(home)
        assert type(instance.event_log_storage) is KeptEngineSqliteEventLogStorage
    else:
        assert now == text
        assert type(instance.event_log_storage) is not KeptEngineSqliteEventLogStorage
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(".dagster.yaml")) == []
