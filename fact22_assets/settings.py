"""Where things live.  Paths resolve from this package, never from the
working directory; environment variables are read when asked, not on import."""
from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = REPO_ROOT / "sql"

# The on-disk format the warehouse is written in.  DuckDB 2.x writes storage
# version 69 by default, which no 1.x client opens; "v0.10.0" writes storage
# version 64, the oldest DuckDB can write and the one every client from 0.10.0
# through 1.5 (and 2.x) reads.  It is fixed when a file is created.
STORAGE_VERSION = "v0.10.0"
DUCKDB_CONFIG = {"storage_compatibility_version": STORAGE_VERSION}


def data_dir() -> Path:
    return Path(os.environ.get("FACT22_DATA_DIR", REPO_ROOT / "data"))


def warehouse_path() -> Path:
    return Path(os.environ.get("FACT22_WAREHOUSE", REPO_ROOT / "warehouse" / "fact22.duckdb"))


def build_root() -> Path:
    """Where refreshes build and validate before anything is published
    (write-audit-publish): each run in its own folder ``build/<run_id>/``,
    so two runs never share a build file."""
    return warehouse_path().parent / "build"


def lock_path() -> Path:
    """The lock one refresh holds for its whole run (core/locking.py)."""
    return warehouse_path().parent / ".refresh.lock"


def lock_wait_seconds() -> float:
    """How long a second refresh waits for the first before giving up."""
    return float(os.environ.get("FACT22_LOCK_WAIT_SECONDS", "300"))


def publication_manifest_path() -> Path:
    """What the last publication was built from (core/fingerprint.py), beside the published file."""
    published = warehouse_path()
    return published.with_name(published.name + ".publication.json")


def landing_dir() -> Path:
    """Where a data engineer drops a new publication's files."""
    return Path(os.environ.get("FACT22_LANDING_DIR", REPO_ROOT / "landing"))


def accepted_dir() -> Path:
    """Landed files that passed a refresh and were published, with their catalogue."""
    return warehouse_path().parent / "releases"


def restricted_path() -> Path:
    """Case-level council data live in their own file, apart from what analysts open."""
    return Path(os.environ.get("FACT22_RESTRICTED", warehouse_path().parent / "restricted" / "casework.duckdb"))


def restricted_group_read() -> bool:
    """Whether the restricted folder's group may read the case-level file (README: granting a group)."""
    return os.environ.get("FACT22_RESTRICTED_GROUP_READ", "") == "1"


def casework_dir() -> Path:
    """Folder of the council's case-level extracts; defaults to the shipped SYNTHETIC stand-ins."""
    return Path(os.environ.get("FACT22_CASEWORK_DIR", data_dir() / "synthetic"))


def studies_path() -> Path:
    return Path(os.environ.get("FACT22_STUDIES", data_dir() / "studies.yaml"))


def trials_path() -> Path:
    """The randomised trials evaluated on census returns (docs/census.md)."""
    return Path(os.environ.get("FACT22_TRIALS", data_dir() / "trials.yaml"))


def census_schemas_dir() -> Path:
    """DfE's children-in-need census XSDs and the catalogue of which serves which collection year."""
    return data_dir() / "census"


def pseudonym_key_file() -> Path | None:
    """The key children's ids are hashed with at ingest: a file outside the warehouse (None: not set)."""
    value = os.environ.get("FACT22_PSEUDONYM_KEY_FILE", "").strip()
    return Path(value) if value else None


def synthetic_census_dir() -> Path:
    """Where the build writes the SYNTHETIC census returns it generates, beside the restricted file."""
    return restricted_path().parent / "synthetic_census"


def outputs_dir() -> Path:
    """Figures and the report, beside the warehouse file."""
    return Path(os.environ.get("FACT22_OUTPUTS", warehouse_path().parent / "outputs"))


# `make ui` serves the published outputs folder here (OUTPUTS_PORT in the Makefile).
DEFAULT_OUTPUTS_URL = "http://127.0.0.1:3001"


def outputs_url() -> str:
    """Where a browser opens the published outputs: the UI's links to the report, figures and explorer."""
    return os.environ.get("FACT22_OUTPUTS_URL", DEFAULT_OUTPUTS_URL).rstrip("/")


def calibration_dir() -> Path:
    """The national placebo study's result files (parquet, one per outcome, with a manifest each), beside the
    warehouse: the calibration job writes them, the refresh reads them as the source ``calibration``."""
    return Path(os.environ.get("FACT22_CALIBRATION_DIR", warehouse_path().parent / "calibration"))


def shipped_calibration_dir() -> Path:
    """The calibration shipped with the repository (data/calibration/, see its README): what the refresh reads
    while the warehouse's own calibration folder is empty, so that a fresh clone shows calibrated results."""
    return data_dir() / "calibration"


def _listed(variable: str) -> list[str] | None:
    value = os.environ.get(variable, "").strip()
    return [part.strip() for part in value.split(",") if part.strip()] or None


def calibration_methods() -> list[str] | None:
    """FACT22_CALIBRATION_METHODS: the estimator methods the placebo study runs (comma-separated); all by default."""
    return _listed("FACT22_CALIBRATION_METHODS")


def calibration_start_years() -> list[int] | None:
    """FACT22_CALIBRATION_START_YEARS: only these start years (comma-separated), for a quick trial; every start
    year the data allow by default.  The manifest records what was run."""
    listed = _listed("FACT22_CALIBRATION_START_YEARS")
    try:
        return None if listed is None else [int(y) for y in listed]
    except ValueError as error:
        raise ValueError(f"FACT22_CALIBRATION_START_YEARS must list collection years such as 2016,2019; "
                         f"got {os.environ['FACT22_CALIBRATION_START_YEARS']!r}") from error


@lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit that produced a result (with "+dirty" for uncommitted
    changes), or the package version outside a checkout."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import version

        return f"fact22-warehouse {version('fact22-warehouse')}"


def dagster_home() -> Path:
    """The project's Dagster instance (runs, materialisations, check results):
    what `make ui` shows.  The Makefile exports $(CURDIR)/.dagster_home."""
    return Path(os.environ.get("DAGSTER_HOME") or REPO_ROOT / ".dagster_home")


def logs_dir() -> Path:
    """The full log of each build, one file per run, beside the warehouse."""
    return warehouse_path().parent / "logs"


def _named(variable: str, path: Path) -> str:
    return f"{variable}={path}" if variable in os.environ else f"{path} (the default; set {variable} to change it)"


def problems() -> list[str]:
    """What is wrong with the settings, one plain line each, found before anything runs."""
    found = []
    data = data_dir()
    if not data.is_dir():
        found.append(f"{_named('FACT22_DATA_DIR', data)}: no such folder")
    elif not (data / "sources.yaml").is_file():
        what = "is empty" if not any(data.iterdir()) else "has no sources.yaml"
        found.append(f"{_named('FACT22_DATA_DIR', data)}: the folder {what}; it must hold sources.yaml and the "
                     f"published files it lists (the repository's data/ folder does)")
    else:
        if not studies_path().is_file():
            found.append(f"{_named('FACT22_STUDIES', studies_path())}: no such file (the studies to evaluate)")
        if not casework_dir().is_dir():
            found.append(f"{_named('FACT22_CASEWORK_DIR', casework_dir())}: no such folder (case-level extracts)")
        if not trials_path().is_file():
            found.append(f"{_named('FACT22_TRIALS', trials_path())}: no such file (the trials to evaluate)")
    for variable, path in (("FACT22_WAREHOUSE", warehouse_path().parent), ("DAGSTER_HOME", dagster_home())):
        existing = next((p for p in (path, *path.parents) if p.exists()), None)
        if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
            found.append(f"{_named(variable, path)}: cannot create or write this folder")
    return found
