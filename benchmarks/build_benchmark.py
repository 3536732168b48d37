"""Benchmark: the build's budgets, each measured in a fresh process, as wall time and as CPU time.

Each measurement runs in a new Python process (nothing imported or cached
beforehand) into a new, empty site (warehouse, Dagster instance, landing
folder).  CPU is user + system time of the process and every process it
waited for (the DiD's forked workers included): on a shared machine it is
the figure to compare; wall time is what a person waits on a quiet one.

Budgets (docs/performance.md):
- loading the definitions <= 2 s; `dagster definitions validate` <= 3 s;
- a cold build (every study, vintage, estimator and check) <= 15 s;
- refreshing again with nothing changed (same sources by sha256, same code) <= 1 s;
- a population-only change (one authority's children, mid-2020, corrected)
  <= 40% of a cold build;
- a cold build <= 1.1x the CPU of the build of commit 69fbfed, measured in
  interleaved pairs (A B A B ...: the machine's drift hits both alike).  The
  baseline is checked out (`git archive`) into a temporary folder with a
  virtual environment of its own (or --baseline-venv, one made before).

    python benchmarks/build_benchmark.py [--repeat 3] [--pairs 3] [--baseline 69fbfed]
                                         [--baseline-venv PATH] [--no-baseline]
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
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

LOAD = "from fact22_assets.definitions import defs; defs().resolve_asset_graph()"
BASELINE = "69fbfed"
# name -> (budget, what the budget is in)
BUDGETS = {
    "load definitions": (2.0, "s"),
    "definitions validate": (3.0, "s"),
    "cold full build": (15.0, "s"),
    "no-change refresh": (1.0, "s"),
    "population-only change": (0.40, "x cold"),
    "cold build CPU / baseline's": (1.10, "x"),
}
POPULATION_FILE = Path("ons_population") / "ons_mid-year_population_estimates_2012_to_2024.csv"


@dataclass
class Timed:
    wall: float
    cpu: float
    stdout: str


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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], env: dict[str, str], cwd: Path = REPO) -> Timed:
    """Wall seconds and CPU seconds (user + system of the process tree it waited for)."""
    cpu_before, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return Timed(wall, cpu, done.stdout)


def _site(scratch: Path, name: str, repo: Path = REPO) -> dict[str, str]:
    """A new, empty site (its own copy of the data) and the environment that points a build at it."""
    root = scratch / name
    data = root / "data"
    shutil.copytree(repo / "data", data)
    (root / "dagster_home").mkdir(parents=True)
    if repo != REPO:  # this checkout's build writes its own instance configuration, as `make warehouse` does
        (root / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACT22_", "DAGSTER_"))}
    return env | {"FACT22_WAREHOUSE": str(root / "warehouse" / "fact22.duckdb"), "FACT22_DATA_DIR": str(data),
                  "FACT22_LANDING_DIR": str(root / "landing"), "DAGSTER_HOME": str(root / "dagster_home"),
                  "GX_ANALYTICS_ENABLED": "False"}


def _baseline_checkout(scratch: Path, commit: str, venv: Path | None) -> Path:
    """The baseline commit's files (git archive, no work tree of the repository touched) with a virtual
    environment of its own; its python."""
    folder = scratch / f"baseline_{commit}"
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    if venv is None:
        venv = folder / ".venv"
        print(f"installing {commit} into {venv} (pip; a minute or two) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "-e", str(folder)], check=True)
    return venv / "bin" / "python"


def _row(name: str, walls: list[float], cpus: list[float], measured: float | None = None) -> str:
    budget, unit = BUDGETS[name]
    value = statistics.median(walls) if measured is None else measured
    verdict = "ok" if value <= budget else "OVER BUDGET"
    return (f"{name:<28}{statistics.median(walls):>9.2f}{min(walls):>8.2f}{max(walls):>8.2f}"
            f"{statistics.median(cpus):>9.2f}   {budget:>5.2f} {unit:<7}{value:>7.2f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement of this checkout")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved cold-build pairs against the baseline")
    parser.add_argument("--baseline", default=BASELINE, help="the commit whose build's CPU is the yardstick")
    parser.add_argument("--baseline-venv", type=Path, help="a virtual environment with the baseline's dependencies")
    parser.add_argument("--no-baseline", action="store_true", help="skip the interleaved comparison")
    args = parser.parse_args()
    python = sys.executable
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}

    def record(name: str, timed: Timed) -> Timed:
        walls.setdefault(name, []).append(timed.wall)
        cpus.setdefault(name, []).append(timed.cpu)
        print(f"  {name}: {timed.wall:.2f} s wall, {timed.cpu:.2f} s CPU", flush=True)
        return timed

    partial: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fact22-bench-") as scratch_name:
        scratch = Path(scratch_name)
        for run in range(args.repeat):
            print(f"run {run + 1} of {args.repeat}", flush=True)
            env = _site(scratch, f"run_{run}")
            record("load definitions", _timed([python, "-c", LOAD], env))
            record("cold full build", _timed([python, "-m", "fact22_assets.build"], env))
            # After the build, as a developer runs it: on the instance the build made (a first use of a new
            # DAGSTER_HOME also creates its SQLite storage, a one-off).
            record("definitions validate", _timed([str(Path(python).parent / "dagster"), "definitions", "validate",
                                                   "-w", str(REPO / "workspace.yaml")], env))
            record("no-change refresh", _timed([python, "-m", "fact22_assets.build"], env))
            _correct_population(Path(env["FACT22_DATA_DIR"]))
            done = record("population-only change", _timed([python, "-m", "fact22_assets.build"], env))
            partial.append(next(line for line in done.stdout.splitlines() if "assets materialised" in line)
                           .split(";")[0])
            shutil.rmtree(scratch / f"run_{run}")
        ratios: list[float] = []
        if not args.no_baseline:
            baseline_python = _baseline_checkout(scratch, args.baseline, args.baseline_venv)
            baseline_repo = scratch / f"baseline_{args.baseline}"
            print(f"interleaved cold builds: this checkout (A) and {args.baseline} (B), {args.pairs} pairs", flush=True)
            for pair in range(args.pairs):
                a = _timed([python, "-m", "fact22_assets.build"], _site(scratch, f"a_{pair}"))
                b = _timed([str(baseline_python), "-m", "fact22_assets.build"],
                           _site(scratch, f"b_{pair}", baseline_repo), cwd=baseline_repo)
                ratios.append(a.cpu / b.cpu)
                print(f"  pair {pair + 1}: A {a.cpu:.2f} s CPU ({a.wall:.2f} s wall), B {b.cpu:.2f} s CPU "
                      f"({b.wall:.2f} s wall): A/B CPU {a.cpu / b.cpu:.3f}", flush=True)
                shutil.rmtree(scratch / f"a_{pair}")
                shutil.rmtree(scratch / f"b_{pair}")

    cold_wall, cold_cpu = statistics.median(walls["cold full build"]), statistics.median(cpus["cold full build"])
    print()
    print(f"{'measure':<28}{'wall s':>9}{'min':>8}{'max':>8}{'CPU s':>9}   {'budget':<13}{'value':>7}  verdict")
    for name in ("load definitions", "definitions validate", "cold full build", "no-change refresh"):
        print(_row(name, walls[name], cpus[name]))
    share = statistics.median(walls["population-only change"]) / cold_wall
    print(_row("population-only change", walls["population-only change"], cpus["population-only change"], share))
    if ratios:
        print(_row("cold build CPU / baseline's", walls["cold full build"], cpus["cold full build"],
                   statistics.median(ratios)))
        print(f"cold build CPU / {args.baseline}'s, pair by pair: {', '.join(f'{r:.3f}' for r in ratios)} "
              f"(median {statistics.median(ratios):.3f})")
    print(f"population-only change: {', '.join(partial)} of the graph; its CPU is "
          f"{statistics.median(cpus['population-only change']) / cold_cpu:.1%} of a cold build's "
          f"(wall {share:.1%})")
    print(f"no-change refresh / cold full build (wall): {statistics.median(walls['no-change refresh']) / cold_wall:.1%}")
    print(f"runs: {args.repeat}; cores: {os.cpu_count()}; load average at the end: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (above the cores: wall times are inflated, "
          "compare CPU)")


if __name__ == "__main__":
    main()
