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
unchanged, and whether anything is stuck afterwards (a left-over lock, more
than the one build folder a refused refresh keeps for inspection, a partial
copy, or the good files refused).

Then the ways in that are not a damaged file (``--skip-front-doors`` leaves them out):
a subset of assets materialised through Dagster's CLI and in process (the
published file, the accepted releases and the landing folder must not move,
and the next refresh must publish the good release), a landed file replaced
while the publish step files it, a 300 MB file named like a release part (the
sensor tick's CPU seconds and peak memory), a symbolic link, a folder and an
orphan revision sidecar in the landing folder, a release landed in part, and
an evaluator's read-only connection to the restricted case-level file.

    python benchmarks/reliability.py [--kinds dropped-digit,empty-file] [--states published-2022] [--skip-kills]
                                     [--skip-concurrency] [--skip-front-doors] [--kill-points "just after the swap"]
"""
from __future__ import annotations

import argparse
import hashlib
import json
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

    def build(self, *args: str, **env) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "fact22_assets.build", *args], env=self.env(**env),
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
        # A refresh that did not publish keeps its build for inspection until the next one starts: one folder,
        # and never the published run's (the publication manifest names the run it serves; the sensor's runs
        # write no log under logs/, so the manifest, not the newest log, says which run was published).
        kept = [b for b in builds.iterdir()] if builds.exists() else []
        manifest = self.warehouse.with_name(self.warehouse.name + ".publication.json")
        served = json.loads(manifest.read_text()).get("run_id") if manifest.exists() else None
        if len(kept) > 1 or any(b.name == served for b in kept):
            problems.append(f"{len(kept)} build folder(s) left")
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


def _outcome(done: subprocess.CompletedProcess) -> str:
    """What `make warehouse` did: published, failed, or nothing to build (a file refused before reading)."""
    if done.returncode != 0:
        return "failed"
    return "nothing to build" if "up to date" in done.stdout else "published"


def sensor_refresh(site: Site) -> tuple[str, str]:
    """One landing-sensor tick and, when it asks for a run, the run and the failure sensor, in this process."""
    import dagster as dg

    for name, value in site.env().items():
        os.environ[name] = value
    from fact22_assets.definitions import defs
    from fact22_assets.glue.run_report import failure_reasons
    from fact22_assets.lifecycle.refresh import conclude_failed_refresh, landing_sensor

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
        outcome, message = _outcome(done), done.stdout + done.stderr
    elif state == "published-2022":
        siblings = [B1, D3]
        for name in siblings:
            site.land(name)
        site.land(C1, content)
        done = site.build()
        outcome, message = _outcome(done), done.stdout + done.stderr
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


# --------------------------------------------------------------------------- ways in that are not a damaged file

SUBSET = "raw/source_files,raw/cin_ees,meta/publication"


def _unknown_code_b1() -> bytes:
    """The 2025 b1 with Cheshire East's ONS code replaced by one no authority has (the issue's reproduction)."""
    return (RELEASE / B1).read_bytes().replace(b"E06000049", b"E06999999")


def _frozen(site: Site) -> tuple:
    """What a run that must not publish leaves as it was."""
    manifest = site.warehouse.with_name(site.warehouse.name + ".publication.json")
    return (sha(site.warehouse), manifest.read_text(), site.landing_files(),
            (site.warehouse.parent / "releases").exists())


def _cli_subset(site: Site) -> subprocess.CompletedProcess:
    (site.root / "dagster_home").mkdir(exist_ok=True)
    return subprocess.run([str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "--select", SUBSET,
                           "-m", "fact22_assets.definitions"], env=site.env(DAGSTER_HOME=str(site.root / "dagster_home")),
                          capture_output=True, text=True, cwd=site.root)


def subset_through_the_cli(templates: dict[str, Site], scratch: Path) -> dict:
    site = templates["2022"].copy(scratch / "subset-cli")
    site.land(B1, _unknown_code_b1())
    site.land(C1)
    site.land(D3)
    before = _frozen(site)
    first = _cli_subset(site)  # the damaged release: refused by raw's own check, naming the code
    held = _frozen(site) == before and first.returncode != 0
    site.land(B1)
    second = _cli_subset(site)  # the good release: the subset is refused by the publication rule
    held = held and _frozen(site) == before and second.returncode != 0
    said = "publication refused: this run did not rebuild" in second.stdout + second.stderr
    names = "E06999999" in first.stdout + first.stderr
    done = site.build()
    return {"state": "subset (dagster CLI)", "kind": SUBSET, "refused": held and said,
            "outcome": f"exits {first.returncode}/{second.returncode}; next make warehouse exit {done.returncode}",
            "names_file_row_column": names, "published_unchanged": held and done.returncode == 0,
            "stuck": ", ".join(site.stuck()) or "no"}


def _in_process(site: Site, body):
    """Run ``body(defs, dg)`` with the site's settings in this process (restored after)."""
    import dagster as dg

    saved = dict(os.environ)
    os.environ.update(site.env())
    try:
        from fact22_assets.definitions import defs

        return body(defs, dg)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def subset_in_process(templates: dict[str, Site], scratch: Path) -> dict:
    site = templates["2022"].copy(scratch / "subset-in-process")
    for name in (B1, C1, D3):
        site.land(name)
    before = _frozen(site)

    def run(defs, dg):
        from fact22_assets.glue.run_report import failure_reasons

        result = defs().resolve_job_def("refresh").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
            asset_selection=[dg.AssetKey(k.split("/")) for k in SUBSET.split(",")])
        return result.success, " ".join(failure_reasons(result.all_events))

    success, reasons = _in_process(site, run)
    held = not success and _frozen(site) == before
    done = site.build()
    return {"state": "subset (in process)", "kind": SUBSET, "refused": held and "did not rebuild" in reasons,
            "outcome": f"next make warehouse exit {done.returncode}, left in landing {site.landing_files()}",
            "names_file_row_column": "staging/" in reasons, "published_unchanged": held and done.returncode == 0,
            "stuck": ", ".join(site.stuck()) or "no"}


def replaced_during_the_publish_copy(templates: dict[str, Site], scratch: Path) -> dict:
    import fact22_assets.core.landing as landing

    site = templates["2022"].copy(scratch / "replaced-in-copy")
    for name in (B1, C1, D3):
        site.land(name)
    bad, _ = damage("dropped-digit")
    real = landing.copy_verified

    def replaced_meanwhile(source, target, expected=None):
        if source.name == C1 and target.parent.name == "cin_2025":
            (site.landing / C1).write_bytes(bad)
        return real(source, target, expected)

    landing.copy_verified = replaced_meanwhile
    try:
        first, _ = sensor_refresh(site)
    finally:
        landing.copy_verified = real
    archived = site.warehouse.parent / "releases" / "cin_2025" / C1
    good = hashlib.sha256((RELEASE / C1).read_bytes()).hexdigest()
    entries = yaml.safe_load((site.warehouse.parent / "releases" / "accepted_sources.yaml").read_text())["sources"]
    recorded = next(e["sha256"] for e in entries if e["path"].endswith(C1))
    archived_ok = sha(archived) == good == recorded
    second, why = sensor_refresh(site)  # the replacement, checked for what it is: a revision, refused
    return {"state": "replaced in publish copy", "kind": "dropped-digit c1 dropped while filing",
            "refused": second == "failed" and "changed since it was catalogued" not in why,
            "outcome": f"first {first}, archived = checked: {archived_ok}; next refresh {second}",
            "names_file_row_column": f"landing/{C1}" in why, "published_unchanged": archived_ok,
            "stuck": ", ".join(site.stuck()) or "no"}


TICK = """
import os, resource, sys, time
import dagster as dg
started = time.process_time()
from fact22_assets.definitions import defs
from fact22_assets.lifecycle.refresh import landing_sensor
loaded = time.process_time()
tick = landing_sensor(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), definitions=defs()))
print(type(tick).__name__, time.process_time() - loaded, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
print(getattr(tick, "skip_message", "") or "")
"""


def huge_file(templates: dict[str, Site], scratch: Path) -> dict:
    """A 300 MB text file named like a release part: one sensor tick, its CPU seconds (after loading the
    definitions) and the process's peak memory."""
    site = templates["2022"].copy(scratch / "huge")
    site.landing.mkdir(parents=True, exist_ok=True)
    line = (RELEASE / C1).read_bytes().split(b"\n")[1] + b"\n"
    with open(site.landing / "c1_children_in_need_referrals_and_rereferrals_2013_to_2026.csv", "wb") as handle:
        handle.write((RELEASE / C1).read_bytes().split(b"\n")[0] + b"\n")
        block = line * 4096
        while handle.tell() < 300 * 1024 * 1024:
            handle.write(block)
    before = sha(site.warehouse)
    done = subprocess.run([sys.executable, "-c", TICK], env=site.env(), capture_output=True, text=True)
    kind, seconds, peak = done.stdout.splitlines()[0].split()
    said = done.stdout.splitlines()[1] if len(done.stdout.splitlines()) > 1 else done.stderr[-300:]
    refused = list((site.landing / "rejected").glob("*.reason.txt"))
    return {"state": "landing: huge file", "kind": "300 MB text named like c1 2026", "refused": bool(refused),
            "outcome": f"{kind}; tick {float(seconds):.2f} s CPU, peak {peak} MB",
            "names_file_row_column": "refused without reading it" in said, "published_unchanged":
            sha(site.warehouse) == before, "stuck": ", ".join(site.stuck()) or "no"}


def _tick(site: Site) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-c", TICK], env=site.env(), capture_output=True, text=True)
    lines = done.stdout.splitlines()
    return (lines[0].split()[0], lines[1] if len(lines) > 1 else "") if lines else ("error", done.stderr[-300:])


def landing_entries(templates: dict[str, Site], scratch: Path) -> list[dict]:
    """A link, a folder, an orphan sidecar and a release landed in part: none is read or rebuilt."""
    rows = []
    cases = {
        "symbolic link": lambda s: (s.landing / C1).symlink_to(RELEASE / C1),
        "folder": lambda s: (s.landing / "download").mkdir() or shutil.copy(RELEASE / C1, s.landing / "download"),
        "orphan sidecar": lambda s: (s.landing / f"{C1}.revision.yaml").write_text("reason: a correction\n"),
        "release in part": lambda s: s.land(B1),
    }
    expected = {"symbolic link": "a symbolic link", "folder": "is a folder: not read",
                "orphan sidecar": "declares a revision of a file that is not in the landing folder",
                "release in part": "waiting for c1 and d3"}
    for kind, make in cases.items():
        site = templates["2022"].copy(scratch / f"entry-{kind.replace(' ', '-')}")
        site.landing.mkdir(parents=True, exist_ok=True)
        make(site)
        before, target = sha(site.warehouse), sha(RELEASE / C1)
        outcome, said = _tick(site)
        build = site.build()  # make warehouse: nothing to do either
        rebuilt = "up to date" not in build.stdout
        rows.append({"state": f"landing: {kind}", "kind": "sensor tick, then make warehouse",
                     "refused": outcome == "SkipReason" and not rebuilt,
                     "outcome": f"{outcome}; make warehouse {'REBUILT' if rebuilt else 'up to date'}",
                     "names_file_row_column": expected[kind] in said,
                     "published_unchanged": sha(site.warehouse) == before and sha(RELEASE / C1) == target,
                     "stuck": ", ".join(site.stuck()) or "no"})
    return rows


HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); print('open', flush=True); time.sleep(900)"


def restricted_reader(templates: dict[str, Site], scratch: Path) -> dict:
    """An evaluator's read-only connection to the restricted file during a refresh that writes it."""
    site = templates["2022"].copy(scratch / "restricted-reader")
    for name in (B1, C1, D3):
        site.land(name)
    before = sha(site.warehouse)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(site.warehouse.parent / "restricted" / "casework.duckdb")],
                              stdout=subprocess.PIPE)
    holder.stdout.readline()
    try:
        done = site.build("--force")
    finally:
        holder.kill()
        holder.wait()
    said = done.stdout + done.stderr
    built = said.count("  ok  ")
    return {"state": "restricted file read", "kind": "read-only reader, make warehouse --force",
            "refused": done.returncode != 0 and "open read-only" in said and "for writing" not in said,
            "outcome": f"exit {done.returncode}, stages built before stopping: {built}, landed kept: "
                       f"{site.landing_files() == sorted((B1, C1, D3))}",
            "names_file_row_column": f"process {holder.pid}" in said, "published_unchanged": sha(site.warehouse) == before,
            "stuck": ", ".join(site.stuck()) or "no"}


FRONT_DOORS = [subset_through_the_cli, subset_in_process, replaced_during_the_publish_copy, huge_file,
               restricted_reader]


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
    parser.add_argument("--skip-front-doors", action="store_true",
                        help="leave out the subsets, the replaced copy, the huge file, the landing entries and "
                             "the restricted reader")
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
        if not args.skip_front_doors:
            for case in FRONT_DOORS:
                rows.append(case(templates, scratch))
                print(_line(rows[-1]), flush=True)
            for row in landing_entries(templates, scratch):
                rows.append(row)
                print(_line(row), flush=True)
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
