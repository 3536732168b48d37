"""Shared fixtures: a copy of the shipped data to break, and warehouses built
into temporary DuckDB files."""
import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from fact22_assets.settings import REPO_ROOT

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def run_assets(monkeypatch, data_dir: Path, warehouse: Path, keys=None) -> dg.ExecuteInProcessResult:
    """Materialise (a selection of) the asset graph, with its checks, into ``warehouse``."""
    monkeypatch.setenv("FACT22_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FACT22_WAREHOUSE", str(warehouse))
    from fact22_assets.definitions import defs

    job = defs().resolve_implicit_global_asset_job_def()
    if keys is None:  # every asset a refresh builds: the national placebo study is its own (partitioned) job
        selection = [k for k in job.asset_layer.executable_asset_keys if k.path[0] != "calibration"]
    else:
        selection = [dg.AssetKey(k.split(".")) for k in keys]
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                                  asset_selection=selection)


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    """Check name -> its evaluation, for every check the run evaluated."""
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def step_errors(result: dg.ExecuteInProcessResult) -> list[str]:
    """Each failed step's error with its causes (Dagster wraps the asset's own error)."""
    messages = []
    for event in result.all_events:
        if event.is_step_failure:
            error, parts = event.event_specific_data.error, []
            while error is not None:
                parts.append(error.message.strip())
                error = error.cause
            messages.append(" <- ".join(parts))
    return messages


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A private copy of data/ that a test may break."""
    target = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "data", target, ignore=shutil.ignore_patterns("synthetic"))
    return target


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Path:
    """The whole warehouse, built once from the shipped data into a temporary file."""
    warehouse = tmp_path_factory.mktemp("warehouse") / "fact22.duckdb"
    with pytest.MonkeyPatch.context() as monkeypatch:
        result = run_assets(monkeypatch, REPO_ROOT / "data", warehouse)
    failed = [name for name, e in check_evaluations(result).items()
              if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    assert result.success, step_errors(result)
    assert not failed, failed
    return warehouse


@pytest.fixture
def warehouse_sql(built_warehouse):
    con = duckdb.connect(str(built_warehouse), read_only=True)
    yield lambda sql, params=None: con.execute(sql, params or None).df()
    con.close()
