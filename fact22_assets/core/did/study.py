"""The design of one difference-in-differences study, as read from YAML.

A study names the treated authority, splits the collection years (year
ending 31 March, as the integer 2016 for 2015-16) into a pre- and a
post-period, lists the outcomes to analyse and the covariate of the
report's regression, and carries the weights of the comparator ranking
rule (see `ranking`). Construction validates every field and reports all
problems in one `StudyConfigError`, so a bad YAML file fails once, with
every reason, before any statistics run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from numbers import Real
from typing import Any

# The pre-trend test fits intercept, treated, year and treated x year to two
# units' pre-period rows: 4 parameters need at least 3 years (6 rows) to
# leave residual degrees of freedom.
MIN_PRE_YEARS = 3


class StudyConfigError(ValueError):
    """A study configuration that cannot define an analysis."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid study configuration:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class RankingRule:
    """Settings of the comparator ranking rule (documented in `ranking`)."""

    pretrend_alpha: float = 0.10
    weight_trend: float = 0.5
    weight_level: float = 0.3
    weight_demography: float = 0.2

    def __post_init__(self) -> None:
        problems = _ranking_problems(self)
        if problems:
            raise StudyConfigError(problems)

    @property
    def weights(self) -> dict[str, float]:
        return {
            "trend": self.weight_trend,
            "level": self.weight_level,
            "demography": self.weight_demography,
        }


@dataclass(frozen=True)
class Study:
    """One treated authority, its pre/post split and the outcomes to analyse."""

    study_id: str
    treated_unit_code: str
    first_post_year: int
    pre_years: tuple[int, ...]
    post_years: tuple[int, ...]
    outcomes: tuple[str, ...]
    covariate: str | None = "cin_at_31_march"
    ranking: RankingRule = field(default_factory=RankingRule)
    # Outcome -> comparator unit code, to reproduce a published evaluation's
    # pairs; outcomes not named here take the ranking rule's pick.
    comparators: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = _study_problems(self)
        if problems:
            raise StudyConfigError(problems)

    @property
    def study_years(self) -> tuple[int, ...]:
        return self.pre_years + self.post_years

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> Study:
        """Build a study from a parsed YAML mapping.

        Year and outcome lists become tuples; `ranking` may be a mapping of
        `RankingRule` fields. Unknown or missing keys are errors, reported
        together with any invalid values.
        """
        if not isinstance(config, Mapping):
            got = type(config).__name__
            raise StudyConfigError([f"expected a mapping of study settings, got {got}"])
        known = {f.name for f in fields(cls)}
        required = {
            f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
        }
        problems = [f"unknown key '{key}'" for key in sorted(set(config) - known, key=str)]
        problems += [f"missing key '{key}'" for key in sorted(required - set(config))]
        if problems:
            raise StudyConfigError(problems)

        values = dict(config)
        for key in ("pre_years", "post_years", "outcomes"):
            if isinstance(values[key], list | tuple):
                values[key] = tuple(values[key])
        if values.get("comparators") is None:
            values.pop("comparators", None)
        if "ranking" in values:
            values["ranking"] = _ranking_from_mapping(values["ranking"])
        return cls(**values)


def _ranking_from_mapping(config: Any) -> RankingRule:
    if isinstance(config, RankingRule):
        return config
    if not isinstance(config, Mapping):
        raise StudyConfigError([f"'ranking' must be a mapping, got {type(config).__name__}"])
    unknown = sorted(set(config) - {f.name for f in fields(RankingRule)}, key=str)
    if unknown:
        raise StudyConfigError([f"unknown key 'ranking.{key}'" for key in unknown])
    return RankingRule(**config)


def _is_int(value: Any) -> bool:
    # YAML booleans are ints to Python; a year of True is a typo, not 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _year_list_problems(name: str, years: Any) -> list[str]:
    if not isinstance(years, tuple) or not years:
        return [f"'{name}' must be a non-empty list of collection years"]
    if not all(_is_int(y) for y in years):
        return [
            f"'{name}' must hold integer collection years (2016 for 2015-16), got {list(years)}"
        ]
    if list(years) != sorted(set(years)):
        return [f"'{name}' must be strictly increasing without repeats, got {list(years)}"]
    return []


def _study_problems(study: Study) -> list[str]:
    problems = []
    for name in ("study_id", "treated_unit_code"):
        if not _is_text(getattr(study, name)):
            problems.append(f"'{name}' must be a non-empty string")

    pre_problems = _year_list_problems("pre_years", study.pre_years)
    post_problems = _year_list_problems("post_years", study.post_years)
    problems += pre_problems + post_problems
    if not _is_int(study.first_post_year):
        problems.append("'first_post_year' must be an integer collection year (2016 for 2015-16)")
    elif not pre_problems and not post_problems:
        if len(study.pre_years) < MIN_PRE_YEARS:
            problems.append(
                f"'pre_years' needs at least {MIN_PRE_YEARS} years for the pre-trend test, "
                f"got {len(study.pre_years)}"
            )
        if max(study.pre_years) >= study.first_post_year:
            problems.append(
                f"every pre year must come before first_post_year {study.first_post_year}, "
                f"got {list(study.pre_years)}"
            )
        if study.post_years[0] != study.first_post_year:
            problems.append(
                f"'post_years' must start at first_post_year {study.first_post_year}, "
                f"got {list(study.post_years)}"
            )

    outcomes = study.outcomes
    if not isinstance(outcomes, tuple) or not outcomes:
        problems.append("'outcomes' must be a non-empty list of outcome column names")
    elif not all(_is_text(o) for o in outcomes):
        problems.append(f"'outcomes' must hold non-empty column names, got {list(outcomes)}")
    elif len(set(outcomes)) != len(outcomes):
        problems.append(f"'outcomes' lists a column twice: {list(outcomes)}")

    if not isinstance(study.comparators, Mapping):
        problems.append("'comparators' must map outcomes to comparator unit codes")
    else:
        for outcome, code in study.comparators.items():
            if isinstance(outcomes, tuple) and outcome not in outcomes:
                problems.append(f"'comparators' names {outcome!r}, which is not one of the study's outcomes")
            if not _is_text(code):
                problems.append(f"'comparators.{outcome}' must be a unit code such as E09000010")
    if study.covariate is not None and not _is_text(study.covariate):
        problems.append("'covariate' must be a column name or null")
    if not isinstance(study.ranking, RankingRule):
        problems.append("'ranking' must be a RankingRule or a mapping of its fields")
    return problems


def _ranking_problems(rule: RankingRule) -> list[str]:
    problems = []
    alpha = rule.pretrend_alpha
    if not _is_number(alpha) or not 0 < alpha < 1:
        problems.append(f"'ranking.pretrend_alpha' must be a number between 0 and 1, got {alpha!r}")
    weights = {k: v for k, v in vars(rule).items() if k.startswith("weight_")}
    bad = [k for k, v in weights.items() if not _is_number(v) or v < 0]
    problems += [f"'ranking.{k}' must be a non-negative number, got {weights[k]!r}" for k in bad]
    if not bad and sum(weights.values()) <= 0:
        problems.append("the ranking weights must not all be zero")
    return problems


FACT22 = Study(
    study_id="fact22_strand1",
    treated_unit_code="E06000049",  # Cheshire East; DfE LA code 895
    first_post_year=2016,  # 2015-16, the first year of the pilot (June 2015)
    pre_years=(2011, 2012, 2013, 2014, 2015),
    post_years=(2016, 2017, 2018, 2019),
    outcomes=("closures_per_10k", "rereferrals_per_10k", "escalations_per_10k"),
)
