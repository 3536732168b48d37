"""Where things live.  Paths resolve from this package, never from the
working directory; environment variables are read when asked, not on import."""
from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = REPO_ROOT / "sql"


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
