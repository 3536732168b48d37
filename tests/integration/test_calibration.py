"""The national placebo study on the real panel: its studies are the configured studies' own analysis, and the
calibration job runs under the multiprocess executor into files that the refresh loads into the marts."""
import shutil

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from fact22_assets.core.calibration.design import designs_of
from fact22_assets.core.calibration.placebo_studies import SliceInputs, run_slice
from fact22_assets.core.did.prepared import PreparedPanel
from fact22_assets.core.source_versions import CALIBRATION
from fact22_assets.glue.studies import interventions, studies
from fact22_assets.glue.tables import sql_text
from fact22_assets.settings import DUCKDB_CONFIG, REPO_ROOT
from tests.conftest import check_evaluations, run_assets

CHESHIRE_EAST, ENFIELD = "E06000049", "E09000010"
CALIBRATION_MARTS = ["marts.calibration_runs", "marts.calibration_studies", "marts.estimator_calibration",
                     "marts.detectable_effects"]


@pytest.fixture(scope="module")
def panel_inputs(built_warehouse):
    con = duckdb.connect(str(built_warehouse), read_only=True, config=DUCKDB_CONFIG)
    try:
        panel = PreparedPanel(con.execute(sql_text("did/panel.sql"), {"vintage": "cin_2025"}).df())
        deprivation = con.execute("SELECT utla_code AS unit_code, imd_average_score FROM raw.deprivation").df()
        by_unit = con.execute(sql_text("did/neighbours_by_unit.sql"), {"model": "2021"}).df()
        neighbours = {code: con.execute(sql_text("did/neighbours.sql"),
                                        {"model": "2021", "treated_unit_code": code}).df()
                      for code in (CHESHIRE_EAST, ENFIELD)}
        published = con.execute("SELECT * FROM marts.did_results WHERE vintage = 'cin_2025'").df()
        inference = con.execute("SELECT * FROM marts.did_inference WHERE vintage = 'cin_2025'").df()
    finally:
        con.close()
    return panel, deprivation, by_unit, neighbours, published, inference


def _slice(panel_inputs, start_year, outcome) -> SliceInputs:
    panel, deprivation, by_unit, neighbours, _, _ = panel_inputs
    return SliceInputs(panel, designs_of(studies())[0], start_year, outcome, studies(), interventions(), deprivation,
                       by_unit, neighbours.get)


EXACT = ["estimate", "p_classical", "p_hc1", "permutation_p_value", "post_rmspe_p_value", "n_placebos"]


@pytest.mark.parametrize("outcome", ["closures_per_10k", "rereferrals_per_10k", "escalations_per_10k"])
def test_cheshire_easts_study_in_the_placebo_study_is_the_published_one(panel_inputs, outcome):
    """Cheshire East ran FACT22: no placebo, but its design at 2016 is the fact22_cheshire_east study itself."""
    methods = ["ols", "ols_with_covariate", "twfe_all_donors", "synthetic_control", "penalised_synthetic_control"]
    ours = run_slice(_slice(panel_inputs, 2016, outcome), treated=[CHESHIRE_EAST], methods=methods)
    published, inference = panel_inputs[4], panel_inputs[5]
    theirs = published[(published["study_id"] == "fact22_cheshire_east") & (published["outcome"] == outcome)]
    merged = ours.merge(theirs, on="method", suffixes=("", "_published"), validate="one_to_one")
    assert len(merged) == len(methods) and not merged["placebo"].any()
    for column in EXACT:
        a, b = merged[column].astype(float).to_numpy(), merged[f"{column}_published"].astype(float).to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), column
        assert a[~np.isnan(a)] == pytest.approx(b[~np.isnan(b)], abs=1e-9), column
    two_unit = merged[merged["method"].isin(["ols", "ols_with_covariate"])]
    assert (two_unit["comparator_code"] == two_unit["comparator_code_published"]).all()
    main = merged[merged["method"] == "ols_with_covariate"].iloc[0]
    headline = inference[(inference["study_id"] == "fact22_cheshire_east") & (inference["outcome"] == outcome)].iloc[0]
    assert main["reselected_p_value"] == pytest.approx(headline["reselected_p_value"], abs=1e-12)


def test_the_enfield_illustration_is_a_placebo_study_of_the_calibration(panel_inputs):
    """Enfield ran no programme: its illustration is one of the placebo studies the rejection rates count."""
    methods = ["ols_with_covariate", "twfe_all_donors", "synthetic_control", "synthetic_did"]
    ours = run_slice(_slice(panel_inputs, 2019, "rereferrals_per_10k"), treated=[ENFIELD], methods=methods)
    published, inference = panel_inputs[4], panel_inputs[5]
    theirs = published[(published["study_id"] == "illustration_enfield_2019")
                       & (published["outcome"] == "rereferrals_per_10k")]
    merged = ours.merge(theirs, on="method", suffixes=("", "_published"), validate="one_to_one")
    assert merged["placebo"].all()
    assert merged["estimate"].to_numpy() == pytest.approx(merged["estimate_published"].to_numpy(), abs=1e-9)
    exact = merged[merged["method"] != "synthetic_did"]
    assert exact["permutation_p_value"].to_numpy() == pytest.approx(exact["permutation_p_value_published"].to_numpy(),
                                                                     abs=1e-9)
    headline = inference[(inference["study_id"] == "illustration_enfield_2019")
                         & (inference["outcome"] == "rereferrals_per_10k")].iloc[0]
    main = merged[merged["method"] == "ols_with_covariate"].iloc[0]
    assert main["reselected_p_value"] == pytest.approx(headline["reselected_p_value"], abs=1e-12)
    # The synthetic DiD's placebo standard error shares fits between studies (the stated approximation).
    sdid = merged[merged["method"] == "synthetic_did"].iloc[0]
    assert sdid["se_placebo"] == pytest.approx(sdid["se_placebo_published"], rel=0.05)


def test_the_calibration_job_writes_files_the_refresh_loads(monkeypatch, tmp_path, built_warehouse):
    """One outcome, one start year and two cheap methods, through the multiprocess executor; then the calibration
    marts from the files, their rejection rates recounted here with plain SQL."""
    from fact22_assets.calibrate import calibration_job
    from fact22_assets.glue.freshness import current_source_versions

    published = tmp_path / "published" / "fact22.duckdb"
    published.parent.mkdir()
    shutil.copy(built_warehouse, published)
    folder = tmp_path / "calibration"
    monkeypatch.setenv("FACT22_WAREHOUSE", str(published))
    monkeypatch.setenv("FACT22_CALIBRATION_DIR", str(folder))
    monkeypatch.setenv("FACT22_CALIBRATION_START_YEARS", "2018")
    monkeypatch.setenv("FACT22_CALIBRATION_METHODS", "twfe_all_donors,synthetic_control")
    before = current_source_versions()[CALIBRATION]
    (tmp_path / "dagster").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "dagster"))
    with dg.execute_job(dg.reconstructable(calibration_job), instance=instance,
                        tags={"dagster/partition": "escalations_per_10k"}) as result:
        assert result.success
        started = [e for e in result.all_events if e.event_type_value == "ENGINE_EVENT"
                   and "multiprocess executor" in (e.message or "")]
        assert started
    assert sorted(p.name for p in folder.iterdir()) == ["escalations_per_10k.json", "escalations_per_10k.parquet"]
    assert current_source_versions()[CALIBRATION] != before

    warehouse = tmp_path / "build.duckdb"
    shutil.copy(built_warehouse, warehouse)
    loaded = run_assets(monkeypatch, REPO_ROOT / "data", warehouse, CALIBRATION_MARTS)
    assert loaded.success and all(e.passed for e in check_evaluations(loaded).values())
    # A run of a few assets writes its own build copy (write-audit-publish) and publishes nothing.
    con = duckdb.connect(str(warehouse.parent / "build" / loaded.run_id / warehouse.name), read_only=True)
    try:
        runs = con.execute("SELECT * FROM marts.calibration_runs").df()
        assert runs[["outcome", "vintage", "start_years", "origin"]].values.tolist() == [
            ["escalations_per_10k", "cin_2025", "2018", "computed"]]
        recount = con.execute("""
            SELECT method, count(*) AS n, count(*) FILTER (WHERE permutation_p_value <= 0.05) AS r
            FROM marts.calibration_studies GROUP BY method ORDER BY method""").df()
        published_rates = con.execute("""
            SELECT method, n_placebo_studies AS n, rejections AS r FROM marts.estimator_calibration
            WHERE alpha = 0.05 AND p_value_kind = 'permutation' AND noise_band = 'all' ORDER BY method""").df()
        pd.testing.assert_frame_equal(recount, published_rates, check_dtype=False)
        assert set(recount["method"]) == {"twfe_all_donors", "synthetic_control"} and (recount["n"] > 100).all()
        # Programme authorities are in the detectable effects, not among the placebo studies.
        ran = con.execute("SELECT DISTINCT unit_code FROM marts.detectable_effects WHERE ran_listed_programme").df()
        assert CHESHIRE_EAST in set(ran["unit_code"])
        assert con.execute("SELECT count(*) FROM marts.calibration_studies WHERE unit_code = $c",
                           {"c": CHESHIRE_EAST}).fetchone()[0] == 0
    finally:
        con.close()
