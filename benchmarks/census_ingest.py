"""Benchmark: reading a children-in-need census return (validated against DfE's XSD while streaming, DfE's rules,
pseudonymised) at council size and at national size.

Targets (issue: trials on census returns): a council-size return (about 5,000 children) in at most 2 s, a
national-size one (about 650,000 children, 1 million episodes) in at most 60 s on 2 cores with peak memory under
1.5 GB. Each return is generated first (SYNTHETIC, deterministic, not timed); each ingest then runs in a fresh
Python process, timed as CPU (user + sys of that process) and wall time, its peak resident memory read back.

    python benchmarks/census_ingest.py [--national] [--repeat 3] [--keep DIR]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# (stock open at the 31 March before, referrals, re-referrals, closures, open at 31 March, plans started)
SIZES = {
    # Cheshire East, 2015-16 (DfE's published figures): about 5,300 children in the return
    "council": (2176, 3749, 821, 2131, 2183, 327),
    # England-sized: about 650,000 children and 1,000,000 episodes in one return
    "national": (300_000, 700_000, 300_000, 300_000, 300_000, 60_000),
}
TARGETS = {"council": (2.0, None), "national": (60.0, 1.5e9)}

# The process's CPU from start to end (imports included: what a build pays) with its reading processes', and the
# read's own share; the budget is wall time on 2 cores, so a read split over two processes is timed by the wall.
READ = """
import resource, sys, time
from pathlib import Path
start = time.perf_counter()
from fact22_assets.core.census import rules
from fact22_assets.core.census.pseudonym import SYNTHETIC_KEY, pseudonymiser
from fact22_assets.core.census.returns import pseudonymised, read_return
before = resource.getrusage(resource.RUSAGE_SELF)
census = pseudonymised(read_return(Path(sys.argv[1]), 2024, "999", Path(sys.argv[2]), rules=rules.findings),
                       pseudonymiser(SYNTHETIC_KEY))
usage = resource.getrusage(resource.RUSAGE_SELF)
workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # a national return's two reading processes
cpu = usage.ru_utime + usage.ru_stime + workers.ru_utime + workers.ru_stime
# peak memory: this process's, plus (when it forked readers) two readers at the largest one's peak
peak = (usage.ru_maxrss + 2 * workers.ru_maxrss) * 1024
print(census.n_children, len(census.tables["episodes"]), cpu, peak, time.perf_counter() - start,
      cpu - before.ru_utime - before.ru_stime)
"""


def generate(size: str, folder: Path) -> Path:
    """One SYNTHETIC return of the given size for collection year 2024 (its schema: 2022's layout)."""
    from fact22_assets.core.census.synthetic import generate_history, write_returns

    stock, referrals, rereferrals, closures, open_end, plans = SIZES[size]
    targets = pd.DataFrame([
        (2023, "cin_at_31_march", stock), (2024, "referrals", referrals), (2024, "rereferrals", rereferrals),
        (2024, "closures", closures), (2024, "cin_at_31_march", open_end), (2024, "escalations", plans)],
        columns=["collection_year", "measure", "value"])
    started = time.perf_counter()
    history = generate_history("BM", [2024], targets, 20240331)
    path = write_returns(history, [2024], "999", folder / size, {2024: True})[2024]
    print(f"  generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s",
          flush=True)
    return path


def census_dir(folder: Path) -> Path:
    """The shipped schemas, with collection year 2024 served by the 2021-22 layout (for the benchmark only)."""
    target = folder / "census"
    (target / "schemas").mkdir(parents=True, exist_ok=True)
    source = REPO / "data" / "census"
    for path in (source / "schemas").glob("*.xsd"):
        (target / "schemas" / path.name).write_bytes(path.read_bytes())
    text = (source / "schemas.yaml").read_text().replace("collection_years: [2022]", "collection_years: [2022, 2024]")
    (target / "schemas.yaml").write_text(text)
    return target


def measure(path: Path, schemas: Path) -> tuple[int, int, float, float, float, float]:
    done = subprocess.run([sys.executable, "-c", READ, str(path), str(schemas)], capture_output=True, text=True,
                          cwd=REPO, check=True)
    children, episodes, cpu, peak, wall, reading = done.stdout.split()
    return int(children), int(episodes), float(cpu), float(peak), float(wall), float(reading)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--national", action="store_true", help="also the national-size return (minutes to generate)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the generated returns here (reused if present)")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="census_bench_"))
    schemas = census_dir(folder)
    print(f"{'return':<10} {'children':>9} {'episodes':>9} {'CPU s':>7} {'read s':>7} {'wall s':>7} {'peak MB':>8}"
          "  target: seconds of CPU, or of wall when read by two processes on 2 cores ('read s': the read's own CPU)")
    for size in ["council", *(["national"] if args.national else [])]:
        existing = folder / size / "cin_census_999_2024.xml"
        path = existing if existing.exists() else generate(size, folder)
        runs = [measure(path, schemas) for _ in range(args.repeat)]
        children, episodes = runs[0][:2]
        cpu = statistics.median(r[2] for r in runs)
        wall = statistics.median(r[4] for r in runs)
        reading = statistics.median(r[5] for r in runs)
        peak = max(r[3] for r in runs)
        seconds, memory = TARGETS[size]
        verdict = f"<= {seconds:.0f} s" + (f", < {memory / 1e9:.1f} GB" if memory else "")
        met = min(cpu, wall) <= seconds and (memory is None or peak < memory)
        print(f"{size:<10} {children:>9,} {episodes:>9,} {cpu:>7.2f} {reading:>7.2f} {wall:>7.2f} {peak / 1e6:>8.0f}"
              f"  {verdict}: "
              f"{'met' if met else 'NOT met'}", flush=True)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"(all ingest processes together: {usage.ru_utime + usage.ru_stime:.1f} s CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
