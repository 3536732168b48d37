"""The sources catalogue: which published files the warehouse reads, and how.

A new publication is a new entry in ``data/sources.yaml``; nothing here
names a year or a file.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .errors import SourceDataError

FAMILIES = {
    "dfe_cin_sfr",
    "dfe_cin_ees",
    "dfe_cin_published",  # files read only for DfE's own rates and denominators (raw.cin_published_rates)
    "ons_mye4",
    "ons_mye2_csv",
    "dfe_population_0_17",
    "la_lookup",
    "region_lookup",
    "statistical_neighbours",
    "deprivation",
}

# The catalogue of landed files that refreshes accepted, in the accepted releases folder.
ACCEPTED_CATALOGUE = "accepted_sources.yaml"


@dataclass(frozen=True)
class Release:
    release_id: str
    publisher: str
    publication: str
    rank: int | float
    symbols: dict[str, str]
    experimental: bool = False
    # Declared to revise earlier releases' numbers: exempt from the revision bound (core/release_comparison.py).
    revision: bool = False
    # A corrected issue of some files of this published release (landed again with other bytes): ranked just
    # above it, so staging takes its values, and compared with what was published for the measures it carries.
    revises: str | None = None
    # Why it was declared a revision (the landed file's revision sidecar, core/landing.py).
    revision_reason: str | None = None


@dataclass(frozen=True)
class Source:
    source_id: str
    family: str
    release: Release
    path: Path
    relative_path: str
    sha256: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def measures(self) -> dict[str, str]:
        return dict(self.options.get("measures") or {})

    @property
    def not_collected(self) -> dict[str, str]:
        return dict(self.options.get("not_collected") or {})

    @property
    def published_columns(self) -> dict[str, str]:
        """DfE's own figures the file prints (a published rate, percentage or denominator -> its column)."""
        return dict(self.options.get("published_columns") or {})


@dataclass(frozen=True)
class Catalogue:
    path: Path
    releases: dict[str, Release]
    sources: tuple[Source, ...]

    def of_family(self, *families: str) -> list[Source]:
        return [s for s in self.sources if s.family in families]


def file_sha256(path: Path) -> str:
    """The file's SHA-256, computed once per version of the file in a process
    (the same bytes are checked by the catalogue, the landing folder and each
    ingest step; a changed size or modification time means new bytes)."""
    stat = Path(path).stat()
    return _sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_yaml(path: Path | str) -> dict:
    """A YAML catalogue file as a dict, parsed once per version of the file in a process (the sensor, the
    freshness check and every step read the same catalogues; libyaml parses them, about 9 times faster
    than PyYAML's own parser).  Each caller gets its own copy."""
    stat = Path(path).stat()
    return copy.deepcopy(_parsed_yaml(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns))


@lru_cache(maxsize=32)
def _parsed_yaml(path: str, size: int, mtime_ns: int) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=yaml.CSafeLoader) or {}


def _rank(value) -> int | float:
    """A release's rank: a whole number (the year), or a fraction above it for a
    revision of that year's release (2025.01 for ``cin_2025_r1``)."""
    number = float(value)
    return int(number) if number.is_integer() else number


def load_catalogue(path: Path | str, data_root: Path | str | None = None, document: dict | None = None) -> Catalogue:
    """Read and check the catalogue; file paths resolve against ``data_root``
    (default: the catalogue's own folder).  ``document``: the file already parsed."""
    path = Path(path)
    root = Path(data_root) if data_root is not None else path.parent
    if document is None:
        document = read_yaml(path)
    releases: dict[str, Release] = {}
    for index, entry in enumerate(document.get("releases") or []):
        try:
            release = Release(
                release_id=str(entry["release_id"]),
                publisher=str(entry["publisher"]),
                publication=str(entry["publication"]),
                rank=_rank(entry["rank"]),
                symbols={str(k): str(v) for k, v in (entry.get("symbols") or {}).items()},
                experimental=bool(entry.get("experimental", False)),
                revision=bool(entry.get("revision", False)),
                revises=str(entry["revises"]) if entry.get("revises") else None,
                revision_reason=str(entry["revision_reason"]) if entry.get("revision_reason") else None,
            )
        except KeyError as missing:
            raise SourceDataError(str(path), None, None, f"release #{index + 1} lacks {missing}") from None
        if release.release_id in releases:
            raise SourceDataError(str(path), None, None, f"release {release.release_id!r} is listed twice")
        releases[release.release_id] = release

    sources: list[Source] = []
    seen: set[str] = set()
    for index, entry in enumerate(document.get("sources") or []):
        entry = dict(entry)
        for key in ("source_id", "family", "release_id", "path", "sha256"):
            if key not in entry:
                raise SourceDataError(str(path), None, None, f"source #{index + 1} lacks {key!r}")
        source_id = str(entry.pop("source_id"))
        if source_id in seen:
            raise SourceDataError(str(path), None, None, f"source {source_id!r} is listed twice")
        seen.add(source_id)
        family = str(entry.pop("family"))
        if family not in FAMILIES:
            raise SourceDataError(str(path), None, None, f"source {source_id!r} has unknown family {family!r}")
        release_id = str(entry.pop("release_id"))
        if release_id not in releases:
            raise SourceDataError(str(path), None, None, f"source {source_id!r} names unknown release {release_id!r}")
        relative = str(entry.pop("path"))
        sources.append(
            Source(
                source_id=source_id,
                family=family,
                release=releases[release_id],
                path=root / relative,
                relative_path=relative,
                sha256=str(entry.pop("sha256")).lower(),
                options=entry,
            )
        )
    return Catalogue(path=path, releases=releases, sources=tuple(sources))


def verify_source(source: Source) -> None:
    """Refuse a file that is missing, empty or not the bytes the catalogue names."""
    if not source.path.exists():
        raise SourceDataError(source.relative_path, None, None, "file not found")
    if source.path.stat().st_size == 0:
        raise SourceDataError(source.relative_path, None, None, "file is empty")
    actual = file_sha256(source.path)
    if actual != source.sha256:
        raise SourceDataError(
            source.relative_path,
            None,
            None,
            f"sha256 is {actual}, the catalogue records {source.sha256}: the file changed since it was "
            "catalogued; check it and record the new checksum (a new publication gets a new entry)",
        )


def source_files_frame(catalogue: Catalogue) -> list[dict]:
    """One record per catalogued file: what it is, where from, its checksum."""
    return [
        {
            "source_id": s.source_id,
            "family": s.family,
            "source_file": s.relative_path,
            "source_sha256": s.sha256,
            "size_bytes": s.path.stat().st_size if s.path.exists() else None,
            "release_id": s.release.release_id,
            "publisher": s.release.publisher,
            "publication": s.release.publication,
            "release_rank": s.release.rank,
            "experimental": s.release.experimental,
        }
        for s in catalogue.sources
    ]


def provenance(source: Source, row: int | None, column: str | None) -> dict:
    """Where a raw value was printed: the columns every parser's rows start with."""
    return {"source_id": source.source_id, "release_id": source.release.release_id,
            "source_file": source.relative_path, "source_row": row, "source_column": column}


def with_provenance(frame, source: Source, loaded_at):
    """Stamp every raw row with where it came from, and its release's rank and
    status: staging reads these from the family's own table, so a change to
    another family's files leaves its inputs as they were."""
    return frame.assign(
        source_sha256=source.sha256,
        publication=source.release.publication,
        release_rank=source.release.rank,
        experimental=source.release.experimental,
        loaded_at=loaded_at,
    )
