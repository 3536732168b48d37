"""Benchmark: code-location load time, cold full-build wall time, and refreshes.

Each measurement runs in a fresh Python process (nothing imported or cached
beforehand) and builds into a new, empty DuckDB file.  Targets: loading the
definitions <= 3 s; building every asset and running every check <= 15 s;
refreshing again with nothing changed (same sources by sha256, same code)
<= 1 s, printed also as a share of the cold build; a population-only change
(one authority's children, mid-2020, corrected) rebuilds at most half the
assets, printed with its time.

    python benchmarks/build_benchmark.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

LOAD = "from fact22_assets.definitions import defs; defs().resolve_asset_graph()"
TARGETS = {"load definitions": 3.0, "cold full build": 15.0, "no-change refresh": 1.0}
POPULATION_FILE = Path("ons_population") / "ons_mid-year_population_estimates_2012_to_2024.csv"


def _correct_population(data: Path) -> None:
    """Cheshire East's children aged 0-17, mid-2020, plus 1,000, with the catalogue's sha256 to match."""
    path = data / POPULATION_FILE
    old_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("2020,") and ",895,E06000049," in line)
    head, value = lines[at].rstrip().rsplit(",", 1)
    lines[at] = f"{head},{int(value) + 1000}\n"
    path.write_text("".join(lines), encoding="utf-8")
    catalogue = data / "sources.yaml"
    new_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    catalogue.write_text(catalogue.read_text(encoding="utf-8").replace(old_sha, new_sha), encoding="utf-8")


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
    partial: list[tuple[float, str]] = []
    peak = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.repeat):
            data = Path(scratch) / f"data_{run}"
            shutil.copytree(REPO / "data", data)
            env = {**os.environ, "FACT22_WAREHOUSE": str(Path(scratch) / f"bench_{run}" / "fact22.duckdb"),
                   "FACT22_DATA_DIR": str(data), "FACT22_LANDING_DIR": str(Path(scratch) / f"landing_{run}"),
                   "GX_ANALYTICS_ENABLED": "False", "DAGSTER_HOME": scratch}
            seconds, _ = _timed([sys.executable, "-c", LOAD], env)
            results["load definitions"].append(seconds)
            seconds, peak = _timed([sys.executable, "-m", "fact22_assets.build"], env)
            results["cold full build"].append(seconds)
            seconds, _ = _timed([sys.executable, "-m", "fact22_assets.build"], env)
            results["no-change refresh"].append(seconds)
            _correct_population(data)
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "fact22_assets.build"], env=env, capture_output=True, text=True)
            summary = next(line for line in done.stdout.splitlines() if "assets materialised" in line)
            partial.append((time.perf_counter() - started, summary.split(";")[0]))
    print(f"{'measure':<20}{'median s':>10}{'min s':>10}{'max s':>10}{'target s':>10}  verdict")
    for name, values in results.items():
        verdict = "ok" if statistics.median(values) <= TARGETS[name] else "OVER TARGET"
        print(f"{name:<20}{statistics.median(values):>10.2f}{min(values):>10.2f}{max(values):>10.2f}"
              f"{TARGETS[name]:>10.1f}  {verdict}")
    share = statistics.median(results["no-change refresh"]) / statistics.median(results["cold full build"])
    print(f"no-change refresh / cold full build: {share:.1%}")
    for seconds, summary in partial:
        print(f"population-only change: {seconds:.1f} s, {summary} (the graph has 63 assets)")
    print(f"peak resident memory of a build process: {peak:.0f} MiB; runs: {args.repeat}; cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
