"""Benchmark: code-location load time and cold full-build wall time.

Each measurement runs in a fresh Python process (nothing imported or cached
beforehand) and builds into a new, empty DuckDB file.  Targets: loading the
definitions <= 3 s; building every asset and running every check <= 20 s;
refreshing again with nothing changed (same sources by sha256, same code)
<= 1 s, printed also as a share of the cold build.

    python benchmarks/build_benchmark.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOAD = "from fact22_assets.definitions import defs; defs().resolve_asset_graph()"
TARGETS = {"load definitions": 3.0, "cold full build": 20.0, "no-change refresh": 1.0}


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and the child's peak resident memory in MiB."""
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, peak_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {name: [] for name in TARGETS}
    peak = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.repeat):
            env = {**os.environ, "FACT22_WAREHOUSE": str(Path(scratch) / f"bench_{run}.duckdb"),
                   "GX_ANALYTICS_ENABLED": "False", "DAGSTER_HOME": scratch}
            seconds, _ = _timed([sys.executable, "-c", LOAD], env)
            results["load definitions"].append(seconds)
            seconds, peak = _timed([sys.executable, "-m", "fact22_assets.build"], env)
            results["cold full build"].append(seconds)
            seconds, _ = _timed([sys.executable, "-m", "fact22_assets.build"], env)
            results["no-change refresh"].append(seconds)
    print(f"{'measure':<20}{'median s':>10}{'min s':>10}{'max s':>10}{'target s':>10}  verdict")
    for name, values in results.items():
        verdict = "ok" if statistics.median(values) <= TARGETS[name] else "OVER TARGET"
        print(f"{name:<20}{statistics.median(values):>10.2f}{min(values):>10.2f}{max(values):>10.2f}"
              f"{TARGETS[name]:>10.1f}  {verdict}")
    share = statistics.median(results["no-change refresh"]) / statistics.median(results["cold full build"])
    print(f"no-change refresh / cold full build: {share:.1%}")
    print(f"peak resident memory of a build process: {peak:.0f} MiB; runs: {args.repeat}; cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
