"""How strand 1 scales with the number of areas: the whole strand, per component.

Budget (issue 19): the whole strand within 30 s of CPU at 15,000
areas x 30 years, with the per-area cost flat (within 20%) at 1,500, 3,000 and
15,000 areas. For each size this times, on a simulated panel and from a
prepared outcome (preparing is timed on its own line, outside the total):

- rank: the comparator rule for the treated unit (`select_comparator`);
- did: the report's DiD against that comparator (`did_estimates`) and its
  placebo-in-space against the same comparator (`placebo_in_space`);
- reselect: the placebo-in-space with re-selection (`selection_aware_placebo`):
  every area ranks the others, capped at the --cap = K candidates nearest
  in pre-period level, then one DiD per distinct pick;
- sdid: synthetic DiD with its exact placebo variance (every donor once) on the --sdid-donors
  nearest donors (`synthetic_did(max_donors=...)`);
- sc_placebos: the penalised synthetic control as the pipeline runs it
  (`penalised_study`): lambda by the leave-one-out rule (every area, or
  200 spread over them, fitted from its own --sc-donors nearest at each
  lambda of the grid), the treated unit's fit, and every area as
  pseudo-treated, each fitted from its own --sc-donors nearest donors (a
  k-d tree finds them) at its own lambda.

The caps are configurable and printed in the table (columns cap,
sdid_donors, sc_donors). The table gives seconds per component, the total
and the per-area cost (microseconds of total per area); timings are CPU
seconds of this process (`time.process_time`, every thread), best of
--repeats runs. numba's compiled kernels are loaded (or compiled) once
before the first size, outside the timings. A loop check on --check-size areas
(default 150, uncapped) compares the vectorised re-selection with
`rank_comparators` run with each unit as treated: exit status 1 if they
pick differently.

    python benchmarks/selection_placebo_scaling.py [--sizes 1500 3000 15000] [--years 30] [--cap 500]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import replace

import pandas as pd

from fact22_assets.core.did import FACT22, rank_comparators
from fact22_assets.core.did.donor_pool import DEFAULT_MAX_DONORS
from fact22_assets.core.did.estimation import did_estimates
from fact22_assets.core.did.estimators import select_comparator
from fact22_assets.core.did.penalised_synthetic_control import penalised_study
from fact22_assets.core.did.placebo import placebo_in_space
from fact22_assets.core.did.prepared import prepare_outcome
from fact22_assets.core.did.selection_placebo import rank_all_pairs, selection_aware_placebo
from fact22_assets.core.did.simulated_panel import simulated_panel
from fact22_assets.core.did.synthetic_did import synthetic_did

OUTCOME = FACT22.outcomes[0]
LAST_YEAR = 2019


def study_over(n_years: int):
    """FACT22's design stretched to `n_years` years ending 2019, the last four post-period."""
    years = tuple(range(LAST_YEAR - n_years + 1, LAST_YEAR + 1))
    return replace(FACT22, pre_years=years[:-4], post_years=years[-4:])


def best_of(repeats: int, function, label: str | None = None):
    times, result = [], None
    for _ in range(repeats):
        start = time.process_time()
        result = function()
        times.append(time.process_time() - start)
    if label:
        print(f"  {label}: {min(times):.3g} s", file=sys.stderr, flush=True)
    return min(times), result


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(n_areas: int, n_years: int, caps: dict, repeats: int) -> dict:
    study = study_over(n_years)
    n_pre = len(study.pre_years)
    panel = simulated_panel(n_units=n_areas, years=study.study_years, outcomes=(OUTCOME,), seed=n_areas)
    prepare_seconds, prepared = best_of(1, lambda: prepare_outcome(panel, study, OUTCOME))
    years = list(study.study_years)
    seconds = {}
    seconds["rank"], selection = best_of(repeats, lambda: select_comparator(prepared), f"{n_areas} rank")

    def did():
        return did_estimates(prepared, selection.comparator), placebo_in_space(prepared, selection.comparator)

    seconds["did"], _ = best_of(repeats, did, f"{n_areas} did")
    seconds["reselect"], reselected = best_of(
        repeats, lambda: selection_aware_placebo(prepared, selection, max_candidates=caps["cap"]), f"{n_areas} reselect")
    treated = prepared.values(OUTCOME, [study.treated_unit_code], years)[0]
    donors = prepared.values(OUTCOME, list(prepared.candidates), years)
    seconds["sdid"], sdid = best_of(repeats, lambda: synthetic_did(
        treated, donors, n_pre, max_donors=caps["sdid_donors"]), f"{n_areas} sdid")

    def sc_placebos():
        study = penalised_study(treated, donors, n_pre, max_donors=caps["sc_donors"])
        return study.placebos, study.k

    seconds["sc_placebos"], (sc_table, sc_k) = best_of(repeats, sc_placebos, f"{n_areas} sc_placebos")
    total = sum(seconds.values())
    return {
        "areas": n_areas,
        "years": n_years,
        "cap": caps["cap"] or "",
        "sdid_donors": sdid.n_donors,
        "sc_donors": sc_k,
        "prepare_s": prepare_seconds,
        **{f"{name}_s": value for name, value in seconds.items()},
        "total_s": total,
        "us_per_area": 1e6 * total / n_areas,
        "distinct_picks": reselected.n_distinct_comparators,
        "sc_placebos": len(sc_table),
        "peak_rss_mb": peak_memory_mb(),
    }


def loop_check(n_areas: int, n_years: int, loop_sample: int) -> bool:
    """The vectorised re-selection picks what `rank_comparators` picks with each unit as treated."""
    study = study_over(n_years)
    panel = simulated_panel(n_units=n_areas, years=study.study_years, outcomes=(OUTCOME,), seed=n_areas)
    prepared = prepare_outcome(panel, study, OUTCOME)
    units = [study.treated_unit_code, *prepared.candidates]
    picks = rank_all_pairs(prepared, units, prepared.candidates)
    sample = units[:loop_sample]
    without_treated = panel[panel["unit_code"] != study.treated_unit_code]
    loop_picks = []
    for unit in sample:
        source = panel if unit == study.treated_unit_code else without_treated
        ranking = rank_comparators(prepare_outcome(source, replace(study, treated_unit_code=unit), OUTCOME))
        loop_picks.append(ranking["unit_code"].iloc[0])
    return loop_picks == picks["comparator_code"].iloc[:len(sample)].tolist()


def warm_up() -> None:
    """Load (or, after a change, compile) numba's kernels before anything is timed."""
    run(60, 10, {"cap": None, "sdid_donors": None, "sc_donors": 20}, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1500, 3000, 15000])
    parser.add_argument("--years", type=int, default=30)
    parser.add_argument("--cap", type=int, default=500, help="re-selection: candidates per area (0: all)")
    parser.add_argument("--sdid-donors", type=int, default=50, help="synthetic DiD's donor pool (0: all)")
    parser.add_argument("--sc-donors", type=int, default=DEFAULT_MAX_DONORS, help="each SC placebo's donor pool")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--check-size", type=int, default=150, help="0 to skip the loop check")
    parser.add_argument("--loop-sample", type=int, default=20)
    args = parser.parse_args(argv)

    warm_up()
    ok = loop_check(args.check_size, 10, args.loop_sample) if args.check_size else True
    print(f"loop check at {args.check_size} areas: {'same picks' if ok else 'PICKS DIFFER'}", flush=True)
    caps = {"cap": args.cap or None, "sdid_donors": args.sdid_donors or None, "sc_donors": args.sc_donors}
    rows = []
    for n_areas in args.sizes:
        rows.append(run(n_areas, args.years, caps, args.repeats))
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=lambda v: f"{v:.3g}"), flush=True)
    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if not ok:
        print("the vectorised picks differ from the loop's", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
