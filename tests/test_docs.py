"""The README is a front door and every page's commands work: its size, its links, the make targets it names,
its one-line result against the build, and every SQL block and Python command of the pages run against the
built warehouse (the cookbook's blocks are run in tests/integration/test_report_assets.py and
test_duckdb_cli.py)."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fact22_assets.settings import REPO_ROOT

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
# Pages whose commands are run here; the cookbook's are run by the integration tests, the data dictionary
# holds none, and each other page's own tests run its commands.
RUN_HERE = [README, DOCS / "warehouse.md", DOCS / "methods.md", DOCS / "casework.md", DOCS / "validation.md"]
# Pages the README links that other work of the project writes (refresh, estimators, calibration, trials,
# performance): each must either exist or still be listed here.
PENDING: set[str] = set()
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def test_the_readme_is_a_front_door():
    assert README.stat().st_size <= 15 * 1024, README.stat().st_size
    text = README.read_text(encoding="utf-8")
    for needed in ("make warehouse", "make test", "make sql", "make ui", "evaluation_report.html",
                   "authority_explorer.html", "<!-- result:begin -->"):
        assert needed in text, needed


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_every_link_resolves(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        path = (page.parent / target).resolve()
        assert path.exists() or path.name in PENDING, f"{page.name} links {target}, which does not exist"


def test_pending_pages_are_listed_only_while_they_are_missing():
    written = sorted(name for name in PENDING if (DOCS / name).exists())
    assert not written, f"remove {written} from PENDING: the link test now checks them"


def test_every_make_target_named_exists():
    targets = set(re.findall(r"^([a-z][a-z-]*):", (REPO_ROOT / "Makefile").read_text(encoding="utf-8"), re.M))
    for page in _pages():
        for target in re.findall(r"`make ([a-z][a-z-]*)", page.read_text(encoding="utf-8")):
            assert target in targets, f"{page.name} names `make {target}`"


RESULT = re.compile(
    r"on the (?P<year>\d{4}-\d{2}) release \(vintage `(?P<vintage>[a-z0-9_]+)`\): the report's difference-in-differences "
    r"is (?P<closures>[+-][\d.]+) closures, (?P<rereferrals>[+-][\d.]+) re-referrals and "
    r"(?P<escalations>[+-][\d.]+) escalations per 10,000 residents \(placebo p = (?P<p1>[\d.]+), (?P<p2>[\d.]+), "
    r"(?P<p3>[\d.]+), each placebo choosing its own comparator\): no outcome moved beyond what chance comparisons "
    r"give\.")


def test_the_readme_result_is_the_build_s(warehouse_sql):
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- result:begin -->")[1].split("<!-- result:end -->")[0]
    found = RESULT.search(" ".join(block.split()))
    assert found, block
    latest = warehouse_sql("SELECT max_by(vintage, vintage_rank) AS v, max(collection_year) AS y "
                           "FROM marts.cin_rates_vintages").iloc[0]
    assert found["vintage"] == latest.v and found["year"] == f"{latest.y - 1}-{latest.y % 100:02d}"
    rows = warehouse_sql("SELECT outcome, estimate, reselected_p_value FROM marts.did_inference "
                         "WHERE study_id = 'fact22_cheshire_east' AND vintage = ?", [latest.v]).set_index("outcome")
    # The report's own specification, from the results mart (did_inference repeats its estimate).
    main = warehouse_sql("SELECT outcome, estimate FROM marts.did_results WHERE study_id = 'fact22_cheshire_east' "
                         "AND vintage = ? AND method = 'ols_with_covariate'", [latest.v]).set_index("outcome")
    outcomes = ["closures_per_10k", "rereferrals_per_10k", "escalations_per_10k"]
    for name, p_name, outcome in zip(("closures", "rereferrals", "escalations"), ("p1", "p2", "p3"), outcomes):
        assert float(found[name]) == round(main.estimate[outcome], 1), outcome
        assert float(found[p_name]) == round(rows.reselected_p_value[outcome], 2), outcome
    # "No outcome moved beyond chance": every headline placebo p-value is above 0.10.
    assert (rows.reselected_p_value > 0.10).all()


def _blocks(kind: str) -> list[tuple[str, str]]:
    return [(page.name, body) for page in RUN_HERE for k, body in BLOCK.findall(page.read_text(encoding="utf-8"))
            if k == kind]


@pytest.mark.parametrize("where, query", _blocks("sql"), ids=lambda v: v if v.endswith(".md") else "")
def test_every_sql_block_answers(warehouse_sql, where, query):
    assert len(warehouse_sql(query)) > 0, (where, query)


def _python_commands() -> list[tuple[str, str]]:
    return [(where, line) for where, body in _blocks("sh") for line in body.splitlines()
            if line.startswith(".venv/bin/python -c ")]


@pytest.mark.parametrize("where, command", _python_commands(), ids=lambda v: v if v.endswith(".md") else "")
def test_every_python_command_runs_on_the_published_file(built_warehouse, tmp_path, where, command):
    (tmp_path / "warehouse").mkdir()
    os.symlink(built_warehouse, tmp_path / "warehouse" / "fact22.duckdb")
    argv = shlex.split(command)
    done = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (where, done.stderr[-2000:])
    assert done.stdout.strip(), where


def test_the_pages_run_here_hold_commands_to_run():
    assert len(_blocks("sql")) >= 3 and len(_python_commands()) >= 2
    assert Path(DOCS / "warehouse.md").exists()
