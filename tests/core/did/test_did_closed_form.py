"""The vectorised fits against statsmodels OLS, fitted one pair at a time."""

from dataclasses import replace

import numpy as np
import pytest
import statsmodels.api as sm

from fact22_assets.core.did import FACT22, event_study, placebo_in_space, pretrend_tests
from fact22_assets.core.did.panel import complete_matrix
from fact22_assets.core.did.prepared import prepare_outcome
from fact22_assets.core.did.simulated_panel import simulated_panel

ATOL = 1e-8
SEEDS = [0, 1, 2]


def _statsmodels_fit(y, columns, coefficient):
    fit = sm.OLS(y, np.column_stack([np.ones_like(y), *columns])).fit()
    return fit.params[coefficient], fit.bse[coefficient], fit.pvalues[coefficient], fit


def _pair_rows(panel, column, first, second, years):
    values = complete_matrix(panel, column, [first, second], years)
    return values.ravel()


@pytest.mark.parametrize("seed", SEEDS)
def test_pretrend_slopes_match_statsmodels(seed):
    panel = simulated_panel(n_units=25, seed=seed)
    candidates = sorted(set(panel["unit_code"]) - {FACT22.treated_unit_code})
    result = pretrend_tests(prepare_outcome(panel, FACT22, "closures_per_10k"), candidates)

    years = np.array(FACT22.pre_years, dtype=float)
    treated = np.repeat([1.0, 0.0], years.size)
    year = np.tile(years, 2)
    expected = []
    for code in candidates:
        y = _pair_rows(panel, "closures_per_10k", FACT22.treated_unit_code, code, FACT22.pre_years)
        estimate, se, p, fit = _statsmodels_fit(y, [treated, year, treated * year], 3)
        expected.append((estimate, se, p, fit.df_resid))
    expected = np.array(expected)
    got = result[["differential_slope", "differential_slope_se", "differential_slope_p"]].to_numpy()
    np.testing.assert_allclose(got, expected[:, :3], rtol=0, atol=ATOL)
    assert (result["differential_slope_df"] == expected[:, 3]).all()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("covariate", ["cin_at_31_march", None])
def test_placebo_fits_match_statsmodels(seed, covariate):
    study = replace(FACT22, covariate=covariate)
    panel = simulated_panel(n_units=25, seed=seed)
    comparator = "E99000007"
    table = placebo_in_space(prepare_outcome(panel, study, "rereferrals_per_10k"), comparator).table

    years = list(study.study_years)
    treated = np.repeat([1.0, 0.0], len(years))
    post = np.tile(np.isin(years, study.post_years), 2).astype(float)
    expected = []
    for code in table["unit_code"]:
        y = _pair_rows(panel, "rereferrals_per_10k", code, comparator, years)
        columns = [treated, post, treated * post]
        if covariate:
            columns.append(_pair_rows(panel, covariate, code, comparator, years))
        estimate, se, p, fit = _statsmodels_fit(y, columns, 3)
        slope = fit.params[4] if covariate else np.nan
        expected.append((estimate, se, p, slope))
    got = table[["estimate", "se_classical", "p_classical", "covariate_coefficient"]].to_numpy()
    np.testing.assert_allclose(got, np.array(expected), rtol=0, atol=ATOL)


@pytest.mark.parametrize("include_covariate", [False, True])
def test_event_study_matches_the_dummy_regression(include_covariate):
    panel = simulated_panel(n_units=10, seed=4)
    comparator = "E99000003"
    result = event_study(prepare_outcome(panel, FACT22, "escalations_per_10k"), comparator, include_covariate)

    years = list(FACT22.study_years)
    reference = FACT22.pre_years[-1]
    y = _pair_rows(panel, "escalations_per_10k", FACT22.treated_unit_code, comparator, years)
    if include_covariate:
        # Adjusted by the CIN coefficient of the report's DiD regression, fitted independently here.
        treated = np.repeat([1.0, 0.0], len(years))
        post = np.tile(np.isin(years, FACT22.post_years), 2).astype(float)
        x = _pair_rows(panel, "cin_at_31_march", FACT22.treated_unit_code, comparator, years)
        slope = _statsmodels_fit(y, [treated, post, treated * post, x], 4)[0]
        y = y - slope * x
    treated = np.repeat([1.0, 0.0], len(years))
    year = np.tile(years, 2)
    year_effects = [(year == k).astype(float) for k in years if k != reference]
    interactions = [treated * (year == k) for k in years if k != reference]
    fit = sm.OLS(y, np.column_stack([np.ones_like(y), treated, *year_effects, *interactions])).fit()
    expected = dict(zip([k for k in years if k != reference], fit.params[-len(interactions) :]))
    expected[reference] = 0.0

    assert fit.df_resid == 0  # saturated: why the intervals come from placebos
    got = result.set_index("collection_year")["estimate"]
    np.testing.assert_allclose(got[years], [expected[k] for k in years], rtol=0, atol=ATOL)


def test_closed_forms_refuse_what_they_cannot_fit():
    from fact22_assets.core.did.closed_form import differential_slopes, pair_did

    years = np.array([2011.0, 2012.0, 2013.0])
    with pytest.raises(ValueError, match=r"^expected one series of n years and a units x n array, got shapes "
                                         r"\(3,\) and \(1, 2\)$"):
        differential_slopes(np.ones(3), np.ones((1, 2)), years)
    with pytest.raises(ValueError, match=r"^expected one series"):
        differential_slopes(np.ones((2, 3)), np.ones((1, 3)), years)  # the treated series must be one row
    with pytest.raises(ValueError, match="^the fits need complete series; drop units with missing years first$"):
        differential_slopes(np.ones(3), np.array([[1.0, np.nan, 2.0]]), years)
    with pytest.raises(ValueError, match="^the fits need complete series"):
        differential_slopes(np.array([1.0, np.nan, 2.0]), np.ones((1, 3)), years)
    with pytest.raises(ValueError, match=r"^too few years for this regression: 0 residual degrees of freedom$"):
        differential_slopes(np.array([1.0, 2.0]), np.array([[1.0, 3.0]]), np.array([2011.0, 2012.0]))
    post = np.array([False, True, True])
    with pytest.raises(ValueError, match="^post must flag each year, with at least one pre- and one post year$"):
        pair_did(np.ones((1, 3)), np.ones(3), np.array([True, True, True]))
    with pytest.raises(ValueError, match="^post must flag each year"):
        pair_did(np.ones((1, 3)), np.ones(3), np.array([False, False, False]))
    with pytest.raises(ValueError, match="^give the covariate for both treated and control, or for neither$"):
        pair_did(np.ones((1, 3)), np.ones(3), post, treated_x=np.ones((1, 3)))


def test_closed_forms_report_t_and_the_number_of_rows():
    from fact22_assets.core.did.closed_form import differential_slopes, pair_did

    fits = differential_slopes(np.array([1.0, 2.0, 4.0]), np.array([[1.0, 1.5, 2.5], [0.0, 2.0, 3.0]]),
                               np.array([2011.0, 2012.0, 2013.0]))
    assert fits.n_obs == 6 and fits.df_resid == 2
    np.testing.assert_allclose(fits.t, fits.estimate / fits.se)
    did = pair_did(np.array([[1.0, 2.0, 4.0, 5.0]]), np.array([1.0, 1.5, 2.5, 2.0]), np.array([False, False, True, True]))
    assert did.n_obs == 8
    np.testing.assert_allclose(did.t, did.estimate / did.se)
