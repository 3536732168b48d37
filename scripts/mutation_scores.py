"""Mutation testing of the pure core with mutmut 3.x: the share of mutants
the tests kill, per module.

    python scripts/mutation_scores.py [module ...] [--max-children N]

Each module is mutated on its own, in a scratch copy of the tracked files,
with only the tests that exercise it (``SUITES`` below): a full run of the
suite per mutant would take days.  The copy gets a ``[tool.mutmut]`` section
naming that module and those tests (the repository's own section, in
pyproject.toml, holds the settings every run shares).  Prints one line per
module: killed / total, the share, and the surviving mutants' names, which
``mutmut show <name>`` explains inside the copy (kept with --keep).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# module -> the tests that exercise it (keep each selection fast: every mutant runs it)
SUITES: dict[str, list[str]] = {
    "fact22_assets/core/values.py": ["tests/core/test_values.py"],
    "fact22_assets/core/cin_parsers.py": ["tests/core/test_cin_parsers.py", "tests/core/test_parsers_real_files.py"],
    "fact22_assets/core/population_parsers.py": ["tests/core/test_population_parsers.py"],
    "fact22_assets/core/reference_parsers.py": ["tests/core/test_reference_parsers.py",
                                                "tests/core/test_parsers_real_files.py"],
    "fact22_assets/core/did/closed_form.py": ["tests/core/did/test_did_closed_form.py"],
    "fact22_assets/core/did/pretrends.py": ["tests/core/did/test_did_ranking.py", "tests/core/did/test_did_closed_form.py"],
    "fact22_assets/core/did/ranking.py": ["tests/core/did/test_did_ranking.py"],
    "fact22_assets/core/did/twfe.py": ["tests/core/did/test_did_twfe.py"],
    "fact22_assets/core/did/placebo.py": ["tests/core/did/test_did_estimation.py"],
    "fact22_assets/core/did/estimation.py": ["tests/core/did/test_did_estimation.py"],
    "fact22_assets/core/casework/suppression.py": ["tests/core/casework/test_casework_service.py"],
    "fact22_assets/core/casework/disclosure.py": ["tests/core/casework/test_disclosure.py"],
}

_RESULT = re.compile(r"^\s*(\S+): (\w[\w ]*)$")


def _scratch_copy(target: Path) -> None:
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _configure(copy: Path, module: str, tests: list[str], max_children: int) -> None:
    text = (copy / "pyproject.toml").read_text()
    shared = tomllib.loads(text).get("tool", {}).get("mutmut", {})
    settings = {**shared, "only_mutate": [module], "source_paths": ["fact22_assets"],
                "pytest_add_cli_args_test_selection": tests, "max_children": max_children}
    body = "\n".join(f"{key} = {_toml(value)}" for key, value in settings.items())
    text = re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", text)
    (copy / "pyproject.toml").write_text(f"{text}\n[tool.mutmut]\n{body}\n")


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def score(module: str, max_children: int, keep: bool) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="fact22-mutmut-"))
    started = time.monotonic()
    try:
        _scratch_copy(scratch)
        _configure(scratch, module, SUITES[module], max_children)
        env = {**os.environ, "PYTHONPATH": str(scratch), "GX_ANALYTICS_ENABLED": "False",
               "FACT22_DATA_DIR": str(scratch / "data")}
        subprocess.run([str(BIN / "mutmut"), "run", "--max-children", str(max_children)], cwd=scratch, env=env,
                       capture_output=True, text=True)
        listing = subprocess.run([str(BIN / "mutmut"), "results", "--all", "true"], cwd=scratch, env=env,
                                 capture_output=True, text=True).stdout
        states = {m.group(1): m.group(2).strip() for m in map(_RESULT.match, listing.splitlines()) if m}
        killed = sum(s == "killed" for s in states.values())
        survivors = sorted(name for name, s in states.items() if s == "survived")
        others = sorted(f"{name} ({s})" for name, s in states.items() if s not in {"killed", "survived"})
        return {"module": module, "killed": killed, "total": len(states), "survivors": survivors, "others": others,
                "seconds": time.monotonic() - started, "copy": str(scratch) if keep else None}
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="paths under fact22_assets/core (default: every module in SUITES)")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep each scratch copy (to `mutmut show` a survivor)")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in SUITES]
    if unknown:
        parser.error(f"no test selection for {unknown}; add them to SUITES")
    for module in args.modules or list(SUITES):
        result = score(module, args.max_children, args.keep)
        share = result["killed"] / result["total"] if result["total"] else float("nan")
        print(f"{module}: {result['killed']}/{result['total']} killed ({share:.0%}) in {result['seconds']:.0f} s",
              flush=True)
        # survivors grouped by function: `mutmut show <name>` in a --keep copy shows each diff
        by_function: dict[str, list[str]] = {}
        for name in result["survivors"]:
            function, _, number = name.rpartition("__mutmut_")
            by_function.setdefault(function.rsplit(".", 1)[-1].removeprefix("x_"), []).append(number)
        for function, numbers in sorted(by_function.items()):
            print(f"    survived in {function}: {', '.join(sorted(numbers, key=int))}", flush=True)
        for name in result["others"]:
            print(f"    {name}", flush=True)
        if result["copy"]:
            print(f"    copy kept at {result['copy']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
