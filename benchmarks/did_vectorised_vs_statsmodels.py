"""Vectorised closed-form pair fits against a loop of statsmodels OLS fits.

Two fits run once per eligible authority in strand 1: the pre-trend test
(treated unit against each candidate) and the placebo-in-space DiD with the
CIN covariate (each placebo against the comparator). This script times both
ways on the same units x years arrays, checks that they agree to 1e-8, and
checks that the vectorised fits scale linearly with the number of areas.

    python benchmarks/did_vectorised_vs_statsmodels.py [--areas N --years T]
    python benchmarks/did_vectorised_vs_statsmodels.py --panel-csv panel.csv

Without --panel-csv it runs (a) a synthetic panel of 150 areas x 15 years and
(b) one of --areas x --years (default 15,000 x 30), where the statsmodels
loop is timed on --sample fits and extrapolated linearly; the scaling check
times the vectorised fits at a tenth, a fifth and all of --areas. With
--panel-csv it runs on a real panel (the strand-1 input contract) for each
FACT22 outcome, over the eligible units. Timings cover fitting only, from
arrays already in memory, best of --repeats runs. Exit status 1 if any
difference exceeds the tolerance.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

from fact22_assets.core.did import (
    FACT22,
    differential_slopes,
    pair_did,
    rank_comparators,
    selected_comparator,
)
from fact22_assets.core.did.panel import complete_matrix
from fact22_assets.core.did.prepared import prepare_outcome
from fact22_assets.core.did.simulated_panel import simulated_panel

TOLERANCE = 1e-8


@dataclass
class Arrays:
    """Outcome and covariate as units x years arrays: row 0 treated, row 1 the comparator."""

    label: str
    years: np.ndarray
    post: np.ndarray
    y: np.ndarray
    x: np.ndarray


@dataclass
class Comparison:
    fit: str
    n_fits: int
    vectorised_seconds: float
    loop_seconds: float
    n_loop_fits: int
    max_abs_difference: float

    @property
    def extrapolated(self) -> bool:
        return self.n_loop_fits < self.n_fits

    @property
    def loop_seconds_all(self) -> float:
        return self.loop_seconds * self.n_fits / self.n_loop_fits


def synthetic_arrays(areas: int, years: int, seed: int) -> Arrays:
    span = np.arange(2000, 2000 + years)
    n_pre = years // 2
    first_post = int(span[n_pre])
    panel = simulated_panel(n_units=areas - 1, years=span, first_post_year=first_post, seed=seed)
    codes = panel["unit_code"].unique()
    return Arrays(
        label=f"synthetic panel: {areas:,} areas x {years} years ({n_pre} pre, {years - n_pre} post)",
        years=span,
        post=span >= first_post,
        y=complete_matrix(panel, "closures_per_10k", codes, span),
        x=complete_matrix(panel, "cin_at_31_march", codes, span),
    )


def panel_arrays(panel: pd.DataFrame, outcome: str) -> Arrays:
    study = FACT22
    prepared = prepare_outcome(panel, study, outcome)
    comparator = selected_comparator(rank_comparators(prepared))
    others = [u for u in prepared.candidates if u != comparator]
    codes = [study.treated_unit_code, comparator, *others]
    years = np.array(study.study_years)
    return Arrays(
        label=f"{outcome}: {len(codes) - 1} eligible areas x {years.size} years, "
        f"comparator {comparator}",
        years=years,
        post=np.isin(years, study.post_years),
        y=complete_matrix(panel, outcome, codes, years),
        x=complete_matrix(panel, study.covariate, codes, years),
    )


def best_time(function, repeats: int) -> tuple[float, object]:
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def compare_pretrends(data: Arrays, sample: int | None, repeats: int) -> Comparison:
    pre = ~data.post
    treated, candidates, years = data.y[0, pre], data.y[1:, pre], data.years[pre]
    seconds, fits = best_time(lambda: differential_slopes(treated, candidates, years), repeats)
    vectorised = np.column_stack([fits.estimate, fits.se, fits.p])

    rows = _sample_rows(candidates.shape[0], sample)
    is_treated = np.repeat([1.0, 0.0], years.size)
    year = np.tile(years.astype(float), 2)

    def loop() -> np.ndarray:
        out = []
        for i in rows:
            design = np.column_stack([np.ones_like(year), is_treated, year, is_treated * year])
            fit = sm.OLS(np.concatenate([treated, candidates[i]]), design).fit()
            out.append((fit.params[3], fit.bse[3], fit.pvalues[3]))
        return np.array(out)

    loop_seconds, reference = best_time(loop, 1)
    return Comparison(
        "pre-trend slope", candidates.shape[0], seconds, loop_seconds, rows.size,
        float(np.abs(vectorised[rows] - reference).max()),
    )


def compare_placebos(data: Arrays, sample: int | None, repeats: int) -> Comparison:
    control_y, control_x = data.y[1], data.x[1]
    pseudo_y, pseudo_x = np.delete(data.y, 1, axis=0), np.delete(data.x, 1, axis=0)
    seconds, fits = best_time(
        lambda: pair_did(pseudo_y, control_y, data.post, pseudo_x, control_x), repeats
    )
    vectorised = np.column_stack([fits.estimate, fits.se, fits.p, fits.covariate_coefficient])

    rows = _sample_rows(pseudo_y.shape[0], sample)
    n_years = data.years.size
    is_treated = np.repeat([1.0, 0.0], n_years)
    post = np.tile(data.post, 2).astype(float)

    def loop() -> np.ndarray:
        out = []
        for i in rows:
            cin = np.concatenate([pseudo_x[i], control_x])
            design = np.column_stack(
                [np.ones(2 * n_years), is_treated, post, is_treated * post, cin]
            )
            fit = sm.OLS(np.concatenate([pseudo_y[i], control_y]), design).fit()
            out.append((fit.params[3], fit.bse[3], fit.pvalues[3], fit.params[4]))
        return np.array(out)

    loop_seconds, reference = best_time(loop, 1)
    return Comparison(
        "placebo DiD with CIN", pseudo_y.shape[0], seconds, loop_seconds, rows.size,
        float(np.abs(vectorised[rows] - reference).max()),
    )


def _sample_rows(n: int, sample: int | None) -> np.ndarray:
    if sample is None or sample >= n:
        return np.arange(n)
    # Evenly spread, so the sample is deterministic and covers the whole array.
    return np.linspace(0, n - 1, sample).round().astype(int)


def report(data: Arrays, sample: int | None, repeats: int) -> list[Comparison]:
    comparisons = [
        compare_pretrends(data, sample, repeats),
        compare_placebos(data, sample, repeats),
    ]
    print(f"\n{data.label}")
    if any(c.extrapolated for c in comparisons):
        print(f"  statsmodels loop timed on {sample} fits and extrapolated linearly to all fits")
    print(
        f"  {'fit':<22}{'fits':>8}{'vectorised':>13}{'statsmodels loop':>19}"
        f"{'speed-up':>11}{'max |diff|':>12}"
    )
    for c in comparisons:
        loop = _duration(c.loop_seconds_all) + (" (est.)" if c.extrapolated else "")
        print(
            f"  {c.fit:<22}{c.n_fits:>8,}{_duration(c.vectorised_seconds):>13}{loop:>19}"
            f"{c.loop_seconds_all / c.vectorised_seconds:>10,.0f}x{c.max_abs_difference:>12.1e}"
        )
    return comparisons


def scaling(areas: int, years: int, seed: int, repeats: int) -> None:
    print(f"\nlinear scaling of the vectorised fits ({years} years)")
    print(f"  {'areas':>8}{'pre-trend':>12}{'placebo':>12}{'per area':>12}{'vs smallest':>13}")
    first = None
    for n in (areas // 10, areas // 5, areas):
        data = synthetic_arrays(n, years, seed)
        pre = ~data.post
        pretrend, _ = best_time(
            lambda: differential_slopes(data.y[0, pre], data.y[1:, pre], data.years[pre]), repeats
        )
        pseudo_y, pseudo_x = np.delete(data.y, 1, axis=0), np.delete(data.x, 1, axis=0)
        placebo, _ = best_time(
            lambda: pair_did(pseudo_y, data.y[1], data.post, pseudo_x, data.x[1]), repeats
        )
        per_area = (pretrend + placebo) / n
        first = first or per_area
        print(
            f"  {n:>8,}{_duration(pretrend):>12}{_duration(placebo):>12}"
            f"{per_area * 1e6:>9.2f} us{per_area / first:>12.2f}x"
        )
    print("  (per-area time flat or falling: cost grows at most linearly with the number of areas)")


def _duration(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--areas", type=int, default=15_000, help="areas in the large synthetic panel")
    add("--years", type=int, default=30, help="years in the large synthetic panel")
    add("--sample", type=int, default=500, help="statsmodels fits timed in the large panel")
    add("--repeats", type=int, default=3, help="vectorised timings: best of this many runs")
    add("--seed", type=int, default=0)
    add("--panel-csv", type=Path, help="a real strand-1 panel instead of synthetic ones")
    args = parser.parse_args(argv)

    print("Vectorised closed-form fits vs a loop of statsmodels OLS fits")
    print(f"numpy {np.__version__}, statsmodels {sm.__version__}, tolerance {TOLERANCE:g}")
    comparisons = []
    if args.panel_csv:
        text = {"unit_code": str, "unit_name": str, "panel_status": str}
        panel = pd.read_csv(args.panel_csv, dtype=text)
        for outcome in FACT22.outcomes:
            comparisons += report(panel_arrays(panel, outcome), None, args.repeats)
    else:
        comparisons += report(synthetic_arrays(150, 15, args.seed), None, args.repeats)
        large = synthetic_arrays(args.areas, args.years, args.seed)
        comparisons += report(large, args.sample, args.repeats)
        scaling(args.areas, args.years, args.seed, args.repeats)

    worst = max(c.max_abs_difference for c in comparisons)
    verdict = "PASS" if worst <= TOLERANCE else "FAIL"
    print(f"\nlargest difference from statsmodels: {worst:.1e} ({verdict}, tolerance {TOLERANCE:g})")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
