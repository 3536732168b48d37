"""Tobit regression: recovers known parameters, and is OLS when nothing is censored."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from fact22_assets.core.casework.tobit import case_length_tobit, fit_tobit, tobit_table

BETA = np.array([1.0, 2.0, -1.5])
SIGMA = 2.0


def simulated(n=2000, seed=11):
    rng = np.random.default_rng(seed)
    exog = pd.DataFrame({"const": 1.0, "x": rng.normal(size=n), "treated": rng.integers(0, 2, n).astype(float)})
    latent = exog.to_numpy() @ BETA + rng.normal(0, SIGMA, n)
    return exog, latent


def test_recovers_known_parameters_with_a_fixed_right_limit():
    exog, latent = simulated()
    y = np.minimum(latent, 2.0)
    right = latent >= 2.0
    assert 0.2 < right.mean() < 0.4  # a real share is censored
    table = tobit_table(fit_tobit(y, exog, right)).set_index("term")
    np.testing.assert_allclose(table.loc[["const", "x", "treated"], "estimate"], BETA, atol=0.2)
    assert table.loc["sigma", "estimate"] == pytest.approx(SIGMA, abs=0.15)
    # and ignoring the censoring would not have: OLS is pulled towards zero
    ols = sm.OLS(y, exog).fit()
    assert abs(ols.params["x"] - BETA[1]) > 0.3


def test_recovers_known_parameters_with_case_specific_right_limits_and_a_left_limit():
    exog, latent = simulated(seed=12)
    rng = np.random.default_rng(13)
    limit = rng.uniform(1.0, 5.0, len(latent))  # like days left before the end of study
    right = latent >= limit
    left = latent <= 0.0
    y = np.where(right, limit, np.where(left, 0.0, latent))
    table = tobit_table(fit_tobit(y, exog, right, left)).set_index("term")
    np.testing.assert_allclose(table.loc[["const", "x", "treated"], "estimate"], BETA, atol=0.2)
    assert table.loc["sigma", "estimate"] == pytest.approx(SIGMA, abs=0.15)
    # a 95% interval covers the true value
    for term, true in zip(["const", "x", "treated"], BETA):
        assert table.loc[term, "ci_low"] < true < table.loc[term, "ci_high"]


def test_without_censoring_it_is_ols():
    exog, latent = simulated(n=400, seed=5)
    result = fit_tobit(latent, exog)
    ols = sm.OLS(latent, exog).fit()
    np.testing.assert_allclose(np.asarray(result.params)[:-1], ols.params, rtol=1e-5, atol=1e-6)
    ml_sigma = np.sqrt(ols.ssr / len(latent))  # ML, not the df-corrected, estimate
    assert np.exp(result.params[-1]) == pytest.approx(ml_sigma, rel=1e-5)
    np.testing.assert_allclose(result.llf, ols.llf, rtol=1e-8)
    # standard errors are the ML ones: sigma_ML^2 (X'X)^-1, and 1/sqrt(2n) for log sigma
    x = exog.to_numpy()
    np.testing.assert_allclose(
        np.asarray(result.bse)[:-1], np.sqrt(np.diag(ml_sigma**2 * np.linalg.inv(x.T @ x))), rtol=1e-4
    )
    assert result.bse[-1] == pytest.approx(1 / np.sqrt(2 * len(latent)), rel=1e-4)


def test_case_length_model_reports_counts_and_sigma():
    rng = np.random.default_rng(2)
    n = 300
    lengths = pd.DataFrame(
        {
            "treated": rng.integers(0, 2, n),
            "female": rng.integers(0, 2, n),
            "under_11": rng.integers(0, 2, n),
            "previous_cin_history": rng.integers(0, 2, n),
        }
    )
    latent = 600 + 150 * lengths["treated"] + rng.normal(0, 300, n)
    limit = rng.uniform(900, 1500, n)
    lengths["right_censored"] = latent >= limit
    lengths["case_length_days"] = np.where(lengths["right_censored"], limit, latent).round()
    lengths["data_origin"] = "SYNTHETIC"
    table = case_length_tobit(lengths, ("female", "under_11", "previous_cin_history"))
    assert table["term"].tolist() == ["const", "treated", "female", "under_11", "previous_cin_history", "sigma"]
    assert table["n_right_censored"].iloc[0] == lengths["right_censored"].sum()
    assert table["converged"].all()
    assert set(table["data_origin"]) == {"SYNTHETIC"}
    estimates = table.set_index("term")["estimate"]
    assert estimates["treated"] == pytest.approx(150, abs=100)
    assert estimates["sigma"] == pytest.approx(300, abs=50)


def _independent_tobit(y, x, right):
    """A right-censored normal likelihood written here, maximised with scipy (a second implementation)."""
    from scipy import optimize, stats

    def negative_loglik(theta):
        beta, sigma = theta[:-1], np.exp(theta[-1])
        z = (y - x @ beta) / sigma
        return -(np.where(right, stats.norm.logsf(z), stats.norm.logpdf(z) - np.log(sigma))).sum()

    start = np.append(np.linalg.lstsq(x, y, rcond=None)[0], np.log(y.std()))
    found = optimize.minimize(negative_loglik, start, method="Nelder-Mead",
                              options={"maxiter": 40000, "maxfev": 40000, "xatol": 1e-8, "fatol": 1e-10})
    return found.x, -found.fun


def test_matches_a_likelihood_written_independently():
    exog, latent = simulated(n=400, seed=21)
    limit = np.random.default_rng(22).uniform(0.0, 4.0, len(latent))
    right = latent >= limit
    y = np.where(right, limit, latent)
    result = fit_tobit(y, exog, right)
    table = tobit_table(result).set_index("term")
    theirs, loglik = _independent_tobit(y, exog.to_numpy(), right)
    assert result.llf == pytest.approx(loglik, abs=1e-4)
    np.testing.assert_allclose(table.loc[["const", "x", "treated"], "estimate"], theirs[:-1], atol=1e-3)
    assert table.loc["sigma", "estimate"] == pytest.approx(np.exp(theirs[-1]), abs=1e-3)


def test_a_hand_worked_case_without_covariates():
    # Constant only, nothing censored: the MLE is the mean and the n-denominator SD.
    y = np.array([2.0, 4.0, 6.0, 8.0])
    table = tobit_table(fit_tobit(y, pd.DataFrame({"const": np.ones(4)}))).set_index("term")
    assert table.loc["const", "estimate"] == pytest.approx(5.0, abs=1e-4)
    assert table.loc["sigma", "estimate"] == pytest.approx(np.sqrt(5.0), abs=1e-4)  # sqrt((9+1+1+9)/4)
    # one right-censored case at 8: its latent length is above 8, so the mean moves up
    censored = tobit_table(fit_tobit(y, pd.DataFrame({"const": np.ones(4)}), np.array([0, 0, 0, 1], bool)))
    assert censored.set_index("term").loc["const", "estimate"] > 5.0
