"""The Makefile works from a checkout whose path contains a space."""
import os
import shutil
import subprocess
import time

import pytest

from fact22_assets.settings import REPO_ROOT

FAKE_DAGSTER = """#!/bin/sh
# Stands in for `dagster dev`: Dagster refuses a DAGSTER_HOME that is not a folder.
[ -d "$DAGSTER_HOME" ] || { echo "DAGSTER_HOME $DAGSTER_HOME is not a folder" >&2; exit 3; }
echo "dagster $*" > "$DAGSTER_HOME/called"
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_ui_in_a_path_with_a_space(tmp_path):
    repo = tmp_path / "my projects" / "fact22 warehouse"
    (repo / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "Makefile", repo)
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    dagster = repo / ".venv" / "bin" / "dagster"
    dagster.write_text(FAKE_DAGSTER)
    dagster.chmod(0o755)
    time.sleep(0.01)
    (repo / ".venv" / ".installed-stamp").touch()  # newer than pyproject.toml: no install
    env = {k: v for k, v in os.environ.items() if k not in {"DAGSTER_HOME", "MAKEFLAGS", "MAKELEVEL"}}
    done = subprocess.run(["make", "ui"], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (repo / ".dagster_home" / "called").read_text().startswith("dagster dev")
