"""Settings are checked before anything runs: a wrong one is one line naming
the variable and the path, and the build exits non-zero without a stack trace."""
import os
import subprocess
import sys

from fact22_assets import settings
from fact22_assets.settings import REPO_ROOT


def test_shipped_settings_have_no_problems(monkeypatch, tmp_path):
    for name in ("FACT22_DATA_DIR", "FACT22_STUDIES", "FACT22_CASEWORK_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FACT22_WAREHOUSE", str(tmp_path / "w" / "fact22.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert settings.problems() == []


def test_empty_data_folder_is_named_with_its_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("FACT22_DATA_DIR", str(tmp_path))
    assert settings.problems() == [f"FACT22_DATA_DIR={tmp_path}: the folder is empty; it must hold sources.yaml and "
                                   "the published files it lists (the repository's data/ folder does)"]
    monkeypatch.setenv("FACT22_DATA_DIR", str(tmp_path / "missing"))
    assert settings.problems() == [f"FACT22_DATA_DIR={tmp_path / 'missing'}: no such folder"]


def test_missing_studies_file_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv("FACT22_DATA_DIR", raising=False)
    monkeypatch.setenv("FACT22_STUDIES", str(tmp_path / "studies.yaml"))
    assert settings.problems() == [f"FACT22_STUDIES={tmp_path / 'studies.yaml'}: no such file (the studies to evaluate)"]


def test_build_with_an_empty_data_folder_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACT22_", "DAGSTER_"))}
    env |= {"FACT22_DATA_DIR": str(tmp_path / "empty"), "FACT22_WAREHOUSE": str(tmp_path / "w" / "fact22.duckdb"),
            "DAGSTER_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO_ROOT)}
    (tmp_path / "empty").mkdir()
    done = subprocess.run([sys.executable, "-m", "fact22_assets.build"], env=env, capture_output=True, text=True,
                          timeout=600, cwd=REPO_ROOT)  # a bound on a hang, not a speed
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"settings: FACT22_DATA_DIR={tmp_path / 'empty'}: the folder is empty; it "
                                        "must hold sources.yaml and the published files it lists (the repository's "
                                        "data/ folder does)"]
    assert not (tmp_path / "home").exists()  # nothing ran
