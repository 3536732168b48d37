"""All strand-1 tables for a study, from one synthetic panel."""

from dataclasses import replace

import numpy as np
import pytest

from fact22_assets.core.did import FACT22, evaluate_study
from fact22_assets.core.did.simulated_panel import simulated_panel


@pytest.fixture(scope="module")
def results():
    return evaluate_study(simulated_panel(n_units=50, trend_sd=1.0, seed=8), FACT22)


def test_one_comparator_per_outcome(results):
    chosen = results["comparator_ranking"].query("selected")
    assert sorted(chosen["outcome"]) == sorted(FACT22.outcomes)
    assert (chosen["rank"] == 1).all()


def test_did_results_line_up_every_method(results):
    methods = results["did_results"].groupby("outcome")["method"].apply(list)
    expected = ["difference_of_means", "ols", "ols_with_covariate", "synthetic_control", "twfe_all_donors",
                "synthetic_did", "penalised_synthetic_control"]
    for outcome in FACT22.outcomes:
        assert methods[outcome] == expected
    with_p = results["did_results"].dropna(subset=["permutation_p_value"])
    assert set(with_p["method"]) == {"ols_with_covariate", "synthetic_control", "twfe_all_donors", "synthetic_did",
                                     "penalised_synthetic_control"}
    assert (with_p["permutation_p_value"] > 0).all() and (with_p["permutation_p_value"] <= 1).all()


def test_main_estimate_is_the_treated_row_of_the_placebo_table(results):
    main = results["did_results"].query("method == 'ols_with_covariate'")
    main = main.set_index("outcome")["estimate"]
    treated = results["did_placebo_space"].query("role == 'treated'").set_index("outcome")["estimate"]
    np.testing.assert_allclose(main[treated.index], treated, atol=1e-8)


def test_event_study_has_both_variants_and_a_zero_reference(results):
    events = results["did_event_study"]
    assert len(events) == len(FACT22.outcomes) * 2 * len(FACT22.study_years)
    reference = events.query("period == 'reference'")
    assert (reference["collection_year"] == FACT22.pre_years[-1]).all()
    assert (reference["estimate"] == 0).all()


def test_synthetic_control_tables_cover_every_outcome(results):
    sums = results["synthetic_control_weights"].groupby("outcome")["weight"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-12)
    assert len(results["synthetic_control_paths"]) == len(FACT22.outcomes) * len(FACT22.study_years)


def test_a_study_without_covariate_has_no_covariate_rows():
    results = evaluate_study(simulated_panel(n_units=20, seed=9), replace(FACT22, covariate=None))
    assert "ols_with_covariate" not in set(results["did_results"]["method"])
    main = results["did_results"].query("method == 'ols'")
    assert main["permutation_p_value"].notna().all()
    assert not results["did_event_study"]["covariate_adjusted"].any()
