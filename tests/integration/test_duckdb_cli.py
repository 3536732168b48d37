"""The published file opens in a DuckDB 1.x client: the pinned `duckdb` CLI
(pip `duckdb-cli`) that `make sql` starts, read-only, runs the cookbook."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fact22_assets.settings import REPO_ROOT

CLI = Path(sys.executable).parent / "duckdb"
COOKBOOK = REPO_ROOT / "docs" / "cookbook.md"
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120)


def test_the_cli_in_the_environment_is_duckdb_1x():
    assert CLI.exists(), "pip install the project: duckdb-cli is one of its dependencies"
    assert _cli("--version").stdout.startswith("v1."), _cli("--version").stdout


@pytest.mark.parametrize("number", range(len(SQL_BLOCK.findall(COOKBOOK.read_text(encoding="utf-8")))))
def test_the_1x_cli_opens_the_published_file_and_answers_the_cookbook(built_warehouse, number):
    query = SQL_BLOCK.findall(COOKBOOK.read_text(encoding="utf-8"))[number]
    done = _cli("-readonly", "-json", str(built_warehouse), "-c", query)
    assert done.returncode == 0 and "Error" not in done.stderr, done.stderr
    rows = json.loads(done.stdout or "[]")
    assert len(rows) > 0, query


def test_the_1x_cli_reads_the_same_numbers_as_duckdb_2(built_warehouse, warehouse_sql):
    query = ("SELECT round(sum(cin_per_10k_children), 6) AS s, count(*) AS n FROM marts.cin_rates "
             "WHERE geographic_level = 'Local authority'")
    done = _cli("-readonly", "-json", str(built_warehouse), "-c", query)
    assert done.returncode == 0, done.stderr
    expected = warehouse_sql(query).iloc[0]
    assert json.loads(done.stdout) == [{"s": float(expected.s), "n": int(expected.n)}]
