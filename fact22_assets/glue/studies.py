"""The configured studies, read once per version of data/studies.yaml.

Every asset and check that needs a study asks here, so the YAML file is
parsed once per change, not once per caller."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fact22_assets.core.did.config import Intervention, StudyEntry, donor_exclusions, load_interventions, load_studies
from fact22_assets.settings import studies_path


@lru_cache(maxsize=4)
def _parsed(path: str, mtime_ns: int, size: int) -> tuple[tuple[StudyEntry, ...], tuple[Intervention, ...]]:
    return tuple(load_studies(Path(path))), tuple(load_interventions(Path(path)))


def _current() -> tuple[tuple[StudyEntry, ...], tuple[Intervention, ...]]:
    path = studies_path()
    stat = path.stat()
    return _parsed(str(path), stat.st_mtime_ns, stat.st_size)


def studies() -> tuple[StudyEntry, ...]:
    return _current()[0]


def interventions() -> tuple[Intervention, ...]:
    """The known programmes the studies file lists under ``interventions``."""
    return _current()[1]


def exclusions(entry: StudyEntry) -> dict[str, str]:
    """Who may not be a donor in ``entry``'s study: other studies' treated authorities and listed interventions."""
    entries, interventions = _current()
    return donor_exclusions(entry, list(entries), list(interventions))


def study_entry(study_id: str) -> StudyEntry:
    entries = {e.study.study_id: e for e in studies()}
    if study_id not in entries:
        raise ValueError(f"study {study_id!r} is not in {studies_path()}; it lists {sorted(entries)}")
    return entries[study_id]
