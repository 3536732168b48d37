"""How the selection-aware placebo-in-space scales with the number of areas.

Every pseudo-treated area ranks every other one, so the pair scores are
N x N (in blocks of rows, so memory stays bounded); the DiD fits are one
`pair_did` per distinct pick. This script times, on simulated panels:

- `rank_all_pairs` for the treated unit and every placebo (all N^2 pairs),
- `selection_aware_placebo` as a whole (ranking plus the fits),
- for the smallest panel, the loop it replaces (`rank_comparators` with each
  unit as treated) on --loop-sample units, extrapolated to all N, and a
  check that both choose the same comparators for those units;

for --sizes areas x --years years (default 150, 1,500, 3,000 x 10), then
for --large areas x --large-years years with the cap --cap (the K candidates
nearest in pre-period level; default 15,000 x 30 with K = 500). Timings
are seconds of wall time, best of --repeats runs, from a prepared outcome
(preparing the panel is timed on its own line). Exit status 1 if the loop
check fails.

    python benchmarks/selection_placebo_scaling.py [--sizes 150 1500 3000] [--large 15000 --cap 500]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import replace

import pandas as pd

from fact22_assets.core.did import FACT22, rank_comparators
from fact22_assets.core.did.estimators import select_comparator
from fact22_assets.core.did.prepared import prepare_outcome
from fact22_assets.core.did.selection_placebo import rank_all_pairs, selection_aware_placebo
from fact22_assets.core.did.simulated_panel import simulated_panel

OUTCOME = FACT22.outcomes[0]
LAST_YEAR = 2019


def study_over(n_years: int):
    """FACT22's design stretched to `n_years` years ending 2019, the last four post-period."""
    years = tuple(range(LAST_YEAR - n_years + 1, LAST_YEAR + 1))
    return replace(FACT22, pre_years=years[:-4], post_years=years[-4:])


def best_of(repeats: int, function):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(n_areas: int, n_years: int, cap: int | None, repeats: int, loop_sample: int) -> tuple[dict, bool]:
    study = study_over(n_years)
    panel = simulated_panel(n_units=n_areas, years=study.study_years, outcomes=(OUTCOME,), seed=n_areas)
    prepare_seconds, prepared = best_of(1, lambda: prepare_outcome(panel, study, OUTCOME))
    select_seconds, selection = best_of(1, lambda: select_comparator(prepared))
    units = [study.treated_unit_code, *prepared.candidates]
    rank_seconds, picks = best_of(
        repeats, lambda: rank_all_pairs(prepared, units, prepared.candidates, max_candidates=cap)
    )
    total_seconds, result = best_of(repeats, lambda: selection_aware_placebo(prepared, selection, max_candidates=cap))
    row = {
        "areas": n_areas,
        "years": n_years,
        "max_candidates": cap or "",
        "candidates_per_unit": min(cap or n_areas, n_areas),
        "prepare_s": prepare_seconds,
        "select_s": select_seconds,
        "rank_all_pairs_s": rank_seconds,
        "placebo_total_s": total_seconds,
        "distinct_picks": result.n_distinct_comparators,
        "p_value": result.p_value,
        "peak_rss_mb": peak_memory_mb(),
    }
    agree = True
    if loop_sample:
        sample = units[:loop_sample]
        without_treated = panel[panel["unit_code"] != study.treated_unit_code]
        start = time.perf_counter()
        loop_picks = []
        for unit in sample:
            source = panel if unit == study.treated_unit_code else without_treated
            ranking = rank_comparators(prepare_outcome(source, replace(study, treated_unit_code=unit), OUTCOME))
            loop_picks.append(ranking["unit_code"].iloc[0])
        row["loop_extrapolated_s"] = (time.perf_counter() - start) / len(sample) * len(units)
        agree = loop_picks == picks["comparator_code"].iloc[:len(sample)].tolist()
        row["loop_agrees"] = agree
    return row, agree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[150, 1500, 3000])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--large", type=int, default=15000, help="0 to skip the capped run")
    parser.add_argument("--large-years", type=int, default=30)
    parser.add_argument("--cap", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--loop-sample", type=int, default=20)
    args = parser.parse_args(argv)

    rows, ok = [], True
    for k, n_areas in enumerate(args.sizes):
        row, agree = run(n_areas, args.years, None, args.repeats, args.loop_sample if k == 0 else 0)
        rows.append(row)
        ok &= agree
        print(pd.DataFrame([row]).to_string(index=False), flush=True)
    if args.large:
        row, _ = run(args.large, args.large_years, args.cap, args.repeats, 0)
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    table["rank_us_per_pair"] = 1e6 * table["rank_all_pairs_s"] / (table["areas"] * table["candidates_per_unit"])
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if not ok:
        print("the vectorised picks differ from the loop's", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
