"""The report's DiD estimate and placebos, against hand-worked and independent answers."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from fact22_assets.core.did import (
    FACT22,
    Study,
    did_estimates,
    permutation_p_value,
    placebo_in_space,
    placebo_in_time,
    rank_comparators,
    selected_comparator,
)
from fact22_assets.core.did.prepared import prepare_outcome
from fact22_assets.core.did.simulated_panel import simulated_panel

TINY = Study(
    study_id="tiny",
    treated_unit_code="T",
    first_post_year=2014,
    pre_years=(2011, 2012, 2013),
    post_years=(2014, 2015),
    outcomes=("closures_per_10k",),
)
YEARS = list(TINY.study_years)


def tiny_panel(series: dict[str, list[float]], cin: dict | None = None) -> pd.DataFrame:
    rows = []
    for unit, values in series.items():
        for k, (year, value) in enumerate(zip(YEARS, values)):
            rows.append(
                {
                    "unit_code": unit,
                    "unit_name": f"Authority {unit}",
                    "collection_year": year,
                    "panel_status": "consistent",
                    "closures_per_10k": value,
                    "cin_at_31_march": cin[unit][k] if cin else 100.0 + 7 * k,
                    "population_all_ages": 100_000.0,
                    "cin_per_10k_children": 300.0,
                }
            )
    return pd.DataFrame(rows)


TREATED = [10.0, 12.0, 14.0, 20.0, 22.0]  # pre mean 12, post mean 21
CONTROL = [5.0, 6.0, 7.0, 8.0, 10.0]  # pre mean 6, post mean 9


def test_two_by_two_difference_of_means_is_the_regression_coefficient():
    # (21 - 12) - (9 - 6) = 6, worked by hand from the cell means.
    panel = tiny_panel({"T": TREATED, "C": CONTROL})
    study = replace(TINY, covariate=None)
    table = did_estimates(prepare_outcome(panel, study, "closures_per_10k"), "C").set_index("method")
    assert table.loc["difference_of_means", "estimate"] == pytest.approx(6.0, abs=1e-12)
    assert table.loc["ols", "estimate"] == pytest.approx(6.0, abs=1e-10)
    assert table.loc["ols", ["treated_pre_mean", "treated_post_mean"]].tolist() == [12.0, 21.0]
    assert table.loc["ols", "n_obs"] == 10
    assert table.loc["ols", "df_resid"] == 6


def test_classical_and_hc1_errors_match_a_hand_built_sandwich():
    cin = {"T": [50, 54, 53, 60, 57], "C": [40, 41, 45, 44, 47]}
    panel = tiny_panel({"T": TREATED, "C": CONTROL}, cin)
    table = did_estimates(prepare_outcome(panel, TINY, "closures_per_10k"), "C").set_index("method")
    row = table.loc["ols_with_covariate"]

    y = np.array(TREATED + CONTROL)
    treated = np.repeat([1.0, 0.0], 5)
    post = np.tile([0.0, 0, 0, 1, 1], 2)
    X = np.column_stack([np.ones(10), treated, post, treated * post, cin["T"] + cin["C"]])
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ X.T @ y
    e = y - X @ beta
    n, k = X.shape
    classical = bread * (e @ e) / (n - k)
    hc1 = bread @ (X.T * e**2) @ X @ bread * n / (n - k)

    assert row["estimate"] == pytest.approx(beta[3], abs=1e-9)
    assert row["covariate_coefficient"] == pytest.approx(beta[4], abs=1e-9)
    assert row["se_classical"] == pytest.approx(np.sqrt(classical[3, 3]), abs=1e-9)
    assert row["se_hc1"] == pytest.approx(np.sqrt(hc1[3, 3]), abs=1e-9)
    assert row["df_resid"] == 5
    # The 95% interval uses t on n - k = 5 degrees of freedom: t(0.975, 5) = 2.570582
    assert row["ci_high_hc1"] - row["estimate"] == pytest.approx(2.570582 * row["se_hc1"], rel=1e-6)


def test_ineligible_comparator_is_refused():
    panel = tiny_panel({"T": TREATED, "C": CONTROL[:2] + [np.nan] + CONTROL[3:]})
    with pytest.raises(ValueError, match="comparator C is not eligible: closures_per_10k missing"):
        did_estimates(prepare_outcome(panel, TINY, "closures_per_10k"), "C")


def test_placebo_in_time_uses_fake_starts_inside_the_pre_period():
    # Only fake start 2013 (the third pre year): pre 2011-12, post 2013.
    # Treated 14 - 11 = 3, control 7 - 5.5 = 1.5, so 1.5.
    panel = tiny_panel({"T": TREATED, "C": CONTROL})
    table = placebo_in_time(prepare_outcome(panel, replace(TINY, covariate=None), "closures_per_10k"), "C")
    assert table["fake_first_post_year"].unique().tolist() == [2013]
    assert table[["n_fake_pre_years", "n_fake_post_years"]].iloc[0].tolist() == [2, 1]
    np.testing.assert_allclose(table["estimate"], [1.5, 1.5], atol=1e-10)


def test_permutation_p_value_counts_the_actual_estimate():
    # |placebos| >= 3: -4 and 5, so (1 + 2) / (1 + 4); NaN placebos do not count.
    assert permutation_p_value(3.0, [1.0, -4.0, 2.0, 5.0, np.nan]) == pytest.approx(0.6)


def test_placebo_table_gives_the_p_value_as_the_mean_of_its_flags():
    panel = simulated_panel(n_units=30, seed=5)
    result = placebo_in_space(prepare_outcome(panel, FACT22, "closures_per_10k"), "E99000004")
    table = result.table
    assert table["role"].iloc[0] == "treated"
    assert "E99000004" not in set(table["unit_code"])
    assert result.n_placebos == 29
    assert result.p_value == pytest.approx(table["at_least_as_extreme"].mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_effect_is_recovered_with_parallel_trends(seed):
    panel = simulated_panel(n_units=60, effect=25.0, trend_sd=0.0, noise_sd=2.0, seed=seed)
    for outcome in FACT22.outcomes:
        comparator = selected_comparator(rank_comparators(prepare_outcome(panel, FACT22, outcome)))
        table = did_estimates(prepare_outcome(panel, FACT22, outcome), comparator).set_index("method")
        assert table.loc["ols", "estimate"] == pytest.approx(25.0, abs=6.0)
        assert table.loc["ols_with_covariate", "estimate"] == pytest.approx(25.0, abs=6.0)
        assert table.loc["ols", "ci_low_classical"] > 0
        # Against 59 untreated placebos, a 25-point jump is the most extreme.
        assert placebo_in_space(prepare_outcome(panel, FACT22, outcome), comparator).p_value == pytest.approx(1 / 60)


def test_no_effect_gives_estimates_near_zero():
    panel = simulated_panel(n_units=60, effect=0.0, trend_sd=0.0, noise_sd=2.0, seed=7)
    comparator = selected_comparator(rank_comparators(prepare_outcome(panel, FACT22, "closures_per_10k")))
    estimate = did_estimates(prepare_outcome(panel, FACT22, "closures_per_10k"), comparator)["estimate"]
    assert np.abs(estimate).max() < 6.0
