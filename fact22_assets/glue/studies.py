"""The configured studies, read once per version of data/studies.yaml.

Every asset and check that needs a study asks here, so the YAML file is
parsed once per change, not once per caller."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fact22_assets.core.did.config import StudyEntry, load_studies
from fact22_assets.settings import studies_path


@lru_cache(maxsize=4)
def _parsed(path: str, mtime_ns: int, size: int) -> tuple[StudyEntry, ...]:
    return tuple(load_studies(Path(path)))


def studies() -> tuple[StudyEntry, ...]:
    path = studies_path()
    stat = path.stat()
    return _parsed(str(path), stat.st_mtime_ns, stat.st_size)


def study_entry(study_id: str) -> StudyEntry:
    entries = {e.study.study_id: e for e in studies()}
    if study_id not in entries:
        raise ValueError(f"study {study_id!r} is not in {studies_path()}; it lists {sorted(entries)}")
    return entries[study_id]
