"""`make test` runs pytest-xdist with `--dist loadgroup`: a module marked `xdist_group` (the casework build, the
browser tests' build and UI) runs in one worker, so its module and session fixtures are made once, not once per
worker.  pytest 9.2 names its items by a structured id that pytest-xdist 3.8 cannot suffix with the group, and
the groups then silently spread over every worker (pyproject.toml pins a pytest that groups)."""
import subprocess
import sys

GROUPED = '''
import os
import pytest

pytestmark = pytest.mark.xdist_group("one_worker")


@pytest.mark.parametrize("i", range(8))
def test_records_its_worker(i, tmp_path_factory):
    (tmp_path_factory.getbasetemp().parent / f"ran_{i}").write_text(os.environ["PYTEST_XDIST_WORKER"])
'''


def test_a_group_runs_in_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    base = tmp_path / "base"
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
                           "-q", "-o", "addopts=", "--rootdir", str(tmp_path), "--basetemp", str(base), str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    workers = {path.read_text() for path in base.glob("ran_*")}
    assert len(list(base.glob("ran_*"))) == 8 and len(workers) == 1, workers
