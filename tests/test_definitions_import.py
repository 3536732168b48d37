"""Loading the code location imports only what describing the graph needs.

`dagster definitions validate`, the UI's code server and every build start by
loading the definitions; their cost (<= 2 s, measured by
benchmarks/build_benchmark.py, never here) stays low only while the heavy
libraries an asset needs when it runs are imported when it runs.  This test
says which library crept back into the load, not how long it took.
"""
import json
import os
import subprocess
import sys

import pytest

# Each is imported by the step (or check) that uses it, never by loading the definitions.
RUN_TIME_ONLY = ["scipy", "statsmodels", "matplotlib", "great_expectations", "numba", "sklearn", "plotly",
                 "openpyxl", "xlrd", "lxml"]

LOAD = ("import gc, json, sys\n"
        "from fact22_assets.definitions import defs\n"
        "defs().resolve_asset_graph()\n"
        f"print(json.dumps({{'imported': sorted(m for m in {RUN_TIME_ONLY!r} if m in sys.modules),\n"
        "                  'collecting': gc.isenabled(), 'frozen': gc.get_freeze_count()}))\n")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> dict:
    """What one load of the definitions in a new process leaves behind."""
    site = tmp_path_factory.mktemp("load")
    env = {**os.environ, "FACT22_WAREHOUSE": str(site / "warehouse" / "fact22.duckdb"),
           "GX_ANALYTICS_ENABLED": "False"}
    done = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_loading_the_definitions_imports_no_run_time_library(loaded):
    assert loaded["imported"] == []


def test_the_loaded_definitions_are_frozen_out_of_the_collector_and_it_collects_again(loaded):
    """core/long_lived.py: paused while the definitions are made, never left off for the run that follows."""
    assert loaded["collecting"] is True
    assert loaded["frozen"] > 100_000  # Dagster's modules, ours and the definitions: scanned by no collection


def test_the_written_out_normal_quantile_is_scipys():
    from scipy import stats

    from fact22_assets.core.did.synthetic_did import Z_95

    assert Z_95 == float(stats.norm.ppf(0.975))
