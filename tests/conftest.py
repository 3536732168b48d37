"""Shared fixtures: a copy of the shipped data to break, the session's one full build (through the CLI,
shared by every pytest-xdist worker), and warehouses built into temporary DuckDB files."""
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from filelock import FileLock

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


@dataclass(frozen=True)
class BuiltSite:
    """What `make warehouse` leaves: the published warehouse (its outputs/ and restricted/ beside it),
    the Dagster instance that recorded the run, and what the build printed."""

    root: Path
    warehouse: Path
    dagster_home: Path
    stdout: str
    stderr: str
    outputs_port: int  # the port the outputs' links name: `make ui OUTPUTS_PORT=...` serves them there

    def env(self) -> dict[str, str]:
        """The variables the build ran with (a webserver or a second build of this site needs them)."""
        return _site_env(self.root)


def _site_env(root: Path) -> dict[str, str]:
    return {"DAGSTER_HOME": str(root / "dagster_home"), "FACT22_WAREHOUSE": str(root / "warehouse" / "fact22.duckdb"),
            "FACT22_LANDING_DIR": str(root / "landing"), "GX_ANALYTICS_ENABLED": "False"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _build_site(root: Path) -> None:
    """`make warehouse` from the shipped data into ``root``, as a person runs it, its outputs' links naming a
    free port (the browser tests serve this site there with `make ui`); what it printed kept beside it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACT22_", "DAGSTER_", "MAKE"))} | _site_env(root)
    (root / "dagster_home").mkdir(parents=True)
    (root / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (root / "landing").mkdir()
    port = free_port()
    (root / "outputs_port.txt").write_text(str(port))
    done = subprocess.run(["make", "--no-print-directory", "warehouse", f"OUTPUTS_PORT={port}"], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True)
    (root / "build_stdout.txt").write_text(done.stdout)
    (root / "build_stderr.txt").write_text(done.stderr)
    (root / "build_exit.txt").write_text(str(done.returncode))


def build_once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """The folder ``name``, filled by ``make(folder)`` once per test session: under pytest-xdist the first
    worker to ask makes it while holding a file lock, and every other worker waits and reads the same
    folder (copy what you change).  When ``make`` raises, every worker that asks fails, saying why."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # one folder for every worker of this session
    folder, failed = shared / name, shared / f"{name}.failed"
    with FileLock(str(shared / f"{name}.lock")):
        if not folder.exists() and not failed.exists():
            try:
                make(folder)
            except BaseException as error:
                failed.write_text(f"{type(error).__name__}: {error}")
                shutil.rmtree(folder, ignore_errors=True)
                raise
    if failed.exists():
        pytest.fail(f"{name} could not be made in this session: {failed.read_text()[-3000:]}")
    return folder


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> BuiltSite:
    """The whole warehouse, built once per test session by `make warehouse` (every study, vintage, estimator and
    check) into a temporary site, shared by every pytest-xdist worker (`build_once`) and served to the browser
    tests by `make ui`: tests copy what they change."""
    if shutil.which("make") is None:
        pytest.fail("the session's build runs `make warehouse`: install make")
    root = build_once(tmp_path_factory, "session_build", _build_site)
    stdout, stderr = (root / "build_stdout.txt").read_text(), (root / "build_stderr.txt").read_text()
    assert (root / "build_exit.txt").read_text() == "0", stdout[-3000:] + stderr[-5000:]
    return BuiltSite(root, root / "warehouse" / "fact22.duckdb", root / "dagster_home", stdout, stderr,
                     int((root / "outputs_port.txt").read_text()))


@pytest.fixture(scope="session")
def built_warehouse(built_site) -> Path:
    """The published warehouse file of the session's build (read it; copy it to change it)."""
    return built_site.warehouse


@pytest.fixture
def warehouse_sql(built_warehouse):
    con = duckdb.connect(str(built_warehouse), read_only=True)
    yield lambda sql, params=None: con.execute(sql, params or None).df()
    con.close()
