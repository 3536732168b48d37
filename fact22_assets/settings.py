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


def build_path() -> Path:
    """Where a refresh builds and validates before anything is published
    (write-audit-publish): a sibling folder of the published file."""
    published = warehouse_path()
    return published.parent / "build" / published.name


def landing_dir() -> Path:
    """Where a data engineer drops a new publication's files."""
    return Path(os.environ.get("FACT22_LANDING_DIR", REPO_ROOT / "landing"))


def accepted_dir() -> Path:
    """Landed files that passed a refresh and were published, with their catalogue."""
    return warehouse_path().parent / "releases"


def restricted_path() -> Path:
    """Case-level council data live in their own file, apart from what analysts open."""
    return Path(os.environ.get("FACT22_RESTRICTED", warehouse_path().parent / "restricted" / "casework.duckdb"))


def casework_dir() -> Path:
    """Folder of the council's case-level extracts; defaults to the shipped SYNTHETIC stand-ins."""
    return Path(os.environ.get("FACT22_CASEWORK_DIR", data_dir() / "synthetic"))


def studies_path() -> Path:
    return Path(os.environ.get("FACT22_STUDIES", data_dir() / "studies.yaml"))


def outputs_dir() -> Path:
    """Figures and the report, beside the warehouse file."""
    return Path(os.environ.get("FACT22_OUTPUTS", warehouse_path().parent / "outputs"))


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
