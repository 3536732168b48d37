"""Where things live.  Paths resolve from this package, never from the
working directory; environment variables are read when asked, not on import."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = REPO_ROOT / "sql"


def data_dir() -> Path:
    return Path(os.environ.get("FACT22_DATA_DIR", REPO_ROOT / "data"))


def warehouse_path() -> Path:
    return Path(os.environ.get("FACT22_WAREHOUSE", REPO_ROOT / "warehouse" / "fact22.duckdb"))
