"""Apply each wrong build in docs/mutations.md to a scratch copy of the repo and
check that the golden tests catch it (at least one test fails).

    python scripts/run_mutations.py [--keep]

Each mutation is a textual replacement in one file; the copy's tests run with
PYTHONPATH set to the copy and FACT22_* variables pointing into it. Exit status
0 when every mutation was caught.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = [
    Mutation("a: earliest release wins", "sql/staging/cin_area_year_vintages.sql",
             "ORDER BY r.release_rank DESC, c.source_id", "ORDER BY r.release_rank ASC, c.source_id",
             ("tests/golden/test_golden_values.py",)),
    Mutation("b: standard error shown under 'Estimate'", "fact22_assets/core/report.py",
             '("Method", "method", lambda m: esc(METHOD_LABELS.get(m, m))), ("Estimate", "estimate", num),',
             '("Method", "method", lambda m: esc(METHOD_LABELS.get(m, m))), ("Estimate", "se_classical", num),',
             ("tests/golden/test_report_values.py",)),
    Mutation("c: classical p under 'Placebo-in-space p'", "fact22_assets/core/report.py",
             '("Placebo-in-space p", "permutation_p_value", pval)', '("Placebo-in-space p", "p_classical", pval)',
             ("tests/golden/test_report_values.py",)),
]

IGNORE = shutil.ignore_patterns(".git", ".venv", "warehouse", "landing", "__pycache__", ".pytest_cache",
                                ".ruff_cache", "*.egg-info")


def run(mutation: Mutation, scratch: Path) -> tuple[bool, str, float]:
    """Copy, mutate, test. Returns (caught, summary line, seconds)."""
    copy = scratch / "repo"
    shutil.copytree(REPO, copy, ignore=IGNORE)
    target = copy / mutation.path
    text = target.read_text(encoding="utf-8")
    if text.count(mutation.old) != 1:
        raise SystemExit(f"{mutation.name}: expected exactly one '{mutation.old}' in {mutation.path}, "
                         f"found {text.count(mutation.old)}")
    target.write_text(text.replace(mutation.old, mutation.new), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACT22_")}
    env.update(PYTHONPATH=str(copy), GX_ANALYTICS_ENABLED="False", DAGSTER_HOME=str(scratch / "dagster_home"),
               FACT22_WAREHOUSE=str(scratch / "warehouse" / "fact22.duckdb"))
    (scratch / "dagster_home").mkdir()
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *mutation.tests],
                            cwd=copy, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else result.stderr.strip().splitlines()[-1]
    # pytest exits 1 when tests failed; anything else (2-5) is not a caught mutation.
    return result.returncode == 1, summary, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the scratch copies")
    args = parser.parse_args()
    caught_all = True
    for mutation in MUTATIONS:
        scratch = Path(tempfile.mkdtemp(prefix="fact22-mutation-"))
        try:
            caught, summary, seconds = run(mutation, scratch)
        finally:
            if not args.keep:
                shutil.rmtree(scratch, ignore_errors=True)
        caught_all &= caught
        print(f"{'CAUGHT' if caught else 'MISSED'}  {mutation.name}  ({summary}; {seconds:.0f} s)", flush=True)
    print("every mutation was caught" if caught_all else "some mutation survived")
    return 0 if caught_all else 1


if __name__ == "__main__":
    sys.exit(main())
