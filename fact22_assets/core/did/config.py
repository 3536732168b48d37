"""Reading data/studies.yaml: the studies the warehouse evaluates."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import measures
from .study import Study, StudyConfigError

NEIGHBOUR_MODELS = {"2021", "2025"}


@dataclass(frozen=True)
class StudyEntry:
    study: Study
    description: str
    neighbour_model: str
    programme: str = ""  # the programme's name as the report's title gives it


def load_studies(path: Path) -> list[StudyEntry]:
    """Every study in the file; all problems of all studies in one error."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    entries, problems, seen = [], [], set()
    for index, entry in enumerate(document.get("studies") or [], start=1):
        label = f"{path.name} study #{index} ({entry.get('study_id', '?')})"
        model = str(entry.get("neighbour_model", "2021"))
        if model not in NEIGHBOUR_MODELS:
            problems.append(f"{label}: neighbour_model must be one of {sorted(NEIGHBOUR_MODELS)}")
        if entry.get("study_id") in seen:
            problems.append(f"{label}: study_id is used twice")
        seen.add(entry.get("study_id"))
        try:
            study = Study.from_mapping(entry.get("design") or {})
        except StudyConfigError as error:
            problems += [f"{label}: {p}" for p in error.problems]
            continue
        if study.study_id != entry.get("study_id"):
            problems.append(f"{label}: design.study_id differs from study_id")
        unknown = [o for o in study.outcomes if o not in measures.RATE_NAMES]
        if unknown:
            problems.append(f"{label}: outcome(s) {unknown} are not rates of marts.cin_rates; the measure registry "
                            f"has {list(measures.RATE_NAMES)}")
        entries.append(StudyEntry(study, str(entry.get("description", "")), model,
                                  str(entry.get("programme") or study.study_id)))
    if not entries and not problems:
        problems.append(f"{path.name}: no studies")
    if problems:
        raise StudyConfigError(problems)
    return entries
