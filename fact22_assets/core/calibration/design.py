"""Which placebo studies the national placebo study runs.

A *design* is the shape a configured study gives its analysis: how many
pre- and post-period years, the covariate of the report's regression and
the comparator ranking rule (`designs_of`, one per distinct shape among the
studies in data/studies.yaml).  A *slice* is one design at one start year
(first post-period year) for one outcome: every authority with a complete,
consistent series over the window is in its pool (`slice_units`).

Who is a placebo: an authority that ran no listed programme in the window
(a configured study whose programme ran, or an entry under
``interventions``, overlapping the window's years, the same rule that keeps
such authorities out of every study's donor pool).  Such an authority is
never a donor in the slice; its own design is still evaluated (its
detectable effect is what its study could see), but its row is no placebo
and never counts toward a rejection rate.

Start years: every year the data allow, i.e. every first post-period year
whose whole window has the outcome for at least `MIN_POOL` authorities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..did.config import Intervention, StudyEntry, donor_exclusions
from ..did.prepared import PreparedOutcome, PreparedPanel, prepare_outcome
from ..did.study import RankingRule, Study

# A slice needs this many authorities with a complete window: fewer, and a placebo test at 5% cannot reject
# (19 placebos is the least that lets (1 + 0) / (1 + N) fall to 0.05).
MIN_POOL = 20
# The placeholder treated unit of a slice's template study: no panel unit has this code, so eligibility
# marks nobody as treated and every authority with a complete window is a candidate.
NO_TREATED_UNIT = "none"


@dataclass(frozen=True)
class Design:
    """A study's shape, without its treated authority and start year."""

    n_pre: int
    n_post: int
    covariate: str | None
    ranking: RankingRule
    neighbour_model: str

    @property
    def label(self) -> str:
        """The design in words; equal labels mean equal designs (every field is in it)."""
        covariate = f"covariate {self.covariate}" if self.covariate else "no covariate"
        rule = self.ranking
        return (f"{self.n_pre} pre + {self.n_post} post years, {covariate}, comparator by the ranking rule "
                f"(pre-trend alpha {rule.pretrend_alpha:g}, weights {rule.weight_trend:g}/{rule.weight_level:g}/"
                f"{rule.weight_demography:g}), statistical neighbours {self.neighbour_model}")

    def study(self, treated_unit_code: str, first_post_year: int, outcomes: Sequence[str]) -> Study:
        """The study this design gives for one authority and start year."""
        return Study(
            study_id=f"placebo_{treated_unit_code}_{first_post_year}",
            treated_unit_code=treated_unit_code,
            first_post_year=first_post_year,
            pre_years=tuple(range(first_post_year - self.n_pre, first_post_year)),
            post_years=tuple(range(first_post_year, first_post_year + self.n_post)),
            outcomes=tuple(outcomes),
            covariate=self.covariate,
            ranking=self.ranking,
        )


def design_of(entry: StudyEntry) -> Design:
    study = entry.study
    return Design(len(study.pre_years), len(study.post_years), study.covariate, study.ranking, entry.neighbour_model)


def designs_of(entries: Iterable[StudyEntry]) -> list[Design]:
    """The distinct designs of the configured studies, in the order they first appear.

    A study that fixes its comparators is a different design (no selection
    step); its whole-pool estimators share the ranking-rule design's pool,
    so it adds no design of its own.
    """
    found: list[Design] = []
    for entry in entries:
        design = design_of(entry)
        if design not in found:
            found.append(design)
    return found


def start_years(panel: PreparedPanel, design: Design, outcome: str) -> list[int]:
    """Every start year whose window has the outcome (and covariate) for at least MIN_POOL authorities."""
    columns = [outcome, *([design.covariate] if design.covariate else [])]
    frame = panel.frame
    years = sorted(int(y) for y in frame["collection_year"].unique())
    complete = frame.dropna(subset=columns).groupby("collection_year")["unit_code"].agg(set)
    found = []
    for start in range(years[0] + design.n_pre, years[-1] - design.n_post + 2):
        window = range(start - design.n_pre, start + design.n_post)
        if all(y in complete.index for y in window):
            units = set.intersection(*(complete[y] for y in window))
            if len(units) >= MIN_POOL:
                found.append(start)
    return found


@dataclass(frozen=True)
class SliceUnits:
    """One slice's authorities: the pool (placebos and donors) and the programme authorities."""

    template: PreparedOutcome  # the slice's study with no treated unit: candidates = the pool
    pool: tuple[str, ...]  # complete window, ran no listed programme in it: placebo and donor
    programme: tuple[str, ...]  # complete window, ran a listed programme in it: own design only
    exclusions: Mapping[str, str]  # why each programme authority is no donor


def window_exclusions(study: Study, entries: Sequence[StudyEntry],
                      interventions: Sequence[Intervention] = ()) -> dict[str, str]:
    """Authorities that ran a listed programme overlapping ``study``'s years, with why (config's rule)."""
    entry = StudyEntry(study=study, description="placebo study", neighbour_model="", programme_ran=False)
    return donor_exclusions(entry, list(entries), list(interventions))


def slice_units(panel: PreparedPanel, design: Design, start_year: int, outcome: str,
                entries: Sequence[StudyEntry], interventions: Sequence[Intervention] = (),
                deprivation: pd.DataFrame | None = None,
                neighbours_by_unit: pd.DataFrame | None = None) -> SliceUnits:
    """The pool and the programme authorities of one slice (see the module's docstring)."""
    template = design.study(NO_TREATED_UNIT, start_year, [outcome])
    exclusions = window_exclusions(template, entries, interventions)
    prepared = prepare_outcome(panel, template, outcome, None, deprivation, exclusions, neighbours_by_unit)
    complete = prepare_outcome(panel, template, outcome, None, deprivation, None, neighbours_by_unit).candidates
    programme = tuple(u for u in complete if u in exclusions)
    return SliceUnits(template=prepared, pool=prepared.candidates, programme=programme, exclusions=exclusions)


def study_of(units: SliceUnits, treated: str, neighbours: pd.DataFrame | None) -> PreparedOutcome:
    """The prepared outcome the slice's study of ``treated`` is, as `prepare_outcome` would give it.

    Built from the slice's template (the eligibility table with the treated
    row marked, the treated unit out of the candidates) so that the panel
    is not re-checked once per authority; tests compare it with
    `prepare_outcome` run on the same study.
    """
    template = units.template
    study = replace(template.study, treated_unit_code=treated, study_id=f"placebo_{treated}_{template.study.first_post_year}")
    table = template.eligibility.assign(study_id=study.study_id)
    row = table["unit_code"] == treated
    reasons = table.loc[row, "reason"]
    # The treated unit's reasons: "treated unit" first, then whatever else eligibility found (an
    # exclusion does not apply to the treated unit itself).
    others = [r for r in (reasons.iloc[0] or "").split("; ") if r and not r.startswith("excluded: ")]
    table.loc[row, "reason"] = "; ".join(["treated unit", *others])
    table.loc[row, "eligible"] = False
    return PreparedOutcome(study=study, outcome=template.outcome, panel=template.panel, eligibility=table,
                           candidates=tuple(u for u in units.pool if u != treated), neighbours=neighbours,
                           deprivation=template.deprivation,
                           exclusions={k: v for k, v in units.exclusions.items() if k != treated},
                           neighbours_by_unit=template.neighbours_by_unit)


def sample(codes: Sequence[str], size: int | None, seed: int) -> list[str]:
    """A seeded simple random sample of ``codes`` (all of them, in order, when ``size`` is None or large)."""
    codes = list(codes)
    if size is None or size >= len(codes):
        return codes
    chosen = np.random.default_rng(seed).choice(len(codes), size=size, replace=False)
    return [codes[k] for k in sorted(chosen)]
