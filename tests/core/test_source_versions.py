"""Sources and their data versions: what a partial refresh is decided on."""
from dataclasses import replace

import dagster as dg
import pytest

from fact22_assets.core.catalogue import load_catalogue
from fact22_assets.core.source_versions import CATALOGUED, SOURCE_NAMES, changed_sources, source_versions
from fact22_assets.settings import REPO_ROOT

DATA = REPO_ROOT / "data"


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(DATA / "sources.yaml")


def _versions(catalogue, casework=(), studies=DATA / "studies.yaml"):
    return source_versions(catalogue, DATA / "reference", casework, studies)


def _with(catalogue, source_id, **changes):
    sources = tuple(replace(s, **changes) if s.source_id == source_id else s for s in catalogue.sources)
    return replace(catalogue, sources=sources)


def test_every_source_has_a_version_and_every_family_a_source(catalogue):
    versions = _versions(catalogue)
    assert list(versions) == list(SOURCE_NAMES)
    assert len(set(versions.values())) == len(versions)
    families = {f for fs in CATALOGUED.values() for f in fs}
    assert {s.family for s in catalogue.sources} <= families


def test_a_changed_file_changes_only_its_source(catalogue):
    before = _versions(catalogue)
    population = _with(catalogue, "ons_mye2_mid2024", sha256="0" * 64)
    assert changed_sources(_versions(population), before) == ["ons_population"]
    cin = _with(catalogue, "cin_ees_2025_c1", sha256="0" * 64)
    assert changed_sources(_versions(cin), before) == ["cin_ees"]
    # What the parser is told about the file counts too (the column behind a measure).
    source = next(s for s in catalogue.sources if s.source_id == "cin_ees_2025_c1")
    options = {**source.options, "measures": {**source.measures, "referrals": "another_column"}}
    assert changed_sources(_versions(_with(catalogue, "cin_ees_2025_c1", options=options)), before) == ["cin_ees"]


def test_where_a_file_lies_does_not_change_its_version(catalogue, tmp_path):
    before = _versions(catalogue)
    moved = _with(catalogue, "cin_ees_2025_c1", relative_path="releases/cin_2025/c1.csv",
                  path=tmp_path / "c1.csv")
    assert changed_sources(_versions(moved), before) == []


def test_extracts_and_studies_are_sources_of_their_own(catalogue, tmp_path):
    before = _versions(catalogue, casework=sorted((DATA / "synthetic").glob("*.csv")))
    extract = tmp_path / "rct_cases.csv"
    extract.write_text("edited\n")
    studies = tmp_path / "studies.yaml"
    studies.write_text((DATA / "studies.yaml").read_text() + "\n# edited\n")
    changed = changed_sources(_versions(catalogue, casework=[extract], studies=studies), before)
    assert changed == ["casework_extracts", "studies"]


def test_unknown_versions_mean_rebuild_everything(catalogue):
    now = _versions(catalogue)
    assert changed_sources(now, None) is None
    assert changed_sources(now, {}) is None
    assert changed_sources(now, {k: v for k, v in now.items() if k != "studies"}) is None


def test_a_source_selects_itself_and_what_lies_downstream():
    from fact22_assets.build import selected_keys
    from fact22_assets.definitions import defs

    job = defs().resolve_job_def("refresh")
    chosen = {k.to_user_string() for k in selected_keys(job, ("ons_population",))}
    assert {"sources/ons_population", "raw/ons_population", "staging/population_area_year", "marts/cin_rates",
            "marts/did_results", "reports/evaluation_report", "marts/data_dictionary", "meta/publication"} <= chosen
    assert not chosen & {"raw/cin_ees", "staging/cin_area_year_vintages", "marts/revisions", "restricted/randomisation",
                         "marts/rct_results", "sources/cin_ees"}
    assert selected_keys(job, None) is None
    graph = job.asset_layer.asset_graph
    every = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    materialised = [k for k in selected_keys(job, ("ons_population",)) if graph.get(k).is_materializable]
    assert len(materialised) / len(every) < 0.6
    assert dg.AssetKey(["sources", "ons_population"]) in graph.get(dg.AssetKey(["raw", "ons_population"])).parent_keys


def test_the_calibration_files_are_a_source_of_their_own(catalogue, tmp_path):
    before = _versions(catalogue)
    results = tmp_path / "closures_per_10k.parquet"
    results.write_bytes(b"results")
    after = source_versions(catalogue, DATA / "reference", (), DATA / "studies.yaml", [results])
    assert changed_sources(after, before) == ["calibration"]
    results.write_bytes(b"other results")
    again = source_versions(catalogue, DATA / "reference", (), DATA / "studies.yaml", [results])
    assert changed_sources(again, after) == ["calibration"]
