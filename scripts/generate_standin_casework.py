"""Write the SYNTHETIC casework extracts to data/synthetic/.

    python scripts/generate_standin_casework.py [--out DIR] [--seed N]

The logic lives in fact22_assets/core/casework/standin.py; this is only
the command line around it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fact22_assets.core.casework.standin import SEED, write_standin_casework  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "data" / "synthetic", help="output folder")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    for path in write_standin_casework(args.out, args.seed).values():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
