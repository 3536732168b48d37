"""The annual refresh, through the landing sensor: build from the releases up
to 2022, land the 2025 release, and refuse bad files without touching what
is published."""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from fact22_assets.settings import REPO_ROOT

RELEASE_2025 = ["b1_children_in_need_2013_to_2025.csv",
                "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
                "d3_cpps_subsequent_plan_2013_to_2025.csv"]
C1_2025 = RELEASE_2025[1]
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
    return site


def _sensor_refresh(monkeypatch, site: Site, instance: dg.DagsterInstance):
    """Tick the landing sensor; run what it asks for; on failure, tick the
    failure sensor.  Returns (run request or skip, run result or None)."""
    for name, value in site.env().items():
        monkeypatch.setenv(name, value)
    from fact22_assets.definitions import defs
    from fact22_assets.lifecycle.refresh import landing_sensor, refuse_landed_files

    definitions = defs()
    asked = landing_sensor(dg.build_sensor_context(instance=instance, definitions=definitions))
    if not isinstance(asked, dg.RunRequest):
        return asked, None
    result = definitions.resolve_job_def(asked.job_name or "refresh").execute_in_process(
        instance=instance, tags=asked.tags, raise_on_error=False)
    if not result.success:
        failure = next(e for e in result.all_events if e.event_type_value in ("PIPELINE_FAILURE", "RUN_FAILURE"))
        context = dg.build_run_status_sensor_context(
            sensor_name="refuse_landed_files", dagster_event=failure, dagster_instance=instance,
            dagster_run=result.dagster_run).for_run_failure()
        refuse_landed_files(context)
    return asked, result


def _build(monkeypatch, site: Site, instance):
    for name, value in site.env().items():
        monkeypatch.setenv(name, value)
    from fact22_assets.definitions import defs

    result = defs().resolve_job_def("refresh").execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    return result


@pytest.fixture(scope="module")
def published_2022(tmp_path_factory):
    """A site whose published warehouse holds the releases up to 2022."""
    site = _make_site(tmp_path_factory.mktemp("site"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        _build(monkeypatch, site, dg.DagsterInstance.ephemeral())
    return site


@pytest.fixture
def site(published_2022, tmp_path) -> Site:
    """A private copy of the 2022 site."""
    copy = Site(tmp_path / "site")
    shutil.copytree(published_2022.root, copy.root)
    return copy


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
    assert set(before) == set(after)
    assert {k: v for k, v in before.items() if k != "meta.publication"} == \
           {k: v for k, v in after.items() if k != "meta.publication"}


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
    build = site.warehouse.parent / "build" / site.warehouse.name
    started = build.stat().st_mtime_ns
    process = subprocess.Popen([sys.executable, "-m", "fact22_assets.build"], env={**os.environ, **site.env()},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    # Kill it once it is writing the build file, well before it could publish.
    while build.stat().st_mtime_ns == started and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert _sha(site.warehouse) == before
    assert site.query("SELECT max(collection_year) AS y FROM marts.cin_rates").y.item() == 2022
    assert sorted(p.name for p in site.landing.iterdir() if p.is_file()) == sorted(RELEASE_2025)


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
    raise ValueError(kind)


CSV_KINDS = ["renamed column", "missing column", "new suppression symbol", "negative count",
             "duplicate authority-year", "unknown authority code", "truncated file", "empty file",
             "wrong encoding", "file for the wrong year"]


@pytest.mark.parametrize("kind", CSV_KINDS)
def test_bad_landed_file_is_refused_and_nothing_published_changes(monkeypatch, site, kind):
    name, content, where, column = _bad_c1(kind, site)
    before = _sha(site.warehouse)
    site.land(name, content)
    request, result = _sensor_refresh(monkeypatch, site, dg.DagsterInstance.ephemeral())
    assert isinstance(request, dg.RunRequest) and not result.success
    assert _sha(site.warehouse) == before
    rejected = site.landing / "rejected"
    reason = (rejected / f"{name}.reason.txt").read_text()
    assert (rejected / name).read_bytes() == content and not (site.landing / name).exists()
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
    reason = (site.landing / "rejected" / f"{shifted.name}.reason.txt").read_text()
    assert "landing/mye25tablesew.xlsx [sheet MYE4]" in reason and "row 8" in reason and "column 'A'" in reason
    assert "'Code' is on row 9" in reason
