"""The annual refresh, through the landing sensor: build from the releases up
to 2022, land the 2025 release, and refuse bad files without touching what
is published."""
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from fact22_assets.core.did.estimators import mart_names
from fact22_assets.glue.run_report import LANDING_TAG as LANDING_TAG_NAME
from fact22_assets.settings import REPO_ROOT

from ..conftest import build_once

RELEASE_2025 = ["b1_children_in_need_2013_to_2025.csv",
                "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
                "d3_cpps_subsequent_plan_2013_to_2025.csv"]
B1_2025, C1_2025 = RELEASE_2025[0], RELEASE_2025[1]
# Timestamps and run ids differ between two runs on the same inputs; everything else must not.
VOLATILE = {"loaded_at", "published_at", "run_id", "code_version"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Site:
    """A warehouse deployment in a temporary folder: data, landing, published file."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.landing = root / "landing"
        self.warehouse = root / "warehouse" / "fact22.duckdb"
        self.release_2025 = self.data / "dfe_cin" / "ees_cin_2025_release"

    def env(self) -> dict[str, str]:
        return {"FACT22_DATA_DIR": str(self.data), "FACT22_WAREHOUSE": str(self.warehouse),
                "DAGSTER_HOME": str(self.root / "dagster_home"),
                "FACT22_LANDING_DIR": str(self.landing), "GX_ANALYTICS_ENABLED": "False"}

    def land(self, name: str, content: bytes | None = None) -> Path:
        self.landing.mkdir(parents=True, exist_ok=True)
        target = self.landing / name
        target.write_bytes(content if content is not None else (self.release_2025 / name).read_bytes())
        return target

    def query(self, sql: str):
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql).df()
        finally:
            con.close()


def _make_site(root: Path) -> Site:
    """The shipped data less the 2025 release in the catalogue (its files stay
    on disk, to be landed)."""
    site = Site(root)
    shutil.copytree(REPO_ROOT / "data", site.data, ignore=shutil.ignore_patterns("synthetic"))
    shutil.copytree(REPO_ROOT / "data" / "synthetic", site.data / "synthetic")
    catalogue = site.data / "sources.yaml"
    document = yaml.safe_load(catalogue.read_text())
    document["sources"] = [s for s in document["sources"] if not s["source_id"].startswith("cin_ees_2025")]
    catalogue.write_text(yaml.safe_dump(document, sort_keys=False))
    # These tests are about the refresh, not the estimators (the golden and e2e tests build every study with
    # every estimator): the default study alone, on its first outcome, without the two costliest whole-pool
    # estimators.
    studies = site.data / "studies.yaml"
    configured = yaml.safe_load(studies.read_text())
    default = dict(configured["studies"][0], skip_estimators=["synthetic_did", "penalised_synthetic_control"])
    default["design"] = dict(default["design"], outcomes=default["design"]["outcomes"][:1])
    studies.write_text(yaml.safe_dump({**configured, "studies": [default]}, sort_keys=False))
    # Likewise the casework strand (a full refresh rebuilds it; a landed release never does): its first trial
    # alone, the default study's (the casework tests build every trial).
    trials = site.data / "trials.yaml"
    configured = yaml.safe_load(trials.read_text())
    first = [t for t in configured["trials"] if t["authority"] == default["design"]["treated_unit_code"]][:1]
    assert first, "no trial in the default study's authority"
    trials.write_text(yaml.safe_dump({**configured, "trials": first}, sort_keys=False))
    return site


def _sensor_refresh(monkeypatch, site: Site, instance: dg.DagsterInstance, everything: bool = False,
                    front_door: str = "sensor"):
    """Tick the landing sensor (or, ``front_door="schedule"``, evaluate the schedule); run what it asks for
    (every asset when ``everything``); on failure, tick the failure sensor, as the daemon would.  Returns
    (run request or skip, run result or None)."""
    for name, value in site.env().items():
        monkeypatch.setenv(name, value)
    from fact22_assets.definitions import defs
    from fact22_assets.lifecycle.refresh import annual_refresh, conclude_failed_refresh, landing_sensor

    definitions = defs()
    if front_door == "schedule":
        asked = annual_refresh(dg.build_schedule_context(instance=instance,
                                                         repository_def=definitions.get_repository_def()))
    else:
        asked = landing_sensor(dg.build_sensor_context(instance=instance, definitions=definitions))
    if not isinstance(asked, dg.RunRequest):
        return asked, None
    result = definitions.resolve_job_def(asked.job_name or "refresh").execute_in_process(
        instance=instance, tags=asked.tags, raise_on_error=False,
        asset_selection=None if everything else asked.asset_selection)
    if not result.success:
        failure = next(e for e in result.all_events if e.event_type_value in ("PIPELINE_FAILURE", "RUN_FAILURE"))
        context = dg.build_run_status_sensor_context(
            sensor_name="conclude_failed_refresh", dagster_event=failure, dagster_instance=instance,
            dagster_run=result.dagster_run).for_run_failure()
        conclude_failed_refresh(context)
    return asked, result


def _build(monkeypatch, site: Site, instance):
    for name, value in site.env().items():
        monkeypatch.setenv(name, value)
    from fact22_assets.definitions import defs

    result = defs().resolve_job_def("refresh").execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    return result


def _publish_2022(root: Path) -> None:
    site = _make_site(root)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _build(monkeypatch, site, dg.DagsterInstance.ephemeral())


@pytest.fixture(scope="module")
def published_2022(tmp_path_factory):
    """A site whose published warehouse holds the releases up to 2022 (built once per session, whichever
    pytest-xdist worker asks first; each test copies it)."""
    return Site(build_once(tmp_path_factory, "refresh_published_2022", _publish_2022))


def _private_copy(published: Site, tmp_path: Path) -> Site:
    copy = Site(tmp_path / "site")
    shutil.copytree(published.root, copy.root)
    return copy


@pytest.fixture
def site(published_2022, tmp_path) -> Site:
    """A private copy of the 2022 site."""
    return _private_copy(published_2022, tmp_path)


def _tables(site: Site) -> dict[str, list]:
    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        names = con.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        out = {}
        for (name,) in names:
            frame = con.execute(f"SELECT * FROM {name}").df()
            frame = frame[[c for c in frame.columns if c not in VOLATILE]]
            out[name] = sorted(map(str, frame.astype(str).itertuples(index=False)))
        return out
    finally:
        con.close()


def test_landing_the_2025_release_through_the_sensor(monkeypatch, site):
    instance = dg.DagsterInstance.ephemeral()
    skipped, _ = _sensor_refresh(monkeypatch, site, instance)
    assert isinstance(skipped, dg.SkipReason)
    assert site.query("SELECT max(collection_year) AS y FROM marts.cin_rates").y.item() == 2022

    for name in RELEASE_2025:
        site.land(name)
    request, result = _sensor_refresh(monkeypatch, site, instance)
    assert isinstance(request, dg.RunRequest) and result.success

    years = site.query("SELECT DISTINCT collection_year_label AS y FROM marts.cin_rates "
                       "WHERE la_name = 'Cheshire East'").y
    assert {"2022-23", "2023-24", "2024-25"} <= set(years)
    # The overlapping years were compared: the revisions mart shows what differs.
    revisions = site.query("SELECT * FROM marts.revisions WHERE old_release_id = 'cin_2022' "
                           "AND new_release_id = 'cin_2025'")
    assert len(revisions) > 0 and set(revisions.collection_year) <= set(range(2013, 2023))
    assert "landing/" in revisions.new_source_file.iloc[0]
    # Estimates re-materialised under the new vintage, the old vintage kept beside them.
    vintages = site.query("SELECT DISTINCT vintage FROM marts.did_results WHERE study_id = 'fact22_cheshire_east'")
    assert set(vintages.vintage) == {"cin_2022", "cin_2025"}
    # The site's one study skips synthetic DiD: its mart is published empty, not left from an earlier build.
    weights = site.query("SELECT * FROM marts.synthetic_did_weights")
    assert weights.empty and {"study_id", "vintage", "outcome"} <= set(weights.columns)
    log = site.query("SELECT vintage, landed_files FROM meta.publication ORDER BY published_at")
    assert list(log.vintage) == ["cin_2022", "cin_2025"] and C1_2025 in log.landed_files.iloc[1]
    # The landed files moved to the accepted store; the landing folder is empty.
    accepted = site.warehouse.parent / "releases"
    assert sorted(p.name for p in (accepted / "cin_2025").iterdir()) == sorted(RELEASE_2025)
    assert not [p for p in site.landing.iterdir() if p.is_file()]

    # Refreshing again on the same inputs changes nothing but timestamps.
    _build(monkeypatch, site, instance)
    assert site.query("SELECT DISTINCT source_file FROM raw.cin_ees WHERE release_id = 'cin_2025'"
                      ).source_file.str.startswith("releases/cin_2025/").all()
    before = _tables(site)
    _build(monkeypatch, site, instance)
    after = _tables(site)
    # Not even meta.publication: the same inputs and code published again are the same publication.
    assert before == after and len(after["meta.publication"]) == 2


def test_reader_is_never_blocked_and_sees_old_or_new(site):
    for name in RELEASE_2025:
        site.land(name)
    old = site.query("SELECT count(*) AS n, max(collection_year) AS y FROM marts.cin_rates").iloc[0].tolist()
    reader = duckdb.connect(str(site.warehouse), read_only=True)
    log = site.root / "refresh.log"
    with open(log, "wb") as output_file:  # a file, not a pipe: the run's log would fill a pipe and stall it
        process = subprocess.Popen([sys.executable, "-m", "fact22_assets.build"], env={**os.environ, **site.env()},
                                   stdout=output_file, stderr=subprocess.STDOUT)
        seen = []
        while process.poll() is None:
            seen.append(reader.execute("SELECT count(*), max(collection_year) FROM marts.cin_rates").fetchone())
            time.sleep(0.05)
    output = log.read_text()
    seen.append(reader.execute("SELECT count(*), max(collection_year) FROM marts.cin_rates").fetchone())
    reader.close()
    assert process.returncode == 0, output[-2000:]
    new = site.query("SELECT count(*) AS n, max(collection_year) AS y FROM marts.cin_rates").iloc[0].tolist()
    assert new != old and new[1] == 2025
    assert len(seen) > 5 and all(list(s) in (old, new) for s in seen)


def test_killed_refresh_leaves_the_published_warehouse_intact(site):
    for name in RELEASE_2025:
        site.land(name)
    before = _sha(site.warehouse)
    builds = site.warehouse.parent / "build"
    process = subprocess.Popen([sys.executable, "-m", "fact22_assets.build"], env={**os.environ, **site.env()},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    # Kill it once it is writing its build file (build/<run_id>/), well before it could publish.
    while (not list(builds.glob(f"*/{site.warehouse.name}")) and time.monotonic() < deadline
           and process.poll() is None):
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert _sha(site.warehouse) == before
    assert site.query("SELECT max(collection_year) AS y FROM marts.cin_rates").y.item() == 2022
    assert sorted(p.name for p in site.landing.iterdir() if p.is_file()) == sorted(RELEASE_2025)


def _refused(site: Site, name: str) -> Path:
    """The one refused copy of ``name`` (refused files are kept as ``<UTC time>-<name>``)."""
    found = [p for p in (site.landing / "rejected").glob(f"*-{name}")]
    assert len(found) == 1, found
    return found[0]


def _c1_lines(site: Site) -> list[str]:
    return (site.release_2025 / C1_2025).read_text(encoding="utf-8-sig").splitlines()


def _set_cell(lines: list[str], row_index: int, column: str, value: str) -> list[str]:
    header = lines[0].split(",")
    cells = lines[row_index].split(",")
    cells[header.index(column)] = value
    return lines[:row_index] + [",".join(cells)] + lines[row_index + 1:]


def _first_la_row(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if ",Local authority," in line and '"' not in line)


def _bad_c1(kind: str, site: Site) -> tuple[str, bytes, str, str]:
    """A corrupted 2025 c1 file: (file name, bytes, expected row text, expected column)."""
    lines = _c1_lines(site)
    la = _first_la_row(lines)
    text = lambda ls: ("\n".join(ls) + "\n").encode("utf-8")  # noqa: E731
    if kind == "renamed column":
        lines[0] = lines[0].replace("rereferral_count,", "re_referral_count,")
        return C1_2025, text(lines), "row 1", "rereferral_count"
    if kind == "missing column":
        header = lines[0].split(",")
        at = header.index("rereferral_count")
        lines = [",".join(c for i, c in enumerate(line.split(",")) if i != at) if '"' not in line else line
                 for line in lines if '"' not in line]
        return C1_2025, text(lines), "row 1", "rereferral_count"
    if kind == "new suppression symbol":
        return C1_2025, text(_set_cell(lines, la, "referral_count", "k")), f"source_row={la + 1}", "referral_count"
    if kind == "negative count":
        return C1_2025, text(_set_cell(lines, la, "referral_count", "-3")), f"source_row={la + 1}", "referral_count"
    if kind == "duplicate authority-year":
        lines.insert(la + 1, lines[la])
        return C1_2025, text(lines), f"rows [{la + 1}, {la + 2}]", "referral_count"
    if kind == "unknown authority code":
        return C1_2025, text(_set_cell(lines, la, "old_la_code", "999")), f"source_row={la + 1}", "referral_count"
    if kind == "truncated file":
        cut = text(lines)[: len(text(lines)) // 2]
        broken_row = cut.count(b"\n") + 1
        return C1_2025, cut.rsplit(b",", 3)[0], f"row {broken_row}", ""
    if kind == "empty file":
        return C1_2025, b"", "row 1", ""
    if kind == "wrong encoding":
        cells = lines[la].split(",")
        cells[9] = "Caf\u00e9 Borough"
        lines[la] = ",".join(cells)
        return C1_2025, ("\n".join(lines) + "\n").encode("cp1252"), f"row {la + 1}", "la_name"
    if kind == "file for the wrong year":
        return C1_2025, text(_set_cell(lines, la, "time_period", "2031")), f"row {la + 1}", "time_period"
    if kind == "dropped digit":
        header = lines[0].split(",")
        at = next(i for i, line in enumerate(lines) if line.startswith("2025,") and ",Local authority," in line
                  and '"' not in line and int(line.split(",")[header.index("referral_count")]) >= 1000)
        value = lines[at].split(",")[header.index("referral_count")]
        return C1_2025, text(_set_cell(lines, at, "referral_count", value[:-1])), f"source_row={at + 1}", \
            "referral_count"
    if kind == "cut at a line boundary":
        # Whole lines gone from the end (the oldest years): every remaining line is well formed.
        return C1_2025, text(lines[: len(lines) * 2 // 3]), "previous_row=", "landing/" + C1_2025
    if kind == "values moved between rows":
        header = lines[0].split(",")
        rows = [i for i, line in enumerate(lines) if line.startswith("2020,") and ",Local authority," in line
                and '"' not in line][:2]
        first, second = (lines[i].split(",")[header.index("referral_count")] for i in rows)
        swapped = _set_cell(_set_cell(lines, rows[0], "referral_count", second), rows[1], "referral_count", first)
        return C1_2025, text(swapped), f"source_row={rows[0] + 1}", "referral_count"
    if kind == "rows missing from the latest year":
        drop = {i for i, line in enumerate(lines) if line.startswith("2025,") and ",Local authority," in line}
        kept = [line for i, line in enumerate(lines) if i not in sorted(drop)[:20]]
        return C1_2025, text(kept), "collection_year=2025", ""
    raise ValueError(kind)


CSV_KINDS = ["renamed column", "missing column", "new suppression symbol", "negative count",
             "duplicate authority-year", "unknown authority code", "truncated file", "empty file",
             "wrong encoding", "file for the wrong year",
             # Plausible damage: every cell readable, caught only against what was published before.
             "dropped digit", "cut at a line boundary", "values moved between rows",
             "rows missing from the latest year"]


@pytest.mark.parametrize("kind", CSV_KINDS)
def test_bad_landed_file_is_refused_and_nothing_published_changes(monkeypatch, site, kind):
    name, content, where, column = _bad_c1(kind, site)
    before = _sha(site.warehouse)
    site.land(name, content)
    siblings = [n for n in RELEASE_2025 if n != name]
    for sibling in siblings:
        site.land(sibling)
    request, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert isinstance(request, dg.RunRequest) and not result.success
    assert _sha(site.warehouse) == before
    # Only the bad file is refused; the good files of its release wait in landing/ for a corrected one.
    assert _landing(site) == sorted(siblings)
    refused = _refused(site, name)
    reason = refused.with_name(refused.name + ".reason.txt").read_text()
    assert refused.read_bytes() == content and not (site.landing / name).exists()
    assert f"landing/{name}" in reason and where in reason and column in reason, reason


def test_excel_sheet_with_a_shifted_header_is_refused(monkeypatch, site):
    import openpyxl

    workbook = openpyxl.load_workbook(site.data / "ons_population" / "mye23tablesew.xlsx")
    workbook["MYE4"].insert_rows(1)
    shifted = site.root / "mye25tablesew.xlsx"
    workbook.save(shifted)
    before = _sha(site.warehouse)
    site.land(shifted.name, shifted.read_bytes())
    request, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert not result.success and _sha(site.warehouse) == before
    refused = _refused(site, shifted.name)
    reason = refused.with_name(refused.name + ".reason.txt").read_text()
    assert "landing/mye25tablesew.xlsx [sheet MYE4]" in reason and "row 8" in reason and "column 'A'" in reason
    assert "'Code' is on row 9" in reason


# --------------------------------------------------------------------------- refresh integrity (issue 10)


def _run(monkeypatch, site: Site, instance=None, selection=None):
    for name, value in site.env().items():
        monkeypatch.setenv(name, value)
    from fact22_assets.definitions import defs

    return defs().resolve_job_def("refresh").execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False,
        asset_selection=[dg.AssetKey(k.split("/")) for k in selection] if selection else None)


def _reasons(result) -> str:
    from fact22_assets.glue.run_report import failure_reasons

    return " ".join(failure_reasons(result.all_events))


def _landing(site: Site) -> list[str]:
    return sorted(p.name for p in site.landing.iterdir() if p.is_file() and not p.name.startswith("."))


def _outputs_sha(site: Site) -> dict[str, str]:
    outputs = site.warehouse.parent / "outputs"
    return {str(p.relative_to(outputs)): _sha(p) for p in sorted(outputs.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- a subset is never published (issue 17)

# The three assets a UI "Materialize" of the ingest would pick: the landed release reaches far beyond them.
SUBSET = ["raw/source_files", "raw/cin_ees", "meta/publication"]
UNKNOWN_CODE = "E06999999"


def _b1_with_an_unknown_code(site: Site) -> bytes:
    """The 2025 b1 with Cheshire East's ONS code replaced by one no authority has (13 rows, one per year)."""
    return (site.release_2025 / B1_2025).read_bytes().replace(b"E06000049", UNKNOWN_CODE.encode())


def _state(site: Site) -> tuple:
    """What a refused run must leave as it was: the published file and outputs, the manifest, the landing
    folder, and no accepted releases."""
    manifest = site.warehouse.with_name(site.warehouse.name + ".publication.json")
    return (_sha(site.warehouse), _outputs_sha(site), manifest.read_text(), _landing(site),
            (site.warehouse.parent / "releases").exists())


def _materialise_with_the_cli(site: Site, selection: list[str]) -> str:
    """``dagster asset materialize --select ...``, as the issue reproduced it (a UI "Materialize" does the same)."""
    (site.root / "dagster_home").mkdir(exist_ok=True)
    done = subprocess.run([str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "--select",
                           ",".join(selection), "-m", "fact22_assets.definitions"],
                          env={**os.environ, **site.env()}, capture_output=True, text=True, cwd=site.root)
    assert done.returncode != 0, (done.stdout + done.stderr)[-3000:]
    return done.stdout + done.stderr


def test_a_subset_materialised_through_the_cli_publishes_and_files_nothing(monkeypatch, site):
    # The reproduction: published up to 2021-22, the 2024-25 release lands with b1 damaged.
    site.land(B1_2025, _b1_with_an_unknown_code(site))
    for name in RELEASE_2025[1:]:
        site.land(name)
    before = _state(site)
    output = _materialise_with_the_cli(site, SUBSET)
    # Refused by raw's own check, which names the value; nothing published, nothing filed.
    assert f"unknown authority code {UNKNOWN_CODE}" in output or "raw_cin_ees_authority_codes_known" in output, \
        output[-3000:]
    assert _state(site) == before
    assert before[-2] == sorted(RELEASE_2025) and before[-1] is False
    # Materialised into its own build folder, kept for inspection: the bad rows are there, and only there.
    [kept] = (site.warehouse.parent / "build").glob(f"*/{site.warehouse.name}")
    con = duckdb.connect(str(kept), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM raw.cin_ees WHERE area_code = ?", [UNKNOWN_CODE]).fetchone()[0] > 0
    finally:
        con.close()
    assert site.query(f"SELECT count(*) AS n FROM raw.cin_ees WHERE area_code = '{UNKNOWN_CODE}'").n.item() == 0

    # The next refresh refuses the damaged b1 alone, naming file, row, column and value; c1 and d3 wait.
    request, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert isinstance(request, dg.RunRequest) and not result.success
    assert _sha(site.warehouse) == before[0] and _landing(site) == sorted(RELEASE_2025[1:])
    refused = _refused(site, B1_2025)
    reason = refused.with_name(refused.name + ".reason.txt").read_text()
    assert f"landing/{B1_2025}" in reason and "source_row=30" in reason and "new_la_code" in reason, reason
    assert f"unknown authority code {UNKNOWN_CODE}" in reason and "region_code" not in reason, reason
    assert C1_2025 not in reason and RELEASE_2025[2] not in reason, reason

    # The good b1 lands.  Its data pass every check the subset runs, and the subset is still not published:
    # the marts the release reaches were not rebuilt.
    site.land(B1_2025)
    before = _state(site)
    output = _materialise_with_the_cli(site, SUBSET)
    assert "publication refused: this run did not rebuild" in output and "staging/cin_area_year" in output, \
        output[-3000:]
    assert _state(site) == before
    # The next refresh publishes the whole release.
    request, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert isinstance(request, dg.RunRequest) and result.success, _reasons(result)
    assert site.query("SELECT vintage FROM meta.publication ORDER BY published_at").vintage.iloc[-1] == "cin_2025"
    codes = site.query("SELECT DISTINCT area_code FROM raw.cin_ees WHERE old_la_code = '895'").area_code
    assert set(codes) == {"E06000049"} and _landing(site) == []


def test_a_subset_materialised_in_process_publishes_and_files_nothing(monkeypatch, site):
    for name in RELEASE_2025:
        site.land(name)
    before = _state(site)
    result = _run(monkeypatch, site, selection=SUBSET)
    reasons = _reasons(result)
    assert not result.success and "this run did not rebuild" in reasons and "only cin_ees changed" in reasons, \
        reasons
    assert "marts/did_results" in reasons or "and " in reasons, reasons
    assert _state(site) == before
    # The subset's refusal is not the landed files' fault: the next refresh publishes the release.
    request, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert isinstance(request, dg.RunRequest) and result.success, _reasons(result)
    assert site.query("SELECT max(collection_year) AS y FROM marts.cin_rates").y.item() == 2025
    assert _landing(site) == [] and (site.warehouse.parent / "releases" / "cin_2025").is_dir()


def test_publication_alone_is_refused_and_publishes_nothing(monkeypatch, site):
    before, rows = _sha(site.warehouse), len(site.query("SELECT * FROM meta.publication"))
    result = _run(monkeypatch, site, selection=["meta/publication"])
    assert not result.success
    reasons = _reasons(result)
    assert "publication refused" in reasons and "nothing was built" in reasons, reasons
    assert _sha(site.warehouse) == before and len(site.query("SELECT * FROM meta.publication")) == rows


def test_publication_of_assets_built_without_their_blocking_checks_is_refused(monkeypatch, site):
    before = _sha(site.warehouse)
    for name, value in site.env().items():
        monkeypatch.setenv(name, value)
    from fact22_assets.definitions import defs

    # The assets, not their checks: as a user may pick them in the UI.
    job = dg.define_asset_job("assets_without_checks", selection=dg.AssetSelection.assets(
        dg.AssetKey(["raw", "la_lookup"]), dg.AssetKey(["meta", "publication"])).without_checks())
    definitions = dg.Definitions.merge(defs(), dg.Definitions(jobs=[job]))
    result = definitions.resolve_job_def("assets_without_checks").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    reasons = _reasons(result)
    assert not result.success and "raw/la_lookup:raw_la_lookup_valid" in reasons and "were not run" in reasons, \
        reasons
    assert _sha(site.warehouse) == before


def test_stale_partial_copy_of_a_killed_publish_is_removed(monkeypatch, site):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = site.warehouse.with_name(f".{site.warehouse.name}.partial-{dead.pid}")
    stale.write_bytes(b"half a warehouse")
    _run(monkeypatch, site, selection=["meta/publication"])
    assert not stale.exists()


def test_second_refresh_reports_the_lock_and_the_next_tick_retries(monkeypatch, site):
    from fact22_assets.core.locking import RefreshLock

    for name in RELEASE_2025:
        site.land(name)
    before = _sha(site.warehouse)
    monkeypatch.setenv("FACT22_LOCK_WAIT_SECONDS", "0.5")
    other = RefreshLock(site.warehouse.parent / ".refresh.lock")
    other.acquire(0)
    instance = dg.DagsterInstance.ephemeral()
    try:
        first, result = _sensor_refresh(monkeypatch, site, instance)
    finally:
        other.release()
    assert not result.success
    reasons = _reasons(result)
    assert "infrastructure problem" in reasons and "another refresh" in reasons, reasons
    # The good files are not refused: they wait in landing/ and the next tick asks for a new run.
    assert _landing(site) == sorted(RELEASE_2025) and not (site.landing / "rejected").exists()
    assert _sha(site.warehouse) == before
    from fact22_assets.definitions import defs
    from fact22_assets.lifecycle.refresh import landing_sensor

    again = landing_sensor(dg.build_sensor_context(instance=instance, definitions=defs()))
    assert isinstance(again, dg.RunRequest) and again.run_key != first.run_key


def test_unwritable_warehouse_folder_is_an_infrastructure_failure(monkeypatch, site):
    import errno

    import fact22_assets.glue.publishing as publishing

    def refuse(source, target):
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    # Running as root, chmod cannot make a folder unwritable: the copy into it fails as it would.
    monkeypatch.setattr(publishing, "copy_atomically", refuse)
    for name in RELEASE_2025:
        site.land(name)
    _, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    reasons = _reasons(result)
    assert not result.success and "infrastructure problem" in reasons and "not writable" in reasons, reasons
    assert _landing(site) == sorted(RELEASE_2025) and not (site.landing / "rejected").exists()


def _hold(path: Path, read_only: bool) -> subprocess.Popen:
    """Another process with a DuckDB connection open on ``path``, as an analyst's would be."""
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1], "
                               "read_only=sys.argv[2] == 'ro'); con.execute('SELECT 1'); print('open', flush=True); "
                               "time.sleep(600)", str(path), "ro" if read_only else "rw"], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"open"
    return holder


def test_held_restricted_file_is_an_infrastructure_failure(monkeypatch, site):
    for name in RELEASE_2025:
        site.land(name)
    before = _sha(site.warehouse)
    # The sensor's own refresh of a CIN release rebuilds what depends on it, never the casework strand.
    from fact22_assets.definitions import defs
    from fact22_assets.lifecycle.refresh import landing_sensor

    for name, value in site.env().items():
        monkeypatch.setenv(name, value)
    asked = landing_sensor(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), definitions=defs()))
    assert asked.asset_selection and not any(k.path[0] == "restricted" for k in asked.asset_selection)
    holder = _hold(site.warehouse.parent / "restricted" / "casework.duckdb", read_only=False)
    try:
        # A refresh of everything writes the restricted file: the reader holding it stops that refresh.
        _, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral(), everything=True)
        reasons = _reasons(result)
        assert not result.success and "infrastructure problem" in reasons and "restricted" in reasons, reasons
        assert _landing(site) == sorted(RELEASE_2025) and not (site.landing / "rejected").exists()
        assert _sha(site.warehouse) == before
    finally:
        holder.kill()
        holder.wait()


def test_analyst_connections_never_block_publication(monkeypatch, site):
    for name in RELEASE_2025:
        site.land(name)
    holder = _hold(site.warehouse, read_only=False)
    try:
        _, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    finally:
        holder.kill()
        holder.wait()
    assert result.success, _reasons(result)
    assert site.query("SELECT max(collection_year) AS y FROM marts.cin_rates").y.item() == 2025
    assert _landing(site) == []


def test_file_changed_during_the_run_is_neither_published_nor_archived(site):
    for name in RELEASE_2025:
        site.land(name)
    before, outputs = _sha(site.warehouse), _outputs_sha(site)
    assert "evaluation_report.html" in outputs
    builds = site.warehouse.parent / "build"
    log = site.root / "refresh.log"
    with open(log, "wb") as output_file:
        process = subprocess.Popen([sys.executable, "-m", "fact22_assets.build"], env={**os.environ, **site.env()},
                                   stdout=output_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not list(builds.glob(f"*/{site.warehouse.name}")) and time.monotonic() < deadline:
            time.sleep(0.02)
        # Overwritten after the run read its inputs: plausible bytes, but not the ones checked.
        lines = _c1_lines(site)
        changed = _set_cell(lines, _first_la_row(lines), "referral_count", "1")
        (site.landing / C1_2025).write_text("\n".join(changed) + "\n", encoding="utf-8")
        process.wait()
    output = log.read_text()
    assert process.returncode == 1, output[-2000:]
    assert "changed while the refresh ran" in output and C1_2025 in output, output[-3000:]
    assert _sha(site.warehouse) == before and _outputs_sha(site) == outputs
    # Not archived, not refused: it stays for the next refresh to check as it is now.
    assert _landing(site) == sorted(RELEASE_2025) and not (site.landing / "rejected").exists()
    assert not (site.warehouse.parent / "releases" / "cin_2025").exists()


def test_unchanged_refresh_exits_at_once_without_publishing(site):
    before, rows = _sha(site.warehouse), len(site.query("SELECT * FROM meta.publication"))
    # Its cost (<= 1 s) is measured by benchmarks/build_benchmark.py; here, that it never loads Dagster,
    # the parsers or the estimators to find out there is nothing to do.
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "fact22_assets.build"],
                          env={**os.environ, **site.env()}, capture_output=True, text=True)
    assert done.returncode == 0 and "up to date" in done.stdout, done.stdout + done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    assert "fact22_assets.core.catalogue" in imported
    assert not imported & {"dagster", "pandas", "fact22_assets.core.population_parsers", "fact22_assets.core.did"}
    assert _sha(site.warehouse) == before and len(site.query("SELECT * FROM meta.publication")) == rows
    # Any changed input is something to do.
    studies = site.data / "studies.yaml"
    studies.write_text(studies.read_text() + "\n# edited\n")
    from fact22_assets.glue import freshness

    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in site.env().items():
            monkeypatch.setenv(name, value)
        same, why = freshness.nothing_to_do()
    assert not same and "studies.yaml" in why


def test_kill_after_the_swap_records_the_landing_once(monkeypatch, site):
    import errno

    import fact22_assets.lifecycle.publication as publication

    for name in RELEASE_2025:
        site.land(name)

    def disk_full(candidates, accepted, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(accepted))

    # Stopped right after the swap, before the landed files were filed away.
    with monkeypatch.context() as stopped:
        stopped.setattr(publication, "accept_landed", disk_full)
        _, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert not result.success and "infrastructure problem" in _reasons(result)
    assert _landing(site) == sorted(RELEASE_2025)
    _, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert result.success, _reasons(result)
    log = site.query("SELECT vintage FROM meta.publication ORDER BY published_at")
    assert list(log.vintage) == ["cin_2022", "cin_2025"]
    assert _landing(site) == []


def test_restricted_file_is_owner_only(site):
    restricted = site.warehouse.parent / "restricted"
    assert restricted.stat().st_mode & 0o777 == 0o700
    assert (restricted / "casework.duckdb").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("group_read, folder_mode, file_mode", [(False, 0o700, 0o600), (True, 0o2750, 0o640)])
def test_restricted_modes_are_set_on_every_connection(tmp_path, group_read, folder_mode, file_mode):
    from fact22_assets.glue.publishing import RestrictedDuckDBResource

    path = tmp_path / "restricted" / "casework.duckdb"
    path.parent.mkdir(mode=0o755)
    resource = RestrictedDuckDBResource(database=str(path), group_read=group_read)
    with resource.get_connection() as con:
        con.execute("CREATE TABLE IF NOT EXISTS t AS SELECT 1 AS x")
    assert path.parent.stat().st_mode & 0o7777 == folder_mode
    assert path.stat().st_mode & 0o777 == file_mode


def test_release_landed_in_part_waits_for_the_rest(monkeypatch, site):
    from fact22_assets.definitions import defs
    from fact22_assets.lifecycle.refresh import landing_sensor

    site.land(RELEASE_2025[0])
    for name, value in site.env().items():
        monkeypatch.setenv(name, value)
    tick = lambda: landing_sensor(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(),  # noqa: E731
                                                          definitions=defs()))
    waiting = tick()
    assert isinstance(waiting, dg.SkipReason)
    assert "waiting for c1 and d3 of release cin_2025" in waiting.skip_message, waiting.skip_message
    # Past the configured wait, it says so plainly (and still does not refuse the good file).
    old = time.time() - 15 * 86400
    os.utime(site.landing / RELEASE_2025[0], (old, old))
    overdue = tick()
    assert isinstance(overdue, dg.SkipReason) and "incomplete for more than 14 days" in overdue.skip_message
    for name in RELEASE_2025[1:]:
        site.land(name)
    whole = tick()
    assert isinstance(whole, dg.RunRequest) and sorted(whole.tags[LANDING_TAG_NAME].split(",")) == sorted(RELEASE_2025)


def test_schedule_and_sensor_skip_when_nothing_changed(monkeypatch, site):
    from fact22_assets.definitions import defs
    from fact22_assets.lifecycle.refresh import annual_refresh, landing_sensor

    for name, value in site.env().items():
        monkeypatch.setenv(name, value)
    skipped = annual_refresh(dg.build_schedule_context())
    assert isinstance(skipped, dg.SkipReason) and "nothing to refresh" in skipped.skip_message
    # A release landed in part is nothing to build yet: neither the schedule nor the sensor asks for a run.
    site.land(RELEASE_2025[0])
    tick = lambda: landing_sensor(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(),  # noqa: E731
                                                          definitions=defs()))
    for skipped in (annual_refresh(dg.build_schedule_context()), tick()):
        assert isinstance(skipped, dg.SkipReason) and "waiting for c1 and d3" in skipped.skip_message, skipped
    for name in RELEASE_2025[1:]:
        site.land(name)
    assert isinstance(annual_refresh(dg.build_schedule_context()), dg.RunRequest)


def test_population_only_change_rebuilds_only_what_depends_on_it(site):
    """A corrected population file (Cheshire East's children, mid-2020) rebuilds the population and
    everything downstream of it, and nothing of the CIN ingest or the casework strand."""
    before = site.query("SELECT max(loaded_at) AS t FROM raw.cin_ees").t.item()
    did_marts = [f"marts.{name}" for name in (*mart_names(), "did_runs")]
    did_before = {name: site.query(f"SELECT * FROM {name}") for name in did_marts}
    figures_folder = site.warehouse.parent / "outputs" / "figures"
    event_study_before = {path.name: path.read_bytes() for path in figures_folder.glob("event_study*.png")}
    assert event_study_before
    file = site.data / "ons_population" / "ons_mid-year_population_estimates_2012_to_2024.csv"
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("2020,") and ",895,E06000049," in line)
    old = int(lines[at].rstrip().rsplit(",", 1)[1])
    lines[at] = lines[at].rstrip().rsplit(",", 1)[0] + f",{old + 1000}\n"
    file.write_text("".join(lines), encoding="utf-8")
    catalogue = site.data / "sources.yaml"
    old_sha = hashlib.sha256((REPO_ROOT / "data" / file.relative_to(site.data)).read_bytes()).hexdigest()
    catalogue.write_text(catalogue.read_text().replace(old_sha, hashlib.sha256(file.read_bytes()).hexdigest()))

    done = subprocess.run([sys.executable, "-m", "fact22_assets.build"], env={**os.environ, **site.env()},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "only what depends on ons_population" in done.stdout, done.stdout

    instance = dg.DagsterInstance.from_config(str(site.root / "dagster_home"))
    run = instance.get_runs(limit=1)[0]
    # `make warehouse` runs carry the code location's origin: the UI lists them under the job `refresh`.
    label = run.remote_job_origin.repository_origin.get_label()
    assert label == "__repository__@fact22_assets" and run.tags["fact22/trigger"] == "make warehouse"
    assert [r.run_id for r in instance.get_runs(dg.RunsFilter(job_name="refresh", tags={".dagster/repository": label}))
            ] == [run.run_id]
    built = {r.dagster_event.asset_key.to_user_string()
             for r in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)}
    assert {"raw/ons_population", "staging/population_area_year", "marts/cin_rates", "marts/did_results",
            "reports/evaluation_report", "meta/publication"} <= built
    assert not built & {"raw/cin_ees", "raw/cin_sfr", "staging/cin_area_year_vintages", "staging/cin_area_year",
                        "restricted/randomisation", "marts/rct_results", "figures/rct_probabilities", "marts/revisions",
                        "marts/census_reconciliation"}  # it reconciles counts: no population enters them
    from fact22_assets.definitions import defs

    every = [k for k in defs().resolve_asset_graph().get_all_asset_keys()
             if defs().resolve_asset_graph().get(k).is_materializable]
    assert len(built) <= 0.6 * len(every), (len(built), len(every))
    # 2020-21 lies outside the study's 2011-2019 window: every DiD job's results are the published ones, kept.
    did_runs = next(r.dagster_event.event_specific_data.materialization.metadata
                    for r in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
                    if r.dagster_event.asset_key.to_user_string() == "marts/did_runs")
    assert did_runs["jobs_estimated"].value == 0 and did_runs["jobs_reused"].value > 0
    # Figures of unchanged numbers are kept from the last build, byte for byte (defs/report/figures.py
    # KeptDrawings): the event study, and the outcome trends, whose rates are per 10,000 residents of all ages;
    # the children-in-need rate, per 10,000 children, moved for 2020-21, so its figure is drawn again.
    figure_runs = {r.dagster_event.asset_key.to_user_string(): r.dagster_event.event_specific_data.materialization
                   .metadata for r in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
                   if r.dagster_event.asset_key.to_user_string().startswith("figures/")}
    assert figure_runs["figures/event_study"]["drawings_drawn"].value == 0
    assert figure_runs["figures/event_study"]["drawings_kept"].value > 0
    assert figure_runs["figures/outcome_trends"]["drawings_drawn"].value == 0
    assert figure_runs["figures/outcome_trends"]["drawings_kept"].value > 0
    assert figure_runs["figures/cin_treated_vs_england"]["drawings_drawn"].value > 0
    for name, png in event_study_before.items():
        assert (figures_folder / name).read_bytes() == png, name
    for name, frame in did_before.items():
        after = site.query(f"SELECT * FROM {name}")
        kept = [c for c in frame.columns if c not in VOLATILE]
        pd.testing.assert_frame_equal(after[kept], frame[kept], check_exact=True, obj=name)
    # The CIN ingest kept its rows from the last publication; the rates use the corrected population.
    assert site.query("SELECT max(loaded_at) AS t FROM raw.cin_ees").t.item() == before
    row = site.query("SELECT cin_at_31_march, population_0_17, cin_per_10k_children FROM marts.cin_rates "
                     "WHERE area_code = 'E06000049' AND collection_year = 2021")
    assert row.population_0_17.item() == old + 1000
    assert row.cin_per_10k_children.item() == pytest.approx(row.cin_at_31_march.item() / (old + 1000) * 10_000)
    # The casework figures it did not redraw are still in the report and in marts.figure_data.
    assert "rct_probabilities" in set(site.query("SELECT DISTINCT figure FROM marts.figure_data").figure)

# --------------------------------------------------------------------------- a published release landed again


@pytest.fixture(scope="module")
def published_2025(published_2022, tmp_path_factory):
    """A site whose published warehouse holds the 2025 release, landed and accepted as a data engineer would
    (built once per session, like `published_2022`)."""

    def publish_2025(root: Path) -> None:
        site = Site(root)
        shutil.copytree(published_2022.root, site.root)
        for name in RELEASE_2025:
            site.land(name)
        with pytest.MonkeyPatch.context() as monkeypatch:
            _build(monkeypatch, site, dg.DagsterInstance.ephemeral())
        assert _landing(site) == []

    return Site(build_once(tmp_path_factory, "refresh_published_2025", publish_2025))


@pytest.fixture
def site_2025(published_2025, tmp_path) -> Site:
    """A private copy of the 2025 site."""
    return _private_copy(published_2025, tmp_path)


def _corrected_c1(site: Site, factor: float) -> tuple[bytes, int, int, int]:
    """The 2025 c1 with one authority's 2024-25 referrals multiplied by ``factor``, and its region's and
    England's totals corrected with it, as DfE would: (bytes, row, old, new)."""
    lines = _c1_lines(site)
    header = lines[0].split(",")
    count, region = header.index("referral_count"), header.index("region_code")
    at = next(i for i, line in enumerate(lines) if line.startswith("2025,") and ",Local authority," in line
              and '"' not in line and int(line.split(",")[count]) >= 1000)
    old = int(lines[at].split(",")[count])
    new = round(old * factor)
    lines = _set_cell(lines, at, "referral_count", str(new))
    totals = [i for i, line in enumerate(lines) if line.startswith("2025,") and (
        ",National," in line or (",Regional," in line and line.split(",")[region] == lines[at].split(",")[region]))]
    assert len(totals) == 2
    for i in totals:
        lines = _set_cell(lines, i, "referral_count", str(int(lines[i].split(",")[count]) + new - old))
    # DfE's own percentages of referrals in the same rows, printed to one decimal as DfE prints them
    for i in [at, *totals]:
        referrals = int(lines[i].split(",")[count])
        for part in ("rereferral", "no_further_action", "not_in_need"):
            numerator = int(lines[i].split(",")[header.index(f"{part}_count")])
            lines = _set_cell(lines, i, f"{part}_percent", f"{round(100 * numerator / referrals, 1):g}")
    return ("\n".join(lines) + "\n").encode("utf-8"), at + 1, old, new


def test_relanded_c1_with_a_dropped_digit_is_checked_as_a_revision_and_refused(monkeypatch, site_2025):
    site = site_2025
    name, content, where, column = _bad_c1("dropped digit", site)
    before = _sha(site.warehouse)
    site.land(name, content)
    request, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert isinstance(request, dg.RunRequest) and not result.success
    assert _sha(site.warehouse) == before and _landing(site) == []
    refused = _refused(site, name)
    reason = refused.with_name(refused.name + ".reason.txt").read_text()
    assert refused.read_bytes() == content
    # Refused by the comparison with what was published (the revision bound and the trend), naming the cell.
    assert f"landing/{name}" in reason and where in reason and column in reason, reason
    assert "not declared a revision" in reason and "from the year before" in reason, reason
    assert "already catalogued" not in reason


def test_relanded_identical_bytes_are_nothing_to_do(monkeypatch, site_2025):
    site = site_2025
    before = _sha(site.warehouse)
    site.land(C1_2025)
    skipped, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert isinstance(skipped, dg.SkipReason) and result is None, skipped
    assert "already published" in skipped.skip_message, skipped.skip_message
    assert _sha(site.warehouse) == before
    # Not left to linger: set aside with a note, not refused.
    [note] = (site.landing / "set_aside").glob(f"*-{C1_2025}.note.txt")
    assert "already published" in note.read_text() and _landing(site) == []
    assert not (site.landing / "rejected").exists()


@pytest.mark.parametrize("declared", [True, False], ids=["with a revision sidecar", "undeclared"])
def test_relanded_correction_beyond_the_bound_is_published_only_when_declared(monkeypatch, site_2025, declared):
    site = site_2025
    content, row, old, new = _corrected_c1(site, 1.08)  # +8%: beyond the revision bound, a plausible trend
    before = _sha(site.warehouse)
    if declared:
        (site.landing / (C1_2025 + ".revision.yaml")).write_text(
            "reason: DfE corrected one authority's 2024-25 referrals (statistics notice)\nrevises: cin_2025\n")
    site.land(C1_2025, content)
    request, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert isinstance(request, dg.RunRequest)
    if not declared:
        assert not result.success and _sha(site.warehouse) == before
        refused = _refused(site, C1_2025)
        reason = refused.with_name(refused.name + ".reason.txt").read_text()
        assert f"landing/{C1_2025}" in reason and f"source_row={row}" in reason and "referral_count" in reason, reason
        assert f"previous_value={old}" in reason and "revision.yaml" in reason, reason
        return
    assert result.success, _reasons(result)
    changed = site.query("SELECT * FROM marts.revisions WHERE new_release_id = 'cin_2025_r1' "
                         "AND geographic_level = 'Local authority'")
    assert changed[["old_release_id", "collection_year", "measure", "old_value", "new_value", "new_source_row",
                    "new_source_column"]].values.tolist() == [["cin_2025", 2025, "referrals", old, new, row,
                                                               "referral_count"]]
    log = site.query("SELECT vintage, landed_files FROM meta.publication ORDER BY published_at")
    assert log.vintage.iloc[-1] == "cin_2025_r1" and C1_2025 in log.landed_files.iloc[-1]
    # Filed with its sidecar; the accepted catalogue records the declaration and its reason.
    accepted = site.warehouse.parent / "releases"
    assert sorted(p.name for p in (accepted / "cin_2025_r1").iterdir()) == sorted([C1_2025,
                                                                                   C1_2025 + ".revision.yaml"])
    entry = next(r for r in yaml.safe_load((accepted / "accepted_sources.yaml").read_text())["releases"]
                 if r["release_id"] == "cin_2025_r1")
    assert entry["revision"] is True and entry["revises"] == "cin_2025" and "corrected" in entry["revision_reason"]
    assert not site.landing.exists() or not [p for p in site.landing.iterdir() if p.is_file()]


# --------------------------------------------------------------------------- every front door concludes (issue 17)


def _served_check(instance: dg.DagsterInstance):
    from fact22_assets.glue.publication_status import CHECK, PUBLICATION

    key = dg.AssetCheckKey(PUBLICATION, CHECK)
    return instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]


@pytest.mark.parametrize("front_door", ["sensor", "schedule"])
def test_a_refusal_from_the_sensor_or_the_schedule_says_which_build_is_served(monkeypatch, site, front_door):
    from fact22_assets.glue.publication_status import PUBLICATION

    served = site.query("SELECT run_id, vintage FROM meta.publication ORDER BY published_at DESC LIMIT 1").iloc[0]
    name, content, where, column = _bad_c1("negative count", site)
    site.land(name, content)
    for sibling in [n for n in RELEASE_2025 if n != name]:
        site.land(sibling)
    instance = dg.DagsterInstance.ephemeral()
    request, result = _sensor_refresh(monkeypatch, site, instance, front_door=front_door)
    assert isinstance(request, dg.RunRequest) and not result.success
    assert request.tags["fact22/trigger"] == {"sensor": "landing sensor", "schedule": "schedule"}[front_door]
    # serves_latest_build: failed, with the reason, naming the build still served and since when.
    evaluation = _served_check(instance).event.dagster_event.event_specific_data
    assert evaluation.passed is False, evaluation
    assert evaluation.description.startswith(f"STALE: serving vintage {served.vintage} published "), evaluation
    assert f"(run {served.run_id})" in evaluation.description and result.run_id in evaluation.description
    reasons = evaluation.metadata["reasons"].value
    assert f"landing/{name}" in reasons and column in reasons and where in reasons, reasons
    observation = instance.fetch_observations(PUBLICATION, limit=1).records[0].asset_observation
    assert observation.metadata["served_run"].value == served.run_id
    assert observation.metadata["served_vintage"].value == served.vintage
    assert observation.metadata["served_since"].value.endswith(" UTC")
    # And the landed file was refused as on any path; its good siblings wait.
    assert _landing(site) == sorted(n for n in RELEASE_2025 if n != name) and _refused(site, name)


def test_a_publication_says_which_build_it_serves_and_since_when(monkeypatch, site):
    for name in RELEASE_2025:
        site.land(name)
    instance = dg.DagsterInstance.ephemeral()
    _, result = _sensor_refresh(monkeypatch, site, instance)
    assert result.success, _reasons(result)
    [event] = [e for e in result.get_asset_materialization_events()
               if e.asset_key == dg.AssetKey(["meta", "publication"])]
    metadata = event.materialization.metadata
    published = site.query("SELECT run_id, published_at FROM meta.publication ORDER BY published_at DESC LIMIT 1")
    assert metadata["served_run"].value == result.run_id == published.run_id.item()
    assert metadata["served_vintage"].value == "cin_2025"
    assert metadata["served_since"].value == f"{published.published_at.item():%Y-%m-%d %H:%M} UTC"
    evaluation = _served_check(instance).event.dagster_event.event_specific_data
    assert evaluation.passed and "vintage cin_2025, published" in evaluation.description


# --------------------------------------------------------------------------- landing hygiene (issue 17)


def _tick(monkeypatch, site: Site):
    for name, value in site.env().items():
        monkeypatch.setenv(name, value)
    from fact22_assets.definitions import defs
    from fact22_assets.lifecycle.refresh import landing_sensor

    return landing_sensor(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), definitions=defs()))


def test_links_and_what_is_not_a_file_are_refused_unread_and_the_sensor_says_so(monkeypatch, site):
    outside = site.release_2025 / C1_2025
    before = _sha(outside)
    site.landing.mkdir(parents=True)
    (site.landing / C1_2025).symlink_to(outside)
    os.mkfifo(site.landing / "pipe_2013_to_2025.csv")
    tick = _tick(monkeypatch, site)
    assert isinstance(tick, dg.SkipReason), tick
    assert f"landing/{C1_2025}: a symbolic link (to {outside})" in tick.skip_message, tick.skip_message
    assert "landing/pipe_2013_to_2025.csv: not a regular file (a named pipe)" in tick.skip_message
    # Moved aside as they are (the link, not what it points to), each with its reason; the target untouched.
    [link] = (site.landing / "rejected").glob(f"*-{C1_2025}")
    assert link.is_symlink() and os.readlink(link) == str(outside) and _sha(outside) == before
    assert "symbolic link" in link.with_name(link.name + ".reason.txt").read_text()
    [pipe] = (site.landing / "rejected").glob("*-pipe_2013_to_2025.csv")
    assert stat.S_ISFIFO(pipe.lstat().st_mode)
    assert not list(site.landing.glob("*.csv"))


def test_what_cannot_be_built_triggers_no_rebuild(monkeypatch, site):
    from fact22_assets.glue import freshness
    from fact22_assets.lifecycle.refresh import annual_refresh

    site.landing.mkdir(parents=True)
    (site.landing / "downloads").mkdir()
    shutil.copy(site.release_2025 / C1_2025, site.landing / "downloads" / C1_2025)
    (site.landing / (C1_2025 + ".revision.yaml")).write_text("reason: a correction\n")
    site.land(B1_2025)  # a release landed in part
    tick = _tick(monkeypatch, site)
    schedule = annual_refresh(dg.build_schedule_context())
    for skipped in (tick, schedule):
        assert isinstance(skipped, dg.SkipReason), skipped
        said = skipped.skip_message
        assert "landing/downloads/ is a folder: not read" in said and "waiting for c1 and d3" in said, said
        assert f"landing/{C1_2025}.revision.yaml declares a revision of a file that is not in the landing folder" in said
    assert freshness.nothing_to_do()[0]
    # Nothing moved: they wait (the folder and the sidecar for a person, b1 for its release's other parts).
    assert _landing(site) == sorted([B1_2025, C1_2025 + ".revision.yaml"])
    assert (site.landing / "downloads" / C1_2025).exists()
    assert not (site.landing / "rejected").exists()


def test_unused_parts_of_a_known_release_are_set_aside_with_a_note(monkeypatch, site):
    # DfE's release download holds more files than the warehouse reads: c3 here (its header is any EES file's).
    c3 = "c3_factors_identified_at_end_of_assessment_2018_to_2025.csv"
    site.land(c3, (site.release_2025 / B1_2025).read_bytes())
    for name in RELEASE_2025:
        site.land(name)
    request = _tick(monkeypatch, site)
    assert isinstance(request, dg.RunRequest) and sorted(request.tags[LANDING_TAG_NAME].split(",")) == RELEASE_2025
    [note] = (site.landing / "set_aside").glob(f"*-{c3}.note.txt")
    assert "part c3 of a dfe_cin_ees release download, which the warehouse does not use" in note.read_text()
    assert not (site.landing / "rejected").exists() and _landing(site) == sorted(RELEASE_2025)


def test_a_file_far_larger_than_any_part_is_refused_without_being_read(monkeypatch, site):
    import fact22_assets.core.landing as landing
    import fact22_assets.core.tabular as tabular

    huge = "b1_children_in_need_2013_to_2026.csv"
    site.landing.mkdir(parents=True)
    with open(site.landing / huge, "wb") as handle:  # 300 MB on paper, none on disk
        handle.truncate(300 * 1024 * 1024)
    read = []
    real = tabular.read_csv_table
    monkeypatch.setattr(landing, "read_csv_table", lambda path, *a, **k: read.append(path) or real(path, *a, **k))
    tick = _tick(monkeypatch, site)
    assert isinstance(tick, dg.SkipReason) and f"landing/{huge}: 314.6 MB, more than 10 times the largest file" \
        in tick.skip_message, tick.skip_message
    assert read == [] and list((site.landing / "rejected").glob(f"*-{huge}"))
    assert "refused without reading it" in next((site.landing / "rejected").glob("*.reason.txt")).read_text()


# --------------------------------------------------------------------------- what is archived was checked (issue 17)


def test_a_file_replaced_during_the_publish_copy_is_not_archived(monkeypatch, site):
    import fact22_assets.core.landing as landing

    for name in RELEASE_2025:
        site.land(name)
    good = _sha(site.release_2025 / C1_2025)
    _, replacement, _, _ = _bad_c1("dropped digit", site)
    real = landing.copy_verified

    def replaced_meanwhile(source, target, expected=None):
        # The data engineer drops a new c1 while the publish step files the checked one.
        if source.name == C1_2025 and target.parent.name == "cin_2025":
            (site.landing / C1_2025).write_bytes(replacement)
        return real(source, target, expected)

    with monkeypatch.context() as patched:
        patched.setattr(landing, "copy_verified", replaced_meanwhile)
        _, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert result.success, _reasons(result)
    # Filed: the bytes that were checked, under their own checksum; the replacement stays, unfiled.
    archived = site.warehouse.parent / "releases" / "cin_2025" / C1_2025
    entry = next(s for s in yaml.safe_load((archived.parent.parent / "accepted_sources.yaml").read_text())["sources"]
                 if s["path"].endswith(C1_2025))
    assert _sha(archived) == good == entry["sha256"]
    assert (site.landing / C1_2025).read_bytes() == replacement and _landing(site) == [C1_2025]
    assert site.query(f"SELECT DISTINCT source_sha256 FROM raw.cin_ees WHERE source_file LIKE '%{C1_2025}'"
                      ).source_sha256.tolist() == [good]
    # The next refresh checks the replacement for what it is, a revision of the published c1, and refuses it;
    # the published release's own files still verify.
    _, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    reasons = _reasons(result)
    assert not result.success and "not declared a revision" in reasons, reasons
    assert "changed since it was catalogued" not in reasons, reasons


# --------------------------------------------------------------------------- what must be free, checked first (issue 17)


def test_a_read_only_reader_of_the_restricted_file_stops_a_refresh_before_it_builds_saying_so(monkeypatch, site):
    for name in RELEASE_2025:
        site.land(name)
    before = _sha(site.warehouse)
    holder = _hold(site.warehouse.parent / "restricted" / "casework.duckdb", read_only=True)
    try:
        _, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral(), everything=True)
    finally:
        holder.kill()
        holder.wait()
    reasons = _reasons(result)
    assert not result.success and "infrastructure problem" in reasons, reasons
    assert f"process {holder.pid} (python" in reasons and "open read-only" in reasons, reasons
    assert "for writing" not in reasons, reasons
    # Said before anything was built, not after the whole rebuild.
    assert not result.get_asset_materialization_events()
    assert _landing(site) == sorted(RELEASE_2025) and not (site.landing / "rejected").exists()
    assert _sha(site.warehouse) == before


def test_an_unusable_pseudonymisation_key_stops_a_refresh_before_it_builds_and_refuses_nothing(monkeypatch, site,
                                                                                              tmp_path):
    # A key others can read: the census step would refuse it after the statistics were rebuilt, and the landed
    # release (not at fault) would be refused with it.
    key = tmp_path / "fact22_key"
    key.write_bytes(b"k" * 32)
    key.chmod(0o644)
    monkeypatch.setenv("FACT22_PSEUDONYM_KEY_FILE", str(key))
    for name in RELEASE_2025:
        site.land(name)
    before = _sha(site.warehouse)
    _, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral(), everything=True)
    reasons = _reasons(result)
    assert not result.success and "infrastructure problem" in reasons, reasons
    assert f"FACT22_PSEUDONYM_KEY_FILE={key} is readable by others" in reasons, reasons
    assert not result.get_asset_materialization_events()
    assert _landing(site) == sorted(RELEASE_2025) and not (site.landing / "rejected").exists()
    assert _sha(site.warehouse) == before


def test_a_run_of_the_whole_refresh_job_is_one_that_publishes():
    """Dagster records the refresh job's whole selection (it leaves the calibration group out) as an empty one:
    such a run is still to publish, so its failure is concluded (STALE, the bad landed file refused)."""
    from fact22_assets.lifecycle.refresh import PUBLICATION, _targets_publication

    raw = dg.AssetKey(["raw", "cin_ees"])
    assert _targets_publication(dg.DagsterRun(job_name="refresh", run_id="a", asset_selection=frozenset()))
    assert _targets_publication(dg.DagsterRun(job_name="refresh", run_id="b", asset_selection=None))
    assert _targets_publication(dg.DagsterRun(job_name="refresh", run_id="c", asset_selection=frozenset({PUBLICATION})))
    assert not _targets_publication(dg.DagsterRun(job_name="refresh", run_id="d", asset_selection=frozenset({raw})))
    assert not _targets_publication(dg.DagsterRun(job_name="calibration", run_id="e", asset_selection=frozenset()))
