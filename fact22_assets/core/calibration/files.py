"""The national placebo study's result files: one parquet file and one manifest per outcome.

The calibration job never writes the warehouse (DuckDB allows one writer, and
its partitions may run in separate processes or machines): each partition
writes ``<outcome>.parquet`` (its studies, `placebo_studies.STUDY_COLUMNS`
plus the vintage and design) and ``<outcome>.json`` (what it was computed
from) into the calibration folder, each replaced in one step.  The refresh
reads them as the source ``calibration`` and loads them into the marts.

A fresh clone has no calibration of its own: the repository ships one
(``data/calibration/``, the same files, computed from public data only), and
the refresh reads it when the warehouse's folder has none (`source_folder`).
Each manifest records what its numbers depend on, so a calibration computed
by other code or on other data is flagged stale, never silently presented as
current (`staleness`):

- ``calibration_code``: a digest of the code the study runs (`CALIBRATION_CODE`:
  the estimators, the comparator rule, the study itself and the SQL that reads
  its panel), not the whole package, so that a commit elsewhere does not make
  it stale;
- ``panel_digest``: a digest of the panel the study read (`panel_digest`), so
  that revised figures under the same vintage name are noticed;
- ``results_sha256``: the result file's digest, so that a damaged or replaced
  file is refused, naming it.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalogue import file_sha256
from ..files import write_atomically

if TYPE_CHECKING:
    import pandas as pd

MANIFEST_FIELDS = (
    "outcome", "vintage", "code_version", "computed_at", "design", "start_years", "n_studies", "n_placebo_studies",
    "methods", "seed", "approximations", "cpu_seconds", "wall_seconds", "workers",
)
# Recorded since the calibration is shipped with the repository; a manifest without them (computed before) is read,
# and flagged stale because nothing shows what it was computed from.
PROVENANCE_FIELDS = ("calibration_code", "panel_digest", "results_sha256")

# The code whose change changes the study's numbers (repository-relative globs).  The marts computed from the
# files at refresh (core/calibration/rates.py, marts.py) are not in it: they are recomputed by every refresh.
CALIBRATION_CODE = (
    "fact22_assets/core/did/*.py",
    "fact22_assets/core/calibration/design.py",
    "fact22_assets/core/calibration/placebo_studies.py",
    "fact22_assets/core/calibration/power.py",
    "fact22_assets/core/measures.py",
    "fact22_assets/defs/calibration/inputs.py",
    "fact22_assets/defs/calibration/placebo_study.py",
    "sql/did/*.sql",
)


def calibration_code(repo_root: Path) -> str:
    """Digest of the files of CALIBRATION_CODE (their paths and bytes)."""
    digest = hashlib.sha256()
    for pattern in CALIBRATION_CODE:
        for path in sorted(Path(repo_root).glob(pattern)):
            digest.update(path.relative_to(repo_root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def panel_digest(panel: pd.DataFrame) -> str:
    """Digest of the panel the study reads (did/panel.sql's rows): equal exactly when the figures are."""
    import pandas as pd

    frame = panel.sort_values(["unit_code", "collection_year"]).reset_index(drop=True)
    frame = frame[sorted(frame.columns)]
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(",".join(frame.columns).encode() + hashed.tobytes()).hexdigest()[:16]


def source_folder(computed: Path, shipped: Path) -> Path:
    """The folder the refresh reads: the warehouse's own calibration (``make calibrate``) when it has any file,
    else the one shipped with the repository."""
    return Path(computed) if calibration_files(computed) else Path(shipped)


def staleness(manifest: dict, current_code: str, current_vintage: str | None, current_panel: str | None,
              current_designs: list[str]) -> list[str]:
    """Why a calibration does not describe the current code and data (empty when it does)."""
    reasons = []
    if manifest.get("calibration_code") is None or manifest.get("panel_digest") is None:
        reasons.append("its manifest does not record the code and data it was computed from")
    elif manifest["calibration_code"] != current_code:
        reasons.append(f"computed by other estimator code ({manifest['code_version']}, calibration code "
                       f"{manifest['calibration_code']}, now {current_code})")
    if current_vintage is not None and manifest.get("vintage") != current_vintage:
        reasons.append(f"computed on data vintage {manifest.get('vintage')}, the latest is now {current_vintage}")
    elif (current_panel is not None and manifest.get("panel_digest") is not None
          and manifest["panel_digest"] != current_panel):
        reasons.append(f"the figures of vintage {manifest.get('vintage')} changed since (panel "
                       f"{manifest['panel_digest']}, now {current_panel})")
    if sorted(manifest.get("design") or []) != sorted(current_designs):
        reasons.append(f"computed for design(s) {'; '.join(manifest.get('design') or [])}, the studies now use "
                       f"{'; '.join(current_designs)}")
    return reasons


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
        data = path.read_bytes()
        write_atomically(results_file(directory, outcome), data)
    manifest = {**manifest, "results_sha256": hashlib.sha256(data).hexdigest()}
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
        expected = manifest.get("results_sha256")
        if expected is not None and file_sha256(results) != expected:
            raise ValueError(f"{results}: its bytes are not those {path.name} describes (sha256 "
                             f"{file_sha256(results)[:16]}..., recorded {expected[:16]}...): a damaged or replaced "
                             "calibration file; run make calibrate, or restore it")
        con = duckdb.connect()
        try:
            frames.append(con.execute(f"SELECT * FROM read_parquet('{results.as_posix()}')").df())
        except duckdb.Error as error:
            raise ValueError(f"{results}: not a readable calibration result file ({error})") from error
        finally:
            con.close()
        manifests.append(manifest)
    orphans = [p for p in directory.glob("*.parquet") if not manifest_file(directory, p.stem).is_file()] \
        if directory.is_dir() else []
    if orphans:
        raise ValueError(f"{orphans[0]} has no manifest ({orphans[0].stem}.json): a calibration that did not finish")
    studies = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return studies, manifests
