"""Strand 1 end to end: the default study from the built warehouse, and a
second study that runs from configuration alone."""
import shutil

import duckdb
import pytest

from fact22_assets.core.did.estimators import mart_names
from fact22_assets.settings import REPO_ROOT

from ..conftest import check_evaluations, run_assets

OUTCOMES = {"closures_per_10k", "rereferrals_per_10k", "escalations_per_10k"}
# The strand-1 multi-asset writes every mart of the estimator registry at once.
DID_KEYS = [*(f"marts.{name}" for name in mart_names()), "marts.did_runs"]


def test_default_study_has_one_comparator_per_outcome(warehouse_sql):
    chosen = warehouse_sql("SELECT outcome, unit_code, eligible, passes_pretrend FROM marts.comparator_ranking "
                           "WHERE study_id = 'fact22_cheshire_east' AND vintage = 'cin_2025' AND selected")
    assert set(chosen.outcome) == OUTCOMES and len(chosen) == 3
    assert chosen.eligible.all() and "E06000049" not in set(chosen.unit_code)


def test_report_specification_and_inference_per_outcome(warehouse_sql):
    results = warehouse_sql("SELECT * FROM marts.did_results WHERE study_id = 'fact22_cheshire_east' "
                            "AND vintage = 'cin_2025'")
    assert set(results.method) == {"difference_of_means", "ols", "ols_with_covariate", "synthetic_control",
                                   "twfe_all_donors", "synthetic_did", "penalised_synthetic_control"}
    main = results[results.method == "ols_with_covariate"]
    assert set(main.outcome) == OUTCOMES
    assert (main.n_obs == 18).all()  # two authorities x nine years (2010-11 to 2018-19)
    assert main.permutation_p_value.between(0, 1).all() and (main.n_placebos > 100).all()
    assert (main.ci_low_classical < main.estimate).all() and (main.estimate < main.ci_high_classical).all()


def test_two_by_two_matches_a_hand_computation_from_the_rates(warehouse_sql):
    row = warehouse_sql("SELECT * FROM marts.did_results WHERE study_id = 'fact22_cheshire_east' AND vintage = "
                        "'cin_2025' AND outcome = 'escalations_per_10k' AND method = 'difference_of_means'").iloc[0]
    rates = warehouse_sql("SELECT panel_unit_code, collection_year, escalations, population_all_ages "
                          "FROM marts.cin_rates WHERE panel_unit_code IN (?, ?) AND collection_year BETWEEN 2011 AND 2019",
                          ["E06000049", row.comparator_code])
    rates["rate"] = rates.escalations * 10000 / rates.population_all_ages
    post = rates.collection_year >= 2016
    treated = rates.panel_unit_code == "E06000049"
    expected = ((rates[treated & post].rate.mean() - rates[treated & ~post].rate.mean())
                - (rates[~treated & post].rate.mean() - rates[~treated & ~post].rate.mean()))
    assert row.estimate == pytest.approx(expected, abs=1e-9)


def test_event_study_has_every_study_year(warehouse_sql):
    years = warehouse_sql("SELECT DISTINCT collection_year FROM marts.did_event_study "
                          "WHERE study_id = 'fact22_cheshire_east' AND vintage = 'cin_2025'")
    assert set(years.collection_year) == set(range(2011, 2020))


def test_results_are_kept_per_vintage(warehouse_sql):
    runs = warehouse_sql("SELECT vintage, status FROM marts.did_runs WHERE study_id = 'fact22_cheshire_east'")
    assert dict(zip(runs.vintage, runs.status))["cin_2022"] == "estimated"
    assert dict(zip(runs.vintage, runs.status))["cin_2010"] == "not estimated"
    vintages = warehouse_sql("SELECT DISTINCT vintage FROM marts.did_results WHERE study_id = 'fact22_cheshire_east'")
    assert set(vintages.vintage) == {"cin_2022", "cin_2025"}


def test_another_authority_and_start_year_from_configuration_alone(monkeypatch, tmp_path, built_warehouse):
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(built_warehouse, warehouse)
    studies = tmp_path / "studies.yaml"
    studies.write_text(
        "studies:\n"
        "  - study_id: wandsworth_2018\n"
        "    neighbour_model: '2025'\n"
        "    design:\n"
        "      study_id: wandsworth_2018\n"
        "      treated_unit_code: E09000032\n"
        "      first_post_year: 2018\n"
        "      pre_years: [2013, 2014, 2015, 2016, 2017]\n"
        "      post_years: [2018, 2019, 2020]\n"
        "      outcomes: [closures_per_10k, escalations_per_10k]\n"
        # What is read here is where the study's rows come from, not the estimators (the session build runs
        # every estimator for every configured study): the two costliest whole-pool ones are left out.
        "    skip_estimators: [synthetic_did, penalised_synthetic_control]\n"
    )
    monkeypatch.setenv("FACT22_STUDIES", str(studies))
    result = run_assets(monkeypatch, REPO_ROOT / "data", warehouse, DID_KEYS)
    assert result.success
    assert all(e.passed for e in check_evaluations(result).values())
    # A few assets are no publication: the run's build, kept in its own folder for inspection, holds them.
    con = duckdb.connect(str(tmp_path / "build" / result.run_id / warehouse.name), read_only=True)
    rows = con.execute("SELECT DISTINCT study_id, treated_unit_code, first_post_year, outcome FROM marts.did_results "
                       "WHERE vintage = 'cin_2025'").df()
    assert set(rows.study_id) == {"wandsworth_2018"} and set(rows.treated_unit_code) == {"E09000032"}
    assert set(rows.first_post_year) == {2018} and set(rows.outcome) == {"closures_per_10k", "escalations_per_10k"}


def test_a_tampered_estimate_fails_the_recomputation_check(monkeypatch, tmp_path, built_warehouse):
    from dagster_duckdb import DuckDBResource

    from fact22_assets.defs.did.checks import did_two_by_two_recomputes

    warehouse = tmp_path / "w.duckdb"
    shutil.copy(built_warehouse, warehouse)
    resource = DuckDBResource(database=str(warehouse))
    assert did_two_by_two_recomputes(duckdb=resource).passed
    con = duckdb.connect(str(warehouse))
    con.execute("UPDATE marts.did_results SET estimate = estimate + 0.001 WHERE method = 'difference_of_means' "
                "AND outcome = 'closures_per_10k' AND study_id = 'fact22_cheshire_east' AND vintage = 'cin_2025'")
    con.close()
    failed = did_two_by_two_recomputes(duckdb=resource)
    assert not failed.passed and "closures_per_10k" in failed.description and "cin_2025" in failed.description
