"""A failed refresh leaves the published file as it was; the Dagster instance
then says so on meta/publication (a failed check and an observation)."""
import dagster as dg
import duckdb
import pandas as pd

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
