"""Write the SYNTHETIC stand-ins of every trial that has a stand-in specification, and the census targets.

    python scripts/generate_standin_casework.py [--out DIR]

For each trial of data/trials.yaml with data/synthetic/<trial_id>/standin.yaml: its randomisation list, the
census histories of its children and its researcher-coded extracts (fact22_assets/core/casework/standin.py).
Then data/synthetic/census_targets.csv: the figures DfE published for each synthetic trial's authority and
collection years (and the 31 March before them), which the build's census generator gives back
(fact22_assets/core/census/synthetic.py). Only the command line lives here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fact22_assets.core.casework.standin import SPEC_FILE, write_standin  # noqa: E402
from fact22_assets.core.census.config import load_trials  # noqa: E402
from fact22_assets.core.census.synthetic import write_targets  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "data" / "synthetic", help="output folder")
    args = parser.parse_args(argv)
    trials = [t for t in load_trials(REPO / "data" / "trials.yaml") if t.synthetic]
    for trial in trials:
        spec = REPO / "data" / "synthetic" / trial.trial_id / SPEC_FILE
        for path in write_standin(trial, spec, args.out / trial.trial_id).values():
            print(path)
    print(write_targets(trials, REPO / "data", args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
