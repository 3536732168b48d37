"""A failed refresh leaves the published file as it was; the Dagster instance
then says so on meta/publication (a failed check and an observation)."""
import dagster as dg
import duckdb
import pandas as pd
import pytest

from fact22_assets.glue.publication_status import CHECK, PUBLICATION, report_stale_publication


def _published(path):
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA meta")
    frame = pd.DataFrame({"published_at": pd.to_datetime(["2026-01-02 03:04", "2026-05-06 07:08"]),
                          "run_id": ["old-run", "good-run"], "vintage": ["cin_2022", "cin_2025"],
                          "code_version": ["a", "b"]})
    con.register("frame", frame)
    con.execute("CREATE TABLE meta.publication AS SELECT * FROM frame")
    con.close()


def test_failed_attempt_is_recorded_against_the_publication_served(tmp_path):
    published = tmp_path / "fact22.duckdb"
    _published(published)
    with dg.instance_for_test() as instance:
        said = report_stale_publication(instance, published, "failed-run", ["step raw__cin_ees: boom"])
        assert said.startswith("STALE: serving vintage cin_2025 published 2026-05-06 07:08 UTC (run good-run)")
        assert "failed-run" in said
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(PUBLICATION, CHECK)])[dg.AssetCheckKey(PUBLICATION, CHECK)]
        evaluation = check.event.dagster_event.event_specific_data
        assert evaluation.passed is False and evaluation.description == said
        assert evaluation.metadata["reasons"].value == "- step raw__cin_ees: boom"
        observation = instance.fetch_observations(PUBLICATION, limit=1).records[0]
        assert observation.asset_observation.metadata["status"].value == said


def test_nothing_published_says_so(tmp_path):
    with dg.instance_for_test() as instance:
        said = report_stale_publication(instance, tmp_path / "none.duckdb", "failed-run", [])
    assert said == "nothing is published: the latest refresh (run failed-run) failed"


def test_output_links_point_at_the_served_published_outputs_not_a_build_folder(tmp_path, monkeypatch):
    from fact22_assets.glue.publishing import BuildDuckDBResource, outputs_of, published_location

    monkeypatch.setenv("FACT22_WAREHOUSE", str(tmp_path / "warehouse" / "fact22.duckdb"))
    monkeypatch.delenv("FACT22_OUTPUTS", raising=False)
    monkeypatch.delenv("FACT22_OUTPUTS_URL", raising=False)
    resource = BuildDuckDBResource(database=str(tmp_path / "b.duckdb"), published=str(tmp_path / "p.duckdb"),
                                   build_root=str(tmp_path / "warehouse" / "build"), lock_path=str(tmp_path / "lock"))
    drawn = outputs_of(resource) / "figures" / "fact22 study" / "event_study.png"
    assert "build" in drawn.parts
    path, url = published_location(resource, drawn)
    assert path == tmp_path / "warehouse" / "outputs" / "figures" / "fact22 study" / "event_study.png"
    assert url == "http://127.0.0.1:3001/figures/fact22%20study/event_study.png"
    monkeypatch.setenv("FACT22_OUTPUTS_URL", "http://127.0.0.1:4001/")
    assert published_location(resource, drawn)[1] == "http://127.0.0.1:4001/figures/fact22%20study/event_study.png"


@pytest.mark.parametrize("holder, says, never", [
    ("However, you would be able to open this database in read-only mode, e.g. by using the -readonly parameter "
     "in the CLI.", "has the restricted file open read-only", "for writing"),
    ("", "has the restricted file open for writing", "read-only"),
])
def test_a_held_file_is_reported_as_held_by_whom_and_how(holder, says, never):
    from fact22_assets.glue.publishing import infrastructure_error

    # DuckDB's own words when another process holds the file (1.x and 2.x).
    error = duckdb.IOException(f'IO Error: Could not set lock on file "/x/casework.duckdb": Conflicting lock is '
                               f"held in /usr/bin/python3.11 (PID 4242). {holder} See also "
                               "https://duckdb.org/docs/current/connect/concurrency")
    said = str(infrastructure_error(error, "the restricted file"))
    assert "infrastructure problem" in said and "process 4242 (python3.11)" in said and says in said, said
    assert never not in said.split("What to do")[0], said
