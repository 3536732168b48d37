"""Strand 1 end to end: the default study from the built warehouse, and a
second study that runs from configuration alone."""
import shutil

import duckdb
import pandas as pd
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


# Two studies a population correction can tell apart: Cheshire East's window 2011-2017, Enfield's 2016-2022
# (Cheshire East, treated in the first, is no donor in the second: the corrected authority is Enfield).
TWO_WINDOWS = """studies:
  - study_id: early_window
    neighbour_model: '2021'
    design:
      study_id: early_window
      treated_unit_code: E06000049
      first_post_year: 2016
      pre_years: [2011, 2012, 2013, 2014, 2015]
      post_years: [2016, 2017]
      outcomes: [closures_per_10k]
    skip_estimators: [synthetic_did, penalised_synthetic_control]
  - study_id: late_window
    programme_ran: false
    neighbour_model: '2021'
    design:
      study_id: late_window
      treated_unit_code: E09000010
      first_post_year: 2021
      pre_years: [2016, 2017, 2018, 2019, 2020]
      post_years: [2021, 2022]
      outcomes: [closures_per_10k]
    skip_estimators: [synthetic_did, penalised_synthetic_control]
"""


def _correct_population(warehouse, year: int) -> None:
    """What a corrected population of Enfield in ``year`` does to the DiD's input: 1% more residents, so every
    rate per 10,000 residents or children of that authority-year 1% lower (marts.cin_rates_vintages, every
    vintage; the studies' outcome is a rate per 10,000 residents)."""
    from fact22_assets.core.measures import RATES

    lowered = ", ".join(f"{r.name} = {r.name} / 1.01" for r in RATES)
    con = duckdb.connect(str(warehouse))
    changed = con.execute(f"UPDATE marts.cin_rates_vintages SET {lowered} WHERE panel_unit_code = 'E09000010' "
                          "AND geographic_level = 'Local authority' AND collection_year = ?", [year]).fetchone()[0]
    con.close()
    assert changed > 0


def _did_run(monkeypatch, warehouse):
    """The DiD marts materialised on ``warehouse`` (as a refresh's build would): the jobs it estimated and
    reused, and every DiD table of its build."""
    result = run_assets(monkeypatch, REPO_ROOT / "data", warehouse, DID_KEYS)
    assert result.success
    runs = next(e for e in result.get_asset_materialization_events()
                if e.asset_key.to_user_string() == "marts/did_runs").materialization.metadata
    con = duckdb.connect(str(warehouse.parent / "build" / result.run_id / warehouse.name), read_only=True)
    tables = {key: con.execute(f"SELECT * FROM {key}").df() for key in DID_KEYS}
    con.close()
    return runs["jobs_estimated"].value, runs["jobs_reused"].value, tables


def _assert_same(tables, other, where=lambda frame: frame.index == frame.index):
    """Every row (of ``where``) equal, to the bit; the commit that ran each (code_version) aside."""
    for key, frame in tables.items():
        left, right = frame[where(frame)].reset_index(drop=True), other[key][where(other[key])].reset_index(drop=True)
        pd.testing.assert_frame_equal(left.drop(columns="code_version"), right.drop(columns="code_version"),
                                      check_exact=True, obj=key)


def test_a_population_change_re_estimates_just_the_jobs_whose_years_it_touches(monkeypatch, tmp_path,
                                                                               built_warehouse):
    """The DiD marts reuse a (study, vintage, outcome)'s results whose inputs did not change, and the marts
    equal those of a fresh estimate of every job: a change outside every window re-estimates nothing; one in
    the late window only the late study's jobs; new code everything."""
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(built_warehouse, warehouse)
    studies = tmp_path / "studies.yaml"
    studies.write_text(TWO_WINDOWS)
    monkeypatch.setenv("FACT22_STUDIES", str(studies))

    estimated, reused, first = _did_run(monkeypatch, warehouse)
    jobs = len(first["marts.did_results"].groupby(["study_id", "vintage", "outcome"]))
    late = len(first["marts.did_results"].query("study_id == 'late_window'").groupby(["vintage", "outcome"]))
    assert (estimated, reused) == (jobs, 0) and 0 < late < jobs

    _correct_population(warehouse, 2024)  # after both windows
    estimated, reused, outside = _did_run(monkeypatch, warehouse)
    assert (estimated, reused) == (0, jobs)
    _assert_same(outside, first)

    _correct_population(warehouse, 2021)  # in the late window only
    estimated, reused, inside = _did_run(monkeypatch, warehouse)
    assert (estimated, reused) == (late, jobs - late)
    late_estimates = [t["marts.did_results"].query("study_id == 'late_window'")["estimate"] for t in (first, inside)]
    assert not late_estimates[0].equals(late_estimates[1])  # Enfield's own post-period rate: the estimates move
    _assert_same(inside, first, lambda frame: frame.study_id == "early_window")

    # Other code: nothing reused; and every job estimated afresh gives the marts the reuse gave.
    import fact22_assets.glue.freshness as freshness

    monkeypatch.setattr(freshness, "code_fingerprint", lambda root: "other code")
    estimated, reused, fresh = _did_run(monkeypatch, warehouse)
    assert (estimated, reused) == (jobs, 0)
    _assert_same(inside, fresh)
