"""The national placebo study's result files: one parquet file and one manifest per outcome.

The calibration job never writes the warehouse (DuckDB allows one writer, and
its partitions may run in separate processes or machines): each partition
writes ``<outcome>.parquet`` (its studies, `placebo_studies.STUDY_COLUMNS`
plus the vintage and design) and ``<outcome>.json`` (what it was computed
from) into the calibration folder, each replaced in one step.  The refresh
reads them as the source ``calibration`` and loads them into the marts.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import write_atomically

if TYPE_CHECKING:
    import pandas as pd

MANIFEST_FIELDS = (
    "outcome", "vintage", "code_version", "computed_at", "design", "start_years", "n_studies", "n_placebo_studies",
    "methods", "seed", "approximations", "cpu_seconds", "wall_seconds", "workers",
)


def results_file(directory: Path, outcome: str) -> Path:
    return Path(directory) / f"{outcome}.parquet"


def manifest_file(directory: Path, outcome: str) -> Path:
    return Path(directory) / f"{outcome}.json"


def write_results(directory: Path, outcome: str, studies: pd.DataFrame, manifest: dict) -> None:
    """Replace one outcome's results and manifest (the parquet file first: a manifest never names
    results that are not there)."""
    missing = [f for f in MANIFEST_FIELDS if f not in manifest]
    if missing:
        raise ValueError(f"calibration manifest for {outcome} lacks {missing}")
    import duckdb  # here: `calibration_files` is read by the no-change refresh check, which stays light

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "studies.parquet"
        con = duckdb.connect()
        try:
            con.register("studies", studies)
            con.execute(f"COPY (SELECT * FROM studies) TO '{path.as_posix()}' (FORMAT parquet)")
        finally:
            con.close()
        write_atomically(results_file(directory, outcome), path.read_bytes())
    write_atomically(manifest_file(directory, outcome),
                     (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8"))


def calibration_files(directory: Path) -> list[Path]:
    """Every result and manifest file in the folder, sorted (what the source's data version digests)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".parquet", ".json")
                  and not p.name.startswith("."))


def read_results(directory: Path) -> tuple[pd.DataFrame, list[dict]]:
    """Every outcome's studies (stacked) and manifests; outcomes with a manifest but no results, or the
    reverse, are an error naming the file."""
    import duckdb
    import pandas as pd

    directory = Path(directory)
    manifests, frames = [], []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not a calibration manifest ({error})") from error
        missing = [f for f in MANIFEST_FIELDS if f not in manifest]
        if missing:
            raise ValueError(f"{path}: calibration manifest lacks {missing}")
        results = results_file(directory, manifest["outcome"])
        if not results.is_file():
            raise ValueError(f"{path} describes {results.name}, which is missing")
        con = duckdb.connect()
        try:
            frames.append(con.execute(f"SELECT * FROM read_parquet('{results.as_posix()}')").df())
        finally:
            con.close()
        manifests.append(manifest)
    orphans = [p for p in directory.glob("*.parquet") if not manifest_file(directory, p.stem).is_file()] \
        if directory.is_dir() else []
    if orphans:
        raise ValueError(f"{orphans[0]} has no manifest ({orphans[0].stem}.json): a calibration that did not finish")
    studies = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return studies, manifests
