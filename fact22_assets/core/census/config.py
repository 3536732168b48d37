"""Reading data/trials.yaml: the randomised trials the warehouse evaluates on census returns.

A trial is configuration, not code: its authority, arms, randomisation window
and list, follow-up end, the children-in-need census returns it reads, its
outcomes (case-level measures of the measure registry), covariates and
optional researcher-coded extracts. Every problem of every trial is reported
in one error, as for the studies file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from .. import measures

DATA_ORIGINS = ("SYNTHETIC", "COUNCIL")
_TRIAL_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
_AUTHORITY = re.compile(r"^E(06|08|09|10)\d{6}$")

# What a trial case can be described by. Census covariates come from the child's return; list covariates
# are columns of the randomisation list (a council records them when it randomises).
CENSUS_COVARIATES = ("female", "under_11", "previous_cin_history", "disabled", "white_british", "other_white",
                     "aged_out_by_end")
LIST_COVARIATES = ("other_cin_in_family",)
# A control case that later received the programme: the contamination-sensitivity analysis drops them.
CONTAMINATION_COLUMN = "later_received_treatment"
LIST_COLUMNS = (*LIST_COVARIATES, CONTAMINATION_COLUMN)
SUBGROUPS = ("previous_cin_history",)
EXTRACTS = ("risk_notes", "service_information")


class TrialConfigError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("data/trials.yaml: " + "; ".join(problems))


@dataclass(frozen=True)
class CensusReturnSpec:
    """One collection year's return: a council's file, or one the synthetic generator writes at build time."""

    collection_year: int
    file: str | None  # relative to the casework folder; None for a generated return


@dataclass(frozen=True)
class Extract:
    name: str  # risk_notes or service_information
    file: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Trial:
    trial_id: str
    title: str
    authority_code: str
    data_origin: str
    treated_arm: str
    control_arm: str
    randomised_from: date
    randomised_to: date
    randomisation_list: str
    follow_up_end: date
    returns: tuple[CensusReturnSpec, ...]
    synthetic_seed: int | None
    synthetic_histories: str | None
    child_id_prefix: str | None
    reconcile_years: tuple[int, ...]
    relative_tolerance: float
    outcomes: tuple[str, ...]
    covariates: tuple[str, ...]
    subgroups: tuple[str, ...]
    list_columns: tuple[str, ...]
    extracts: tuple[Extract, ...] = ()
    # Where a trial's results sit in a report: the studies of its authority by default.
    min_events_total: int = 10
    min_events_per_arm: int = 5

    @property
    def arms(self) -> tuple[str, str]:
        return self.treated_arm, self.control_arm

    @property
    def collection_years(self) -> tuple[int, ...]:
        return tuple(r.collection_year for r in self.returns)

    @property
    def synthetic(self) -> bool:
        return self.synthetic_seed is not None

    @property
    def binary_outcomes(self) -> tuple[str, ...]:
        """Trial outcome names (closed, rereferred, escalated) of the binary outcomes, in the file's order."""
        return tuple(measures.case_measure(m).trial_outcome for m in self.outcomes if m != "case_length_days")

    @property
    def models_case_length(self) -> bool:
        return "case_length_days" in self.outcomes

    def extract(self, name: str) -> Extract | None:
        return next((e for e in self.extracts if e.name == name), None)


def collection_year_of(day: date) -> int:
    """The collection year (ending 31 March) a date falls in: 2015-08-01 is in 2016 (2015-16)."""
    return day.year + (day.month > 3)


def _date(value, label: str, problems: list[str]) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        problems.append(f"{label} must be a date YYYY-MM-DD, not {value!r}")
        return None


def _names(value, allowed: tuple[str, ...], label: str, problems: list[str]) -> tuple[str, ...]:
    names = tuple(str(v) for v in (value or ()))
    unknown = [n for n in names if n not in allowed]
    if unknown:
        problems.append(f"{label} {unknown} unknown; allowed: {list(allowed)}")
    return tuple(n for n in names if n in allowed)


def _returns(census: dict, label: str, problems: list[str]) -> tuple[tuple[CensusReturnSpec, ...], dict | None]:
    synthetic = census.get("synthetic")
    listed = census.get("returns")
    if bool(synthetic) == bool(listed):
        problems.append(f"{label}: census needs either `returns` (a council's files) or `synthetic` (generated), "
                        "not both or neither")
        return (), None
    if synthetic:
        years = census.get("collection_years") or []
        if not years or any(not isinstance(y, int) for y in years):
            problems.append(f"{label}: census.collection_years must list the years (2016 = 2015-16) to generate")
        synthetic = synthetic if isinstance(synthetic, dict) else {}
        if not isinstance(synthetic.get("seed"), int) or not synthetic.get("histories") or not re.fullmatch(
                r"[A-Z]{1,4}", str(synthetic.get("child_id_prefix", ""))):
            problems.append(f"{label}: census.synthetic needs seed (a whole number), histories (the folder of the "
                            "trial children's census histories) and child_id_prefix (1 to 4 capital letters)")
            synthetic = None
        return tuple(CensusReturnSpec(int(y), None) for y in sorted(years) if isinstance(y, int)), synthetic
    specs = []
    for index, item in enumerate(listed, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("collection_year"), int) or not item.get("file"):
            problems.append(f"{label}: census.returns #{index} needs collection_year (2016 = 2015-16) and file")
            continue
        specs.append(CensusReturnSpec(int(item["collection_year"]), str(item["file"])))
    years = [s.collection_year for s in specs]
    if len(set(years)) != len(years):
        problems.append(f"{label}: census.returns lists a collection year twice")
    return tuple(sorted(specs, key=lambda s: s.collection_year)), None


def _extracts(value, label: str, problems: list[str]) -> tuple[Extract, ...]:
    found = []
    for name, spec in (value or {}).items():
        if name not in EXTRACTS:
            problems.append(f"{label}: extract {name!r} unknown; allowed: {list(EXTRACTS)}")
            continue
        if not isinstance(spec, dict) or not spec.get("file"):
            problems.append(f"{label}: extract {name} needs a file")
            continue
        options = {k: v for k, v in spec.items() if k != "file"}
        if name == "service_information":
            for key in ("locations", "from", "to", "escalation_benchmark"):
                if key not in options:
                    problems.append(f"{label}: extract service_information needs {key}")
        found.append(Extract(name, str(spec["file"]), options))
    return tuple(found)


def _trial(entry: dict, label: str, problems: list[str]) -> Trial | None:
    before = len(problems)
    trial_id = str(entry.get("trial_id", ""))
    if not _TRIAL_ID.match(trial_id):
        problems.append(f"{label}: trial_id must be lower-case letters, digits and _")
    authority = str(entry.get("authority", ""))
    if not _AUTHORITY.match(authority):
        problems.append(f"{label}: authority must be an ONS children's-services authority code (E06/E08/E09/E10)")
    origin = str(entry.get("data_origin", ""))
    if origin not in DATA_ORIGINS:
        problems.append(f"{label}: data_origin must be one of {list(DATA_ORIGINS)}")
    arms = entry.get("arms") or {}
    treated, control = str(arms.get("treated", "")), str(arms.get("control", ""))
    if not treated or not control or treated == control:
        problems.append(f"{label}: arms needs two different names, treated and control")
    window = entry.get("randomisation") or {}
    start = _date(window.get("from"), f"{label}: randomisation.from", problems)
    end = _date(window.get("to"), f"{label}: randomisation.to", problems)
    follow_up = _date(entry.get("follow_up_end"), f"{label}: follow_up_end", problems)
    if start and end and follow_up and not start <= end < follow_up:
        problems.append(f"{label}: randomisation.from <= randomisation.to < follow_up_end must hold")
    if not window.get("list"):
        problems.append(f"{label}: randomisation.list (the file of child, arm, date) is missing")
    returns, synthetic = _returns(entry.get("census") or {}, label, problems)
    years = [r.collection_year for r in returns]
    if start and follow_up and years:
        first, last = collection_year_of(start), collection_year_of(follow_up)
        if min(years) > first or max(years) < last or set(range(first, last + 1)) - set(years):
            problems.append(f"{label}: the census returns ({', '.join(map(str, years))}) must cover the randomisation "
                            f"window and follow-up: every collection year from {first} to {last}")
    reconcile = tuple(int(y) for y in entry.get("reconcile_years") or years)
    if set(reconcile) - set(years):
        problems.append(f"{label}: reconcile_years {sorted(set(reconcile) - set(years))} have no return")
    tolerance = entry.get("reconciliation_tolerance", {"relative": 0.0}) or {}
    relative = tolerance.get("relative", 0.0)
    if not isinstance(relative, int | float) or not 0 <= relative < 0.2:
        problems.append(f"{label}: reconciliation_tolerance.relative must be a share from 0 to 0.2")
        relative = 0.0
    outcomes = tuple(str(o) for o in entry.get("outcomes") or ())
    unknown = [o for o in outcomes if o not in measures.CASE_MEASURE_NAMES
               or measures.case_measure(o).trial_outcome in ("referred", "open_at_end")]
    if unknown or not outcomes:
        problems.append(f"{label}: outcomes {unknown or '(none)'}: a trial's outcomes are case-level measures of the "
                        "registry: closures, rereferrals, escalations, case_length_days")
    list_columns = _names(entry.get("list_columns"), LIST_COLUMNS, f"{label}: list_columns", problems)
    covariates = _names(entry.get("covariates"), CENSUS_COVARIATES + LIST_COVARIATES, f"{label}: covariates",
                        problems)
    missing = [c for c in covariates if c in LIST_COVARIATES and c not in list_columns]
    if missing:
        problems.append(f"{label}: covariates {missing} come from the randomisation list: name them in list_columns")
    subgroups = _names(entry.get("subgroups"), SUBGROUPS, f"{label}: subgroups", problems)
    extracts = _extracts(entry.get("extracts"), label, problems)
    if len(problems) > before:
        return None
    return Trial(trial_id=trial_id, title=str(entry.get("title") or trial_id), authority_code=authority,
                 data_origin=origin, treated_arm=treated, control_arm=control, randomised_from=start,
                 randomised_to=end, randomisation_list=str(window["list"]), follow_up_end=follow_up,
                 returns=returns, synthetic_seed=synthetic["seed"] if synthetic else None,
                 synthetic_histories=str(synthetic["histories"]) if synthetic else None,
                 child_id_prefix=str(synthetic["child_id_prefix"]) if synthetic else None,
                 reconcile_years=reconcile, relative_tolerance=float(relative),
                 outcomes=outcomes, covariates=covariates, subgroups=subgroups, list_columns=list_columns,
                 extracts=extracts)


def load_trials(path: Path) -> list[Trial]:
    """Every trial of the file; all problems of all trials in one error. An empty list is allowed: a
    warehouse need not evaluate any trial."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    trials, problems = [], []
    for index, entry in enumerate(document.get("trials") or [], start=1):
        label = f"trial #{index} ({entry.get('trial_id', '?')})" if isinstance(entry, dict) else f"trial #{index}"
        if not isinstance(entry, dict):
            problems.append(f"{label}: not a mapping")
            continue
        trial = _trial(entry, label, problems)
        if trial is not None:
            trials.append(trial)
    ids = [t.trial_id for t in trials]
    problems += [f"trial_id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    synthetic_authorities = [t.authority_code for t in trials if t.synthetic]
    problems += [f"two synthetic trials in {a}: the generator embeds one trial in an authority's census"
                 for a in sorted({a for a in synthetic_authorities if synthetic_authorities.count(a) > 1})]
    if problems:
        raise TrialConfigError(problems)
    return trials
