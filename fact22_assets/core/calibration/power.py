"""What a design can detect, and what a programme's reach allows it to change.

Minimum detectable effect (MDE).  A design's placebo estimates e_1..e_n
(the same estimator where nothing happened) show how far its estimate
strays by chance.  Model the estimate of a constant effect delta as
delta + e, e drawn from that placebo distribution (an additive effect
shifts the post-period outcome of the treated unit, and every estimator
here is a difference of that outcome against a counterfactual fitted on
the pre-period, so it moves by exactly delta).  A permutation test on
|estimate| at level alpha rejects when fewer than alpha * (1 + n) placebos
are at least as extreme,

    p = (1 + #{|e_j| >= |estimate|}) / (1 + n) <= alpha
    <=> |estimate| > c, c = the (m + 1)-th largest |e_j|, m = floor(alpha (1 + n) - 1),

and its power at delta is the share of placebo draws with |delta + e_j| > c.
`minimum_detectable_effect` returns the smallest delta >= 0 whose power is
at least `power` in both directions (+delta and -delta): the MDE "from the
placebo quantiles".  `normal_mde` is the textbook shortcut
(z_{1-alpha/2} + z_{power}) * sd(e) = 2.80 placebo standard deviations at
5% and 80%, which assumes normal, centred placebo estimates; both are
published, the quantile one is the headline (it assumes neither).

Dilution.  A programme reaching N families a year in an authority of P
residents, changing each family's outcome by at most d events a year, can
move the authority's rate by at most N * d / P * 10,000 per 10,000
(METHOD.md: "What a design can detect").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import measures

ALPHA = 0.05
POWER = 0.80
RATE_BASE = 10_000  # rates are per 10,000 residents


@dataclass(frozen=True)
class DetectableEffect:
    """The MDE of one design, from its placebo estimates."""

    mde: float  # from the placebo quantiles (NaN when the test can never reject)
    mde_normal: float  # (z_{1-alpha/2} + z_power) * placebo sd
    critical_value: float  # |estimate| must exceed this to reject at alpha
    placebo_sd: float
    placebo_mean: float
    n_placebos: int


def critical_value(placebos: Sequence[float], alpha: float = ALPHA) -> float:
    """The |estimate| a permutation test at ``alpha`` must exceed; NaN when it can never reject."""
    magnitude = np.sort(np.abs(_finite(placebos)))[::-1]
    m = math.floor(alpha * (1 + magnitude.size) - 1 + 1e-9)
    if m < 0 or magnitude.size == 0:
        return float("nan")
    return float(magnitude[m]) if m < magnitude.size else 0.0


def power_at(delta: float | np.ndarray, placebos: Sequence[float], alpha: float = ALPHA) -> np.ndarray:
    """Share of placebo draws e with |delta + e| > c, for each delta."""
    e = _finite(placebos)
    c = critical_value(e, alpha)
    delta = np.atleast_1d(np.asarray(delta, dtype=float))
    if math.isnan(c):
        return np.zeros(delta.shape)
    return (np.abs(delta[:, None] + e[None, :]) > c).mean(axis=1)


def minimum_detectable_effect(placebos: Sequence[float], alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest delta >= 0 with power >= ``power`` at +delta and at -delta (see the module's docstring).

    Power changes only where delta + e_j or -delta + e_j crosses +-c, so it
    is evaluated just past each such crossing (and at 0): the answer is
    exact for the empirical placebo distribution.
    """
    e = _finite(placebos)
    c = critical_value(e, alpha)
    if math.isnan(c):
        return float("nan")
    crossings = np.concatenate([c - e, -c - e, c + e, -c + e])
    candidates = np.unique(np.concatenate([[0.0], crossings[crossings >= 0]]))
    # Just past each crossing: |delta + e| > c is strict, so the crossing itself does not yet count.
    candidates = np.unique(np.concatenate([candidates, np.nextafter(candidates, np.inf)]))
    enough = (power_at(candidates, e, alpha) >= power) & (power_at(-candidates, e, alpha) >= power)
    return float(candidates[enough][0]) if enough.any() else float("nan")


def normal_mde(placebo_sd: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """(z_{1-alpha/2} + z_power) * sd: 2.80 sd at 5% two-sided and 80% power."""
    from scipy import stats  # imported when a detectable effect is computed, not when the definitions load

    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * placebo_sd)


def detectable_effect(placebos: Sequence[float], alpha: float = ALPHA, power: float = POWER) -> DetectableEffect:
    e = _finite(placebos)
    sd = float(np.std(e, ddof=1)) if e.size >= 2 else float("nan")
    return DetectableEffect(mde=minimum_detectable_effect(e, alpha, power), mde_normal=normal_mde(sd, alpha, power),
                            critical_value=critical_value(e, alpha), placebo_sd=sd,
                            placebo_mean=float(e.mean()) if e.size else float("nan"), n_placebos=int(e.size))


def diluted_effect(reach_per_year: float, effect_per_family: float, population: float) -> float:
    """The change in an authority's rate per 10,000 residents when ``reach_per_year`` families each
    change their yearly events by ``effect_per_family``: reach x effect / population x 10,000."""
    if population is None or not population > 0:
        return float("nan")
    return float(reach_per_year * effect_per_family / population * RATE_BASE)


def _finite(values: Sequence[float]) -> np.ndarray:
    values = np.asarray(values, dtype=float).ravel()
    return values[np.isfinite(values)]


DILUTION_COLUMNS = [
    "study_id", "vintage", "treated_unit_code", "outcome", "reach_per_year", "reach_unit", "plausible_effect",
    "population", "population_column", "implied_effect", "largest_effect", "reach_source",
]


def dilution(entries, populations) -> pd.DataFrame:
    """Per study with a reach, data vintage and outcome: what the programme could change at authority level.

    ``populations``: vintage, unit_code, collection_year and the rates' denominators (population_all_ages,
    population_0_17).  The population is the treated authority's mean over the post-period years (the
    outcome's own denominator); a vintage without all of them is left out.  implied_effect = reach x
    plausible_effect / population x 10,000; largest_effect = reach x 1 / population x 10,000 (every family
    served changing by one event a year, the most such a programme could do).
    """
    rows = []
    for entry in entries:
        reach, study = entry.reach, entry.study
        if reach is None:
            continue
        own = populations[(populations["unit_code"] == study.treated_unit_code)
                          & populations["collection_year"].isin(study.post_years)]
        for vintage, rows_of_vintage in own.groupby("vintage", sort=True):
            for outcome in study.outcomes:
                column = measures.rate(outcome).denominator
                values = rows_of_vintage[column].dropna()
                if len(values) < len(study.post_years):
                    continue
                population = float(values.mean())
                rows.append({"study_id": study.study_id, "vintage": vintage, "treated_unit_code": study.treated_unit_code,
                             "outcome": outcome, "reach_per_year": reach.per_year, "reach_unit": reach.unit,
                             "plausible_effect": reach.plausible_effect, "population": population,
                             "population_column": column,
                             "implied_effect": diluted_effect(reach.per_year, reach.plausible_effect, population),
                             "largest_effect": diluted_effect(reach.per_year, 1.0, population),
                             "reach_source": reach.source})
    return pd.DataFrame(rows, columns=DILUTION_COLUMNS)
