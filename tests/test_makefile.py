"""The Makefile works from a checkout whose path contains a space, and `make ui` serves the published
outputs beside the UI and stops serving them when the UI stops."""
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
# Runs while the outputs server starts, as the real UI would.
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do [ -f "$DAGSTER_HOME/served" ] && break; sleep 0.2; done
"""
FAKE_PYTHON = """#!/bin/sh
# Stands in for the venv's python: names the outputs folder, or serves it (until it is stopped).
case "$1" in
  -c) echo "$PWD/warehouse/outputs" ;;
  -m) echo "$$ $*" > "$DAGSTER_HOME/served"; exec sleep 60 ;;
esac
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_ui_in_a_path_with_a_space(tmp_path):
    repo = tmp_path / "my projects" / "fact22 warehouse"
    (repo / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "Makefile", repo)
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    for name, script in (("dagster", FAKE_DAGSTER), ("python", FAKE_PYTHON)):
        (repo / ".venv" / "bin" / name).write_text(script)
        (repo / ".venv" / "bin" / name).chmod(0o755)
    time.sleep(0.01)
    (repo / ".venv" / ".installed-stamp").touch()  # newer than pyproject.toml: no install
    env = {k: v for k, v in os.environ.items() if k not in {"DAGSTER_HOME", "MAKEFLAGS", "MAKELEVEL"}}
    env.pop("FACT22_OUTPUTS_URL", None)
    done = subprocess.run(["make", "ui", "UI_PORT=3456"], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (repo / ".dagster_home" / "called").read_text().startswith("dagster dev --host 127.0.0.1 --port 3456")
    # The published outputs folder, served on 127.0.0.1 where the UI's links point, and no longer once the UI ends.
    pid, served = (repo / ".dagster_home" / "served").read_text().split(" ", 1)
    assert served.split() == ["-m", "http.server", "--bind", "127.0.0.1", "--directory"] + \
        str(repo / "warehouse" / "outputs").split() + ["3001"], served
    assert (repo / "warehouse" / "outputs").is_dir() and "published outputs: http://127.0.0.1:3001/" in done.stdout
    deadline = time.monotonic() + 10
    while _alive(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) is not serving.
    with open(f"/proc/{pid}/stat") as status:
        return status.read().split(") ", 1)[1][0] != "Z"
