"""What the national placebo study costs, per study, and how far its shared placebo fits are from the registry's.

On the published warehouse (FACT22_WAREHOUSE; run `make warehouse` first),
for one slice per outcome (a start year, default the middle one the data
allow) this times every method of `core/calibration/placebo_studies.run_slice`
alone and prints CPU seconds per slice and per study (user + system of this
process: the slice runs in one process here; the job runs slices in
FACT22_DID_WORKERS workers). The projection multiplies by the outcome's
number of slices: the job's cost is linear in authorities x start years
(slices), and within a slice every study's own part is one fit or one
ranking per authority, on top of what the slice shares.

With ``--audit K`` it also runs the registered estimators the ordinary way
(`registry_rows`) for K seeded authorities of the slice and prints the
largest difference of each method's estimate and p-values from the slice's:
0 for the exact ones, the size of the stated approximation for the others.

    python benchmarks/calibration_cost.py [--outcomes closures_per_10k ...] [--start-year 2019] [--audit 5]
"""

from __future__ import annotations

import argparse
import resource
import sys

import numpy as np
import pandas as pd

from fact22_assets.core.calibration.design import sample, slice_units, study_of
from fact22_assets.core.calibration.placebo_studies import METHODS, registry_rows, run_slice
from fact22_assets.defs.calibration.inputs import read_published
from fact22_assets.settings import warehouse_path

COMPARED = ["estimate", "p_classical", "p_hc1", "permutation_p_value", "reselected_p_value", "post_rmspe_p_value",
            "se_placebo"]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outcomes", nargs="*", default=None)
    parser.add_argument("--start-year", type=int, default=None)
    parser.add_argument("--audit", type=int, default=0, help="authorities to compare with the registry (seeded)")
    parser.add_argument("--seed", type=int, default=20251)
    args = parser.parse_args(argv)

    data = read_published(warehouse_path())
    outcomes = args.outcomes or sorted({o for e in data.entries for o in e.study.outcomes})
    print(f"national placebo study cost on {warehouse_path()} (vintage {data.vintage}); CPU seconds, one process")
    rows, audits = [], []
    for outcome in outcomes:
        slices = data.slices(outcome)
        chosen = next((s for s in slices if s.start_year == args.start_year), slices[len(slices) // 2])
        units = slice_units(chosen.panel, chosen.design, chosen.start_year, outcome, chosen.entries,
                            chosen.interventions, chosen.deprivation, chosen.neighbours_by_unit)
        n_studies = len(units.pool) + len(units.programme)
        for method in METHODS:
            started = _cpu()
            table = run_slice(chosen, methods=[method])
            seconds = _cpu() - started
            rows.append({"outcome": outcome, "start_year": chosen.start_year, "method": method, "studies": n_studies,
                         "slices": len(slices), "slice_s": seconds, "per_study_ms": 1000 * seconds / n_studies,
                         "projected_outcome_s": seconds * len(slices)})
            print(f"  {outcome} {chosen.start_year} {method:30s} {seconds:7.2f} s per slice, "
                  f"{1000 * seconds / n_studies:6.1f} ms per study", flush=True)
        if args.audit:
            fast = run_slice(chosen)
            for code in sample(units.pool, args.audit, args.seed):
                prepared = study_of(units, code, chosen.neighbours_of(code) if chosen.neighbours_of else None)
                merged = fast[fast["unit_code"] == code].merge(registry_rows(prepared), on=["unit_code", "method"],
                                                               suffixes=("", "_registry"))
                for _, r in merged.iterrows():
                    audits.append({"outcome": outcome, "method": r["method"], **{
                        c: abs(float(r[c]) - float(r[f"{c}_registry"])) for c in COMPARED
                        if not (pd.isna(r[c]) and pd.isna(r[f"{c}_registry"]))}})
    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    total = table.groupby("outcome")["projected_outcome_s"].sum()
    print()
    for outcome, seconds in total.items():
        print(f"projected {outcome}: {seconds:.0f} CPU s over its slices")
    print(f"projected job: {total.sum():.0f} CPU s, {total.sum() / 2 / 60:.1f} min on 2 workers "
          "(budget: 10 min on 2 cores)")
    if audits:
        frame = pd.DataFrame(audits)
        print()
        print("largest |slice - registry| over the audited studies:")
        print(frame.groupby("method").max(numeric_only=True).to_string(float_format=lambda v: f"{v:.2e}"))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
