"""The inputs of a refresh grouped as the asset graph reads them, each with a data version.

One *source* per group of files that one asset (or one strand) reads: the
catalogued families each raw table parses (data/sources.yaml plus accepted and
landed files), the project's two seed files, the case-level extracts and the
studies file.  Its data version is a digest of what the reader sees in those
files (each file's catalogue entry and sha256), so a file moved from the
landing folder into the accepted store keeps its version.

Dagster shows these as observable source assets upstream of the raw layer
(defs/sources.py); the publication manifest records them, and a refresh whose
only changes fall in some sources rebuilds just what lies downstream of those
(``changed_sources``).  No Dagster import here.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from .catalogue import Catalogue, file_sha256
from .population_parsers import PARSERS as POPULATION_PARSERS

# raw table (schema raw) -> the catalogue families it parses
CATALOGUED: dict[str, tuple[str, ...]] = {
    "cin_sfr": ("dfe_cin_sfr",),
    "cin_ees": ("dfe_cin_ees",),
    # DfE's own rates: the files read for nothing else (raw.cin_published_rates also reads the rate columns of
    # the cin_sfr and cin_ees files, and depends on those sources too).
    "cin_published_rates": ("dfe_cin_published",),
    "ons_population": tuple(POPULATION_PARSERS),
    "la_lookup": ("la_lookup",),
    "regions": ("region_lookup",),
    "statistical_neighbours": ("statistical_neighbours",),
    "deprivation": ("deprivation",),
}
# The project-curated seed files of the reference schema, in data/reference/.
SEED_FILES: dict[str, str] = {"boundary_changes": "boundary_changes.csv",
                              "population_geography": "population_geography.csv"}
REFERENCE = "reference_files"
CASEWORK = "casework_extracts"
STUDIES = "studies"
CALIBRATION = "calibration"
SOURCE_NAMES: tuple[str, ...] = (*CATALOGUED, REFERENCE, CASEWORK, STUDIES, CALIBRATION)


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:32]


def _files_digest(paths: Iterable[Path]) -> str:
    return _digest(f"{p.name}\0{file_sha256(p)}" for p in paths if p.is_file())


def source_versions(catalogue: Catalogue, reference_dir: Path, casework_files: Iterable[Path],
                    studies_file: Path, calibration_files: Iterable[Path] = ()) -> dict[str, str]:
    """Source name -> data version, for every name of SOURCE_NAMES."""
    versions = {}
    for name, families in CATALOGUED.items():
        # What the parser reads: the file's bytes, its catalogue options (the columns behind each
        # measure) and its release (rank, symbols); not where the file lies.
        versions[name] = _digest(
            f"{s.source_id}\0{s.sha256}\0{sorted(s.options.items())!r}\0{s.release!r}"
            for s in catalogue.of_family(*families))
    versions[REFERENCE] = _files_digest(reference_dir / f for f in SEED_FILES.values())
    versions[CASEWORK] = _files_digest(sorted(casework_files))
    versions[STUDIES] = _files_digest([studies_file])
    # The national placebo study's result files (core/calibration/files.py), written by its own job.
    # Named in its digest: no calibration yet must not share a version with another empty source.
    versions[CALIBRATION] = _digest([CALIBRATION, *(f"{p.name}\0{file_sha256(p)}" for p in calibration_files
                                                    if p.is_file())])
    return versions


def changed_sources(now: Mapping[str, str], published: Mapping[str, str] | None) -> list[str] | None:
    """The sources whose version differs from the published one, or None when that cannot be told
    (a publication that recorded no versions, or a source unknown to it): rebuild everything."""
    if not published or set(published) != set(now):
        return None
    return [name for name in SOURCE_NAMES if now.get(name) != published.get(name)]
