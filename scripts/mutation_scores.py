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
    # The did modules below: their files' quick tests only (the timing tests fail under load, the
    # literature reproductions take minutes).
    "fact22_assets/core/did/synthetic_control_identification.py": [
        f"tests/core/did/test_synthetic_control_identification.py::{t}" for t in (
            "test_inside_the_square_by_hand", "test_outside_the_square_by_hand",
            "test_outside_on_an_edge_with_several_weightings", "test_bounds_match_brute_force_vertex_enumeration",
            "test_outside_with_a_twin_corner_leaves_the_post_gap_open")],
    "fact22_assets/core/did/donor_pool.py": [
        "tests/core/did/test_synthetic_did.py::test_capped_pool_keeps_the_nearest_donors_and_reports_k",
        "tests/core/did/test_penalised_synthetic_control.py::test_a_treated_unit_inside_the_hull_gets_nearby_donors"],
    "fact22_assets/core/did/eligibility.py": ["tests/core/did/test_did_eligibility.py", "tests/core/did/test_did_robustness.py"],
    "fact22_assets/core/did/prepared.py": ["tests/core/did/test_did_eligibility.py", "tests/core/did/test_did_robustness.py",
                                           "tests/core/did/test_did_closed_form.py"],
    "fact22_assets/core/did/robustness.py": ["tests/core/did/test_did_robustness.py"],
    "fact22_assets/core/did/penalised_synthetic_control.py": [
        f"tests/core/did/test_penalised_synthetic_control.py::{t}" for t in (
            "test_two_donors_by_hand", "test_a_treated_unit_inside_the_hull_gets_nearby_donors",
            "test_lambda_is_chosen_on_the_held_out_last_pre_years", "test_result_path_and_summary")],
    "fact22_assets/core/did/synthetic_did.py": [
        f"tests/core/did/test_synthetic_did.py::{t}" for t in (
            "test_matches_a_literal_port_of_synthdid_on_a_small_panel",
            "test_unit_weights_solve_the_ridge_qp_to_frank_wolfe_tolerance",
            "test_noise_level_is_the_sd_of_pooled_first_differences",
            "test_recovers_a_known_effect_and_its_inference_follows_the_placebos",
            "test_capped_pool_keeps_the_nearest_donors_and_reports_k")],
    "fact22_assets/core/did/selection_placebo.py": [
        f"tests/core/did/test_selection_placebo.py::{t}" for t in (
            "test_hand_made_panel_with_ties_and_missing_demography_equals_the_loop",
            "test_a_unit_without_deprivation_or_neighbours_ranks_on_the_rest",
            "test_the_cap_ranks_each_unit_among_its_nearest_candidates_in_level",
            "test_a_bad_cap_or_a_repeated_neighbour_is_refused", "test_pick_table_columns",
            "test_a_placebo_with_no_candidate_left_has_no_pick_and_no_estimate",
            "test_a_planted_effect_gets_the_smallest_possible_p_value",
            "test_the_nearest_candidates_in_level_match_a_full_sort_even_with_tied_levels",
            "test_the_neighbours_by_unit_query_gives_each_authority_its_own_list_once")],
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
