"""Does the placebo-in-space p-value hold its size? Fixed comparator against reselected.

On --runs simulated panels of --areas areas (FACT22's years), the treated
unit's comparator is chosen by the ranking rule, then the permutation
p-value is computed two ways: every placebo against that fixed comparator
(`placebo.placebo_in_space`), and every placebo against its own comparator
chosen by the same rule (`selection_placebo.selection_aware_placebo`).
With --effect 0 a well-calibrated test rejects at level a in about a share
a of runs; with an effect, the share of rejections is the test's power.

    python benchmarks/selection_placebo_calibration.py [--runs 100 --areas 60 --effect 0]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from fact22_assets.core.did import FACT22, placebo_in_space
from fact22_assets.core.did.estimators import select_comparator
from fact22_assets.core.did.prepared import prepare_outcome
from fact22_assets.core.did.selection_placebo import selection_aware_placebo
from fact22_assets.core.did.simulated_panel import simulated_panel

OUTCOME = FACT22.outcomes[0]
LEVELS = (0.05, 0.10, 0.25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--areas", type=int, default=60)
    parser.add_argument("--effect", type=float, nargs="*", default=[0.0, 10.0])
    parser.add_argument("--trend-sd", type=float, default=4.0)
    args = parser.parse_args(argv)

    rows = []
    for effect in args.effect:
        for seed in range(args.runs):
            panel = simulated_panel(n_units=args.areas, effect=effect, trend_sd=args.trend_sd,
                                    outcomes=(OUTCOME,), seed=seed)
            prepared = prepare_outcome(panel, FACT22, OUTCOME)
            selection = select_comparator(prepared)
            rows.append({
                "effect": effect,
                "seed": seed,
                "fixed": placebo_in_space(prepared, selection.comparator).p_value,
                "reselected": selection_aware_placebo(prepared, selection).p_value,
            })
    results = pd.DataFrame(rows)
    summary = []
    for (effect, ), group in results.groupby(["effect"]):
        for kind in ("fixed", "reselected"):
            line = {"effect": effect, "p_value": kind, "runs": len(group), "median_p": group[kind].median()}
            line |= {f"share_p<={a}": float(np.mean(group[kind] <= a)) for a in LEVELS}
            summary.append(line)
    print(pd.DataFrame(summary).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
