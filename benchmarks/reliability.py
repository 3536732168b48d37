"""Reliability benchmark of the refresh (not a test): damaged release files,
overlapping refreshes, a file replaced mid-run and kill -9 at five points.

Each damaged file is the 2025 c1 file of the children-in-need release with
one kind of damage (format damage and plausible value damage), landed in
three starting states:

- ``published-2025``: the shipped warehouse (2025 published); the damaged
  file re-lands the published release with other bytes, so it is a
  candidate revision, ``cin_2025_r1``, checked against what was published
  (coverage, revision bound, trend) like a new release
  (``python -m fact22_assets.build``);
- ``published-2022``: the releases up to 2022 published; the whole 2025
  release lands at once, its c1 damaged (``python -m fact22_assets.build``);
- ``beside-siblings``: the releases up to 2022 published, the good b1 and d3
  of 2025 already waiting in landing/; the damaged c1 arrives and the landing
  sensor and the failure sensor handle it as the daemon would.

For every case it prints: refused (or not published), whether the message
names the file, row and column, whether the published file's sha256 is
unchanged, and whether anything is stuck afterwards (a left-over lock, a
build folder, a partial copy, or the good files refused).

    python benchmarks/reliability.py [--kinds dropped-digit,empty-file] [--states published-2022] [--skip-kills]
                                     [--skip-concurrency] [--kill-points "just after the swap"]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RELEASE = REPO / "data" / "dfe_cin" / "ees_cin_2025_release"
B1, C1, D3 = ("b1_children_in_need_2013_to_2025.csv", "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
              "d3_cpps_subsequent_plan_2013_to_2025.csv")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "-"


# --------------------------------------------------------------------------- damaged files

def _lines() -> list[str]:
    return (RELEASE / C1).read_text(encoding="utf-8-sig").splitlines()


def _text(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _set(lines: list[str], at: int, column: str, value: str) -> list[str]:
    header = lines[0].split(",")
    cells = lines[at].split(",")
    cells[header.index(column)] = value
    return lines[:at] + [",".join(cells)] + lines[at + 1:]


def _la_rows(lines: list[str], year: str) -> list[int]:
    return [i for i, line in enumerate(lines) if line.startswith(f"{year},") and ",Local authority," in line
            and '"' not in line]


def _cell(lines: list[str], at: int, column: str) -> str:
    return lines[at].split(",")[lines[0].split(",").index(column)]


def _big(lines: list[str], year: str) -> int:
    return next(i for i in _la_rows(lines, year) if int(_cell(lines, i, "referral_count")) >= 1000)


def damage(kind: str) -> tuple[bytes, str]:
    """The damaged c1 file, and the column a good message names ("" where the damage has no column)."""
    lines = _lines()
    la = _la_rows(lines, "2025")[0]
    if kind == "renamed-column":
        lines[0] = lines[0].replace("rereferral_count,", "re_referral_count,")
        return _text(lines), "rereferral_count"
    if kind == "missing-column":
        at = lines[0].split(",").index("rereferral_count")
        return _text([",".join(c for i, c in enumerate(line.split(",")) if i != at) for line in lines
                      if '"' not in line]), "rereferral_count"
    if kind == "undocumented-symbol":
        return _text(_set(lines, la, "referral_count", "k")), "referral_count"
    if kind == "negative-count":
        return _text(_set(lines, la, "referral_count", "-3")), "referral_count"
    if kind == "decimal-count":
        return _text(_set(lines, la, "referral_count", "12.5")), "referral_count"
    if kind == "duplicate-row":
        return _text(lines[: la + 1] + [lines[la]] + lines[la + 1:]), "referral_count"
    if kind == "unknown-authority":
        return _text(_set(lines, la, "old_la_code", "999")), "referral_count"
    if kind == "truncated-mid-line":
        data = _text(lines)
        return data[: len(data) // 2].rsplit(b",", 3)[0], ""
    if kind == "empty-file":
        return b"", ""
    if kind == "header-only":
        return _text(lines[:1]), ""
    if kind == "wrong-encoding":
        cells = lines[la].split(",")
        cells[lines[0].split(",").index("la_name")] = "Caf\u00e9 Borough"
        lines[la] = ",".join(cells)
        return ("\n".join(lines) + "\n").encode("cp1252"), "la_name"
    if kind == "year-not-in-name":
        return _text(_set(lines, la, "time_period", "2031")), "time_period"
    if kind == "extra-cell":
        lines[la] = lines[la] + ",7"
        return _text(lines), ""
    if kind == "binary-garbage":
        return bytes(range(256)) * 40, ""
    if kind == "dropped-digit":
        at = _big(lines, "2025")
        return _text(_set(lines, at, "referral_count", _cell(lines, at, "referral_count")[:-1])), "referral_count"
    if kind == "added-digit":
        at = _big(lines, "2025")
        return _text(_set(lines, at, "referral_count", _cell(lines, at, "referral_count") + "0")), "referral_count"
    if kind == "cut-at-line-boundary":
        return _text(lines[: len(lines) * 2 // 3]), ""
    if kind == "values-moved-between-rows":
        first, second = _la_rows(lines, "2020")[:2]
        a, b = _cell(lines, first, "referral_count"), _cell(lines, second, "referral_count")
        return _text(_set(_set(lines, first, "referral_count", b), second, "referral_count", a)), "referral_count"
    if kind == "back-series-revised":
        at = _big(lines, "2019")
        return _text(_set(lines, at, "referral_count", str(int(int(_cell(lines, at, "referral_count")) * 1.2)))), \
            "referral_count"
    if kind == "authority-dropped":
        code = lines[la].split(",")[lines[0].split(",").index("old_la_code")]
        return _text([line for line in lines if f",{code}," not in line]), ""
    if kind == "latest-year-rows-missing":
        drop = set(_la_rows(lines, "2025")[:20])
        return _text([line for i, line in enumerate(lines) if i not in drop]), ""
    raise ValueError(kind)


KINDS = ["renamed-column", "missing-column", "undocumented-symbol", "negative-count", "decimal-count",
         "duplicate-row", "unknown-authority", "truncated-mid-line", "empty-file", "header-only", "wrong-encoding",
         "year-not-in-name", "extra-cell", "binary-garbage",
         "dropped-digit", "added-digit", "cut-at-line-boundary", "values-moved-between-rows", "back-series-revised",
         "authority-dropped", "latest-year-rows-missing"]
STATES = ["published-2025", "published-2022", "beside-siblings"]
# Damage that removes rows: the refusal names the file and the missing area-years.
MISSING_ROWS = {"latest-year-rows-missing"}


# --------------------------------------------------------------------------- sites

class Site:
    def __init__(self, root: Path):
        self.root, self.data, self.landing = root, root / "data", root / "landing"
        self.warehouse = root / "warehouse" / "fact22.duckdb"

    def env(self, **extra) -> dict[str, str]:
        return {**os.environ, "FACT22_DATA_DIR": str(self.data), "FACT22_WAREHOUSE": str(self.warehouse),
                "FACT22_LANDING_DIR": str(self.landing), "GX_ANALYTICS_ENABLED": "False",
                "PYTHONPATH": str(REPO), **extra}

    def land(self, name: str, content: bytes | None = None) -> None:
        self.landing.mkdir(parents=True, exist_ok=True)
        (self.landing / name).write_bytes((RELEASE / name).read_bytes() if content is None else content)

    def build(self, **env) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "fact22_assets.build"], env=self.env(**env),
                              capture_output=True, text=True)

    def copy(self, root: Path) -> Site:
        shutil.copytree(self.root, root)
        return Site(root)

    def landing_files(self) -> list[str]:
        return sorted(p.name for p in self.landing.glob("*") if p.is_file() and not p.name.startswith("."))

    def reasons(self) -> str:
        return " ".join(p.read_text() for p in (self.landing / "rejected").glob("*.reason.txt"))

    def stuck(self) -> list[str]:
        """What would stop or confuse the next refresh."""
        problems = []
        folder = self.warehouse.parent
        if list(folder.glob(".*.partial-*")):
            problems.append("partial copy left")
        builds = folder / "build"
        if builds.exists() and any(builds.iterdir()):
            problems.append("build folder left")
        lock = folder / ".refresh.lock"
        if lock.exists():
            import fcntl

            with open(lock, "a+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(handle, fcntl.LOCK_UN)
                except BlockingIOError:
                    problems.append("lock held")
        return problems


def make_template(root: Path, with_2025: bool) -> Site:
    site = Site(root)
    shutil.copytree(REPO / "data", site.data)
    if not with_2025:
        catalogue = site.data / "sources.yaml"
        document = yaml.safe_load(catalogue.read_text())
        document["sources"] = [s for s in document["sources"] if not s["source_id"].startswith("cin_ees_2025")]
        catalogue.write_text(yaml.safe_dump(document, sort_keys=False))
    done = site.build()
    if done.returncode != 0:
        sys.exit(f"template build failed:\n{done.stderr[-3000:]}")
    return site


def sensor_refresh(site: Site) -> tuple[str, str]:
    """One landing-sensor tick and, when it asks for a run, the run and the failure sensor, in this process."""
    import dagster as dg

    for name, value in site.env().items():
        os.environ[name] = value
    from fact22_assets.definitions import defs
    from fact22_assets.glue.run_report import failure_reasons
    from fact22_assets.lifecycle.refresh import landing_sensor, conclude_failed_refresh

    instance = dg.DagsterInstance.ephemeral()
    definitions = defs()
    asked = landing_sensor(dg.build_sensor_context(instance=instance, definitions=definitions))
    if not isinstance(asked, dg.RunRequest):
        return "skipped", asked.skip_message or ""
    result = definitions.resolve_job_def("refresh").execute_in_process(instance=instance, tags=asked.tags,
                                                                       raise_on_error=False)
    if result.success:
        return "published", ""
    failure = next(e for e in result.all_events if e.event_type_value in ("PIPELINE_FAILURE", "RUN_FAILURE"))
    context = dg.build_run_status_sensor_context(sensor_name="conclude_failed_refresh", dagster_event=failure,
                                                 dagster_instance=instance,
                                                 dagster_run=result.dagster_run).for_run_failure()
    conclude_failed_refresh(context)
    return "failed", " ".join(failure_reasons(result.all_events))


# --------------------------------------------------------------------------- the battery

def run_case(templates: dict[str, Site], state: str, kind: str, scratch: Path) -> dict:
    content, column = damage(kind)
    base = templates["2025"] if state == "published-2025" else templates["2022"]
    site = base.copy(scratch / f"{state}-{kind}")
    before = sha(site.warehouse)
    siblings: list[str] = []
    if state == "published-2025":
        site.land(C1, content)
        done = site.build()
        outcome, message = ("published" if done.returncode == 0 else "failed"), done.stdout + done.stderr
    elif state == "published-2022":
        siblings = [B1, D3]
        for name in siblings:
            site.land(name)
        site.land(C1, content)
        done = site.build()
        outcome, message = ("published" if done.returncode == 0 else "failed"), done.stdout + done.stderr
    else:
        siblings = [B1, D3]
        for name in siblings:
            site.land(name)
        first, why = sensor_refresh(site)
        assert first == "skipped" and "waiting for c1" in why, (first, why)
        site.land(C1, content)
        outcome, message = sensor_refresh(site)
    refused = [p.name for p in (site.landing / "rejected").glob(f"*-{C1}")] if (site.landing / "rejected").exists() \
        else []
    reasons = site.reasons() or message
    if state == "published-2025":
        # The re-landed file must go through the revision path, not be turned away at identification.
        outcome += " (as revision cin_2025_r1)" if "cin_2025_r1" in reasons else " (read failed before the checks)" \
            if refused else ""
        if "catalogue it by hand" in reasons:
            outcome += " (REFUSED AT IDENTIFICATION, not checked)"
    names_file = f"landing/{C1}" in reasons
    # A row that is not in the file has no row number: its area and year say which row is missing.
    names_row = ("row" in reasons if kind not in MISSING_ROWS
                 else "collection_year=2025" in reasons and "area_name=" in reasons)
    names_column = (column in reasons) if column else True
    good_refused = [n for n in siblings if any((site.landing / "rejected").glob(f"*-{n}"))]
    stuck = site.stuck() + ([f"good sibling(s) refused: {good_refused}"] if good_refused else [])
    if siblings and sorted(siblings) != [n for n in site.landing_files() if n != C1]:
        stuck.append("good siblings not waiting")
    return {"state": state, "kind": kind, "refused": bool(refused),
            "outcome": outcome, "names_file_row_column": names_file and names_row and names_column,
            "published_unchanged": sha(site.warehouse) == before, "stuck": ", ".join(stuck) or "no"}


def overlapping(templates: dict[str, Site], scratch: Path) -> dict:
    """A bad refresh and a good one started together on the same warehouse (two landing folders)."""
    site = templates["2022"].copy(scratch / "overlap")
    bad_landing, good_landing = site.root / "landing-bad", site.root / "landing-good"
    bad_landing.mkdir()
    good_landing.mkdir()
    content, _ = damage("dropped-digit")
    for name in (B1, D3):
        shutil.copy(RELEASE / name, bad_landing / name)
        shutil.copy(RELEASE / name, good_landing / name)
    (bad_landing / C1).write_bytes(content)
    shutil.copy(RELEASE / C1, good_landing / C1)
    command = [sys.executable, "-m", "fact22_assets.build"]
    bad = subprocess.Popen(command, env=site.env(FACT22_LANDING_DIR=str(bad_landing)), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    good = subprocess.Popen(command, env=site.env(FACT22_LANDING_DIR=str(good_landing)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bad.wait()
    good.wait()
    import duckdb

    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        years = con.execute("SELECT max(collection_year) FROM marts.cin_rates").fetchone()[0]
        shas = {r[0] for r in con.execute("SELECT DISTINCT source_sha256 FROM raw.cin_ees").fetchall()}
    finally:
        con.close()
    good_published = hashlib.sha256((RELEASE / C1).read_bytes()).hexdigest() in shas
    bad_published = hashlib.sha256(content).hexdigest() in shas
    return {"state": "two refreshes at once", "kind": "bad + good", "refused": bad.returncode != 0,
            "outcome": f"bad exit {bad.returncode}, good exit {good.returncode}, latest year {years}, "
                       f"good c1 published {good_published}, bad c1 published {bad_published}",
            "names_file_row_column": True, "published_unchanged": good_published and not bad_published,
            "stuck": ", ".join(site.stuck()) or "no"}


def replaced_mid_run(templates: dict[str, Site], scratch: Path) -> dict:
    site = templates["2022"].copy(scratch / "replaced")
    for name in (B1, C1, D3):
        site.land(name)
    before = sha(site.warehouse)
    process = subprocess.Popen([sys.executable, "-m", "fact22_assets.build"], env=site.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    builds = site.warehouse.parent / "build"
    deadline = time.monotonic() + 120
    while not list(builds.glob("*/fact22.duckdb")) and time.monotonic() < deadline:
        time.sleep(0.02)
    content, _ = damage("dropped-digit")
    (site.landing / C1).write_bytes(content)
    output, _ = process.communicate()
    return {"state": "file replaced mid-run", "kind": "dropped-digit after the run read it",
            "refused": process.returncode != 0 and "changed while the refresh ran" in output,
            "outcome": f"exit {process.returncode}, left in landing: {C1 in site.landing_files()}",
            "names_file_row_column": C1 in output, "published_unchanged": sha(site.warehouse) == before,
            "stuck": ", ".join(site.stuck()) or "no"}


KILL_POINTS = {
    "while building": lambda s: bool(list((s.warehouse.parent / "build").glob("*/fact22.duckdb"))),
    "while checking (outputs drawn)": lambda s: bool(list((s.warehouse.parent / "build").glob("*/outputs/*"))),
    "during the publish copy": lambda s: bool(list(s.warehouse.parent.glob(".fact22.duckdb.partial-*"))),
    "just after the swap": lambda s: s.warehouse.stat().st_mtime_ns != s.started_mtime,
    "while filing the landed files": lambda s: (s.warehouse.parent / "releases").exists(),
}


def killed(templates: dict[str, Site], scratch: Path, point: str) -> dict:
    site = templates["2022"].copy(scratch / f"kill-{point.replace(' ', '-')}")
    for name in (B1, C1, D3):
        site.land(name)
    site.started_mtime = site.warehouse.stat().st_mtime_ns
    before = sha(site.warehouse)
    process = subprocess.Popen([sys.executable, "-m", "fact22_assets.build"], env=site.env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    reached = False
    while process.poll() is None:
        if KILL_POINTS[point](site):
            os.killpg(process.pid, signal.SIGKILL)
            reached = True
            break
        time.sleep(0.002)
    process.wait()
    after_kill = sha(site.warehouse)
    intact = after_kill == before or _readable(site.warehouse)
    retry = site.build()
    import duckdb

    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        rows = con.execute("SELECT count(*) FROM meta.publication WHERE vintage = 'cin_2025'").fetchone()[0]
    finally:
        con.close()
    stuck = site.stuck()
    if retry.returncode != 0:
        stuck.append("next refresh failed")
    if site.landing_files():
        stuck.append(f"left in landing: {site.landing_files()}")
    if rows != 1:
        stuck.append(f"{rows} publication rows for cin_2025")
    return {"state": "kill -9", "kind": point + ("" if reached else " (run ended before the point)"),
            "refused": False, "outcome": "killed" if reached else "finished",
            "names_file_row_column": True, "published_unchanged": intact, "stuck": ", ".join(stuck) or "no"}


def _readable(path: Path) -> bool:
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
        con.execute("SELECT count(*) FROM marts.cin_rates").fetchone()
        con.close()
        return True
    except duckdb.Error:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--states", default=",".join(STATES))
    parser.add_argument("--skip-kills", action="store_true")
    parser.add_argument("--kill-points", default=",".join(KILL_POINTS), help="comma-separated names of KILL_POINTS")
    parser.add_argument("--skip-concurrency", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        started = time.perf_counter()
        templates = {"2022": make_template(scratch / "template-2022", with_2025=False)}
        states = args.states.split(",")
        if "published-2025" in states:
            templates["2025"] = make_template(scratch / "template-2025", with_2025=True)
        for state in states:
            for kind in args.kinds.split(","):
                rows.append(run_case(templates, state, kind, scratch))
                print(_line(rows[-1]), flush=True)
        if not args.skip_concurrency:
            for case in (overlapping, replaced_mid_run):
                rows.append(case(templates, scratch))
                print(_line(rows[-1]), flush=True)
        if not args.skip_kills:
            for point in args.kill_points.split(","):
                rows.append(killed(templates, scratch, point))
                print(_line(rows[-1]), flush=True)
        print()
        print(_header())
        for row in rows:
            print(_line(row))
        damaged = [r for r in rows if r["state"] in STATES]
        print(f"\n{len(damaged)} damaged files: {sum(r['refused'] for r in damaged)} refused, "
              f"{sum(r['names_file_row_column'] for r in damaged)} named file/row/column, "
              f"{sum(not r['published_unchanged'] for r in rows if r['state'] in STATES)} published files changed, "
              f"{sum(r['stuck'] != 'no' for r in rows)} stuck; {time.perf_counter() - started:.0f} s")


def _header() -> str:
    return f"{'state':<22}{'kind':<36}{'refused':<9}{'names f/r/c':<13}{'published ok':<14}{'stuck':<10}outcome"


def _line(row: dict) -> str:
    return (f"{row['state']:<22}{row['kind'][:35]:<36}{'yes' if row['refused'] else 'no':<9}"
            f"{'yes' if row['names_file_row_column'] else 'no':<13}{'yes' if row['published_unchanged'] else 'NO':<14}"
            f"{row['stuck'][:40]:<10} {row['outcome'][:60]}")


if __name__ == "__main__":
    main()
