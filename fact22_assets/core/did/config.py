"""Reading data/studies.yaml: the studies the warehouse evaluates, and who may not be a donor.

A donor must not have run a programme of its own in the study's years, or
the comparison is biased toward zero or beyond. Two sources of exclusions:
the treated authority of every other configured study whose programme ran
(``programme_ran``, default true) during this study's years, and the
``interventions`` the file lists (authority, programme, years, source).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import measures
from ..presentation import year_label
from .study import Study, StudyConfigError

NEIGHBOUR_MODELS = {"2021", "2025"}


@dataclass(frozen=True)
class Reach:
    """How many families (or children) a programme serves a year, and the largest effect per family the
    evaluation thinks plausible: what it can change at authority level (core/calibration/power.py, dilution)."""

    per_year: float
    unit: str  # "families" or "children"
    plausible_effect: float  # change in each served family's yearly events (0.20: 20 percentage points)
    source: str


REACH_UNITS = ("families", "children")


@dataclass(frozen=True)
class StudyEntry:
    study: Study
    description: str
    neighbour_model: str
    programme: str = ""  # the programme's name as the report's title gives it
    # False for an illustration: its "treated" authority ran no programme, so
    # other studies keep it as a donor.
    programme_ran: bool = True
    # Estimators (by registry name) this study leaves out, e.g. costly ones for an illustration.
    skip_estimators: tuple[str, ...] = ()
    # Families or children the programme serves a year (optional): what it could change at authority level.
    reach: Reach | None = None


@dataclass(frozen=True)
class Intervention:
    """A known programme in an authority: no study's donor over these years."""

    unit_code: str
    programme: str
    first_year: int
    last_year: int | None
    source: str


def donor_exclusions(entry: StudyEntry, entries: list[StudyEntry],
                     interventions: list[Intervention] = ()) -> dict[str, str]:
    """unit_code -> why it may not be a donor in ``entry``'s study (years overlap a programme)."""
    first, last = min(entry.study.study_years), max(entry.study.study_years)
    out: dict[str, str] = {}
    for other in entries:
        study = other.study
        if not other.programme_ran or study.treated_unit_code == entry.study.treated_unit_code:
            continue
        if study.first_post_year <= last and max(study.post_years) >= first:
            out.setdefault(study.treated_unit_code,
                           f"treated in study {study.study_id} ({other.programme}) from {year_label(study.first_post_year)}")
    for known in interventions:
        ends = known.last_year if known.last_year is not None else last
        if known.unit_code != entry.study.treated_unit_code and known.first_year <= last and ends >= first:
            span = year_label(known.first_year) + (f" to {year_label(known.last_year)}" if known.last_year else " on")
            out.setdefault(known.unit_code, f"ran {known.programme} {span} ({known.source})")
    return out


def load_interventions(path: Path) -> list[Intervention]:
    """The ``interventions`` list of the studies file; problems in one error."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    found, problems = [], []
    for index, item in enumerate(document.get("interventions") or [], start=1):
        try:
            years = list(item["years"])
            found.append(Intervention(str(item["unit_code"]), str(item["programme"]), int(years[0]),
                                      int(years[1]) if len(years) > 1 and years[1] is not None else None,
                                      str(item["source"])))
        except (KeyError, TypeError, ValueError, IndexError) as error:
            problems.append(f"{Path(path).name} intervention #{index}: needs unit_code, programme, years "
                            f"[first, last or null] and source ({error})")
    if problems:
        raise StudyConfigError(problems)
    return found


def _reach(config) -> tuple[Reach | None, list[str]]:
    """A study's optional ``reach`` mapping: per_year, unit, plausible_effect, source; problems as text."""
    if config is None:
        return None, []
    if not isinstance(config, dict):
        return None, [f"'reach' must be a mapping of per_year, unit, plausible_effect and source, got {config!r}"]
    fields = {"per_year", "unit", "plausible_effect", "source"}
    problems = [f"unknown key 'reach.{k}'" for k in sorted(set(config) - fields, key=str)]
    problems += [f"missing key 'reach.{k}'" for k in sorted(fields - set(config))]
    if problems:
        return None, problems
    per_year, effect = config["per_year"], config["plausible_effect"]
    if isinstance(per_year, bool) or not isinstance(per_year, int | float) or not per_year > 0:
        problems.append(f"'reach.per_year' must be a positive number of families or children a year, got {per_year!r}")
    if isinstance(effect, bool) or not isinstance(effect, int | float) or not 0 < effect <= 1:
        problems.append(f"'reach.plausible_effect' must be a change per family between 0 and 1 (0.20 for 20 "
                        f"percentage points), got {effect!r}")
    if config["unit"] not in REACH_UNITS:
        problems.append(f"'reach.unit' must be one of {list(REACH_UNITS)}, got {config['unit']!r}")
    if not isinstance(config["source"], str) or not config["source"].strip():
        problems.append("'reach.source' must say where the number comes from")
    if problems:
        return None, problems
    return Reach(float(per_year), config["unit"], float(effect), config["source"]), []


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
        reach, reach_problems = _reach(entry.get("reach"))
        problems += [f"{label}: {p}" for p in reach_problems]
        entries.append(StudyEntry(study, str(entry.get("description", "")), model,
                                  str(entry.get("programme") or study.study_id),
                                  bool(entry.get("programme_ran", True)),
                                  tuple(str(s) for s in entry.get("skip_estimators") or ()), reach))
    if not entries and not problems:
        problems.append(f"{path.name}: no studies")
    if problems:
        raise StudyConfigError(problems)
    return entries
