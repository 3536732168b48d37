"""Golden DiD: the headline estimates of the default study (marts.did_results)
against plain pandas + statsmodels on the panel recomputed from the raw files.

For each outcome the comparator is the one the warehouse selected; the 2x2
difference of means and the report's OLS
``Y = b0 + b1*T + b2*Post + bTE*(T x Post) [+ b3*CIN]`` (classical and HC1
errors) must equal the mart to 1e-8. The placebo-in-space estimates and the
permutation p-value are recomputed the same way over the warehouse's eligible
authorities.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from . import raw_published as raw

STUDY = raw.study()
TOL = 1e-8


@pytest.fixture(scope="module")
def mart(built_warehouse):
    con = duckdb.connect(str(built_warehouse), read_only=True)
    vintage = con.execute("SELECT DISTINCT vintage FROM marts.cin_rates").fetchone()[0]

    def read(table: str) -> pd.DataFrame:
        return con.execute(f"SELECT * FROM {table} WHERE study_id = $s AND vintage = $v",
                           {"s": STUDY.study_id, "v": vintage}).df()

    tables = {t: read(f"marts.{t}") for t in ("did_results", "comparator_ranking", "did_placebo_space",
                                               "did_comparator_robustness", "did_comparator_robustness_summary")}
    con.close()
    return tables


def _comparator(mart, outcome: str) -> str:
    chosen = mart["comparator_ranking"]
    chosen = chosen[(chosen["outcome"] == outcome) & chosen["selected"]]
    assert len(chosen) == 1
    return chosen["unit_code"].iloc[0]


def _two_unit_frame(outcome: str, treated: str, comparator: str) -> pd.DataFrame:
    panel = raw.panel(STUDY)
    frame = panel[panel["unit_code"].isin([treated, comparator])].copy()
    frame["T"] = (frame["unit_code"] == treated).astype(float)
    frame["Post"] = frame["year"].isin(STUDY.post_years).astype(float)
    frame["TxPost"] = frame["T"] * frame["Post"]
    assert len(frame) == 2 * len(STUDY.years) and frame[[outcome, STUDY.covariate]].notna().all().all()
    return frame.sort_values(["unit_code", "year"])


def _fit(frame: pd.DataFrame, outcome: str, covariate: bool):
    columns = ["T", "Post", "TxPost"] + ([STUDY.covariate] if covariate else [])
    design = sm.add_constant(frame[columns].astype(float))
    model = sm.OLS(frame[outcome].astype(float), design)
    return model.fit(), model.fit(cov_type="HC1", use_t=True)  # t on n-k df, as Stata's robust


def _expected_rows(outcome: str, comparator: str) -> dict[str, dict]:
    frame = _two_unit_frame(outcome, STUDY.treated_unit_code, comparator)
    cell = frame.groupby(["T", "Post"])[outcome].mean()
    means = {"treated_pre_mean": cell[(1.0, 0.0)], "treated_post_mean": cell[(1.0, 1.0)],
             "comparator_pre_mean": cell[(0.0, 0.0)], "comparator_post_mean": cell[(0.0, 1.0)]}
    rows = {"difference_of_means": {
        "estimate": (means["treated_post_mean"] - means["treated_pre_mean"])
        - (means["comparator_post_mean"] - means["comparator_pre_mean"]),
        "n_obs": len(frame), **means}}
    for method, covariate in (("ols", False), ("ols_with_covariate", True)):
        classical, hc1 = _fit(frame, outcome, covariate)
        ci, ci_hc1 = classical.conf_int().loc["TxPost"], hc1.conf_int().loc["TxPost"]
        rows[method] = {
            "estimate": classical.params["TxPost"],
            "se_classical": classical.bse["TxPost"], "t_classical": classical.tvalues["TxPost"],
            "p_classical": classical.pvalues["TxPost"],
            "ci_low_classical": ci.iloc[0], "ci_high_classical": ci.iloc[1],
            "se_hc1": hc1.bse["TxPost"], "t_hc1": hc1.tvalues["TxPost"], "p_hc1": hc1.pvalues["TxPost"],
            "ci_low_hc1": ci_hc1.iloc[0], "ci_high_hc1": ci_hc1.iloc[1],
            "covariate_coefficient": classical.params[STUDY.covariate] if covariate else np.nan,
            "n_obs": int(classical.nobs), "df_resid": int(classical.df_resid), "r_squared": classical.rsquared,
            **means,
        }
    return rows


@pytest.mark.parametrize("outcome", STUDY.outcomes)
@pytest.mark.parametrize("method", ["difference_of_means", "ols", "ols_with_covariate"])
def test_did_results_match_statsmodels_on_raw_panel(outcome, method, mart):
    comparator = _comparator(mart, outcome)
    expected = _expected_rows(outcome, comparator)[method]
    rows = mart["did_results"]
    row = rows[(rows["outcome"] == outcome) & (rows["method"] == method)]
    assert len(row) == 1
    row = row.iloc[0]
    assert row["comparator_code"] == comparator
    assert row["treated_unit_code"] == STUDY.treated_unit_code
    for column, value in expected.items():
        got = row[column]
        if isinstance(value, float) and np.isnan(value):
            assert pd.isna(got), column
        else:
            assert got == pytest.approx(value, rel=TOL, abs=TOL), column


@pytest.mark.parametrize("outcome", STUDY.outcomes)
def test_placebo_in_space_and_permutation_p(outcome, mart):
    """Each warehouse-eligible authority (bar the comparator) as pseudo-treated
    against the comparator, with the report's covariate specification."""
    comparator = _comparator(mart, outcome)
    ranking = mart["comparator_ranking"]
    units = sorted(set(ranking.loc[(ranking["outcome"] == outcome) & ranking["eligible"], "unit_code"])
                   - {comparator})
    actual = _expected_rows(outcome, comparator)["ols_with_covariate"]["estimate"]
    placebo = {u: _fit(_two_unit_frame(outcome, u, comparator), outcome, True)[0].params["TxPost"] for u in units}
    space = mart["did_placebo_space"]
    space = space[(space["outcome"] == outcome) & (space["role"] == "placebo")].set_index("unit_code")
    assert sorted(space.index) == units
    np.testing.assert_allclose(space.loc[units, "estimate"], [placebo[u] for u in units], rtol=TOL, atol=TOL)
    p = (1 + sum(abs(v) >= abs(actual) for v in placebo.values())) / (1 + len(units))
    rows = mart["did_results"]
    row = rows[(rows["outcome"] == outcome) & (rows["method"] == "ols_with_covariate")].iloc[0]
    assert row["n_placebos"] == len(units)
    assert row["permutation_p_value"] == pytest.approx(p, rel=TOL)


@pytest.mark.parametrize("outcome", STUDY.outcomes)
def test_specification_curve_against_every_comparator(outcome, mart):
    """The report's specification against every raw-eligible authority, fitted one by one in statsmodels."""
    units = raw.eligible_units(STUDY, outcome)
    curve = mart["did_comparator_robustness"]
    curve = curve[curve["outcome"] == outcome].set_index("unit_code")
    assert sorted(curve.index) == sorted(units)
    expected = {u: _fit(_two_unit_frame(outcome, STUDY.treated_unit_code, u), outcome, True)[0].params["TxPost"]
                for u in units}
    np.testing.assert_allclose(curve.loc[units, "estimate"], [expected[u] for u in units], rtol=TOL, atol=TOL)
    values = np.array(list(expected.values()))
    summary = mart["did_comparator_robustness_summary"]
    row = summary[summary["outcome"] == outcome].iloc[0]
    assert row["median"] == pytest.approx(np.median(values), abs=TOL)
    assert row["share_negative"] == pytest.approx((values < 0).mean())
    chosen = expected[_comparator(mart, outcome)]
    assert row["chosen_estimate"] == pytest.approx(chosen, abs=TOL)


@pytest.mark.parametrize("outcome", STUDY.outcomes)
def test_two_way_fixed_effects_over_all_donors(outcome, mart):
    """Unit and year dummies over the treated authority and every raw-eligible authority (statsmodels)."""
    units = raw.eligible_units(STUDY, outcome)
    panel = raw.panel(STUDY)
    frame = panel[panel["unit_code"].isin([STUDY.treated_unit_code, *units])].copy()
    frame["D"] = ((frame["unit_code"] == STUDY.treated_unit_code) & frame["year"].isin(STUDY.post_years)).astype(float)
    design = pd.get_dummies(frame[["unit_code", "year"]].astype(str), drop_first=True).astype(float)
    design.insert(0, "D", frame["D"])
    fit = sm.OLS(frame[outcome].astype(float), sm.add_constant(design)).fit()
    rows = mart["did_results"]
    row = rows[(rows["outcome"] == outcome) & (rows["method"] == "twfe_all_donors")].iloc[0]
    assert row["estimate"] == pytest.approx(fit.params["D"], abs=TOL)
    assert row["n_obs"] == fit.nobs


# --- Whole-pool estimators against independent code, on the panel recomputed from the raw files.

def _wide(outcome: str, units: list[str]) -> np.ndarray:
    """Controls (in `units` order) then the treated authority, study years in order."""
    frame = raw.panel(STUDY).pivot(index="unit_code", columns="year", values=outcome)[list(STUDY.years)]
    return frame.loc[[*units, STUDY.treated_unit_code]].to_numpy(dtype=float)


@pytest.fixture(scope="module")
def whole_pool(built_warehouse):
    con = duckdb.connect(str(built_warehouse), read_only=True)
    vintage = con.execute("SELECT DISTINCT vintage FROM marts.cin_rates").fetchone()[0]
    tables = {t: con.execute(f"SELECT * FROM marts.{t} WHERE study_id = $s AND vintage = $v",
                             {"s": STUDY.study_id, "v": vintage}).df()
              for t in ("did_results", "synthetic_did_weights", "penalised_synthetic_control_weights",
                        "synthetic_control_identification", "did_event_study", "did_placebo_space_reselected",
                        "did_inference", "comparator_ranking")}
    con.close()
    return tables


def _row(tables, outcome: str, method: str) -> pd.Series:
    rows = tables["did_results"]
    return rows[(rows["outcome"] == outcome) & (rows["method"] == method)].iloc[0]


@pytest.mark.parametrize("outcome", STUDY.outcomes)
def test_synthetic_did_matches_synthdid_py(outcome, whole_pool):
    """synthdid-py (a port of the R package) on the raw panel: estimate, unit and time weights; its
    Algorithm-4 refit for a sample of donors as pseudo-treated; the exact SE from every donor once."""
    from synthdid.estimate import refit, synthdid_estimate
    from synthdid.vcov import _weights_for_subset

    from fact22_assets.core.did.synthetic_did import synthetic_did

    units = raw.eligible_units(STUDY, outcome)
    y, n0, t0 = _wide(outcome, units), len(units), len(STUDY.pre_years)
    peer = synthdid_estimate(y, n0, t0)
    row = _row(whole_pool, outcome, "synthetic_did")
    assert row["estimate"] == pytest.approx(float(peer), abs=1e-8)
    weights = whole_pool["synthetic_did_weights"]
    weights = weights[weights["outcome"] == outcome]
    omega = weights[weights["kind"] == "unit"].set_index("unit_code")["weight"]
    np.testing.assert_allclose(omega.loc[units], peer.weights.omega, atol=1e-8)
    lam = weights[weights["kind"] == "time"].sort_values("year")["weight"]
    np.testing.assert_allclose(lam, peer.weights["lambda"], atol=1e-8)
    # Every donor once as the pseudo-treated unit: our placebo estimates (computed here from the raw
    # panel) are synthdid-py's Algorithm-4 refits donor by donor (a sample of 8), and the published SE
    # is their root mean squared deviation.
    ours = synthetic_did(y[-1], y[:-1], t0).placebo_estimates
    for j in np.linspace(0, n0 - 1, 8).round().astype(int):
        order = np.r_[np.delete(np.arange(n0), j), j]
        theirs = refit(peer, Y=peer.setup.Y[order], N0=n0 - 1, T0=t0, X=peer.setup.X[order],
                       weights=_weights_for_subset(peer.weights, order[:-1]))
        assert ours[j] == pytest.approx(float(theirs), abs=1e-7), units[j]
    assert row["se_placebo"] == pytest.approx(np.sqrt(np.mean((ours - ours.mean()) ** 2)), rel=1e-9)
    assert row["n_placebos"] == n0
    assert row["ci_low_placebo"] == pytest.approx(row["estimate"] - 1.959964 * row["se_placebo"], abs=1e-5)


@pytest.mark.parametrize("outcome", STUDY.outcomes)
def test_penalised_synthetic_control_matches_slsqp(outcome, whole_pool):
    """The published weights are the penalised QP's optimum at the published lambda over the treated
    authority's 50 nearest donors (found here by sorting), solved again by scipy's SLSQP."""
    from scipy.optimize import minimize

    units = raw.eligible_units(STUDY, outcome)
    y, t0 = _wide(outcome, units), len(STUDY.pre_years)
    treated, donors = y[-1], y[:-1]
    distance = np.sqrt(((donors[:, :t0] - treated[:t0]) ** 2).mean(axis=1))
    pool = sorted(np.argsort(distance, kind="stable")[:50])
    weights = whole_pool["penalised_synthetic_control_weights"]
    weights = weights[weights["outcome"] == outcome]
    lam = weights["lambda"].iloc[0]
    assert sorted(weights["unit_code"]) == sorted(units[i] for i in pool)
    x0, x1 = donors[pool, :t0].T, treated[:t0]
    penalty = ((x0 - x1[:, None]) ** 2).sum(axis=0)

    def objective(w):
        return np.sum((x1 - x0 @ w) ** 2) + lam * penalty @ w

    n = len(pool)
    solved = minimize(objective, np.full(n, 1 / n), jac=lambda w: -2 * x0.T @ (x1 - x0 @ w) + lam * penalty,
                      method="SLSQP", bounds=[(0, 1)] * n,
                      constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
                      options={"ftol": 1e-15, "maxiter": 5000}).x
    published = weights.set_index("unit_code")["weight"].loc[[units[i] for i in pool]].to_numpy()
    assert objective(published) <= objective(solved) * (1 + 1e-9)
    np.testing.assert_allclose(published, solved, atol=1e-4)
    gap = treated - published @ donors[pool]
    assert _row(whole_pool, outcome, "penalised_synthetic_control")["estimate"] == pytest.approx(
        gap[t0:].mean(), abs=1e-9)


@pytest.mark.parametrize("outcome", STUDY.outcomes)
def test_plain_synthetic_control_fit_and_gap_range_match_scipy(outcome, whole_pool):
    """The best pre-period fit by SLSQP, and the range of mean post gaps over every best-fitting
    weighting by linprog: the published gap lies in it, and identified says whether it is a point."""
    from scipy.optimize import linprog, minimize

    units = raw.eligible_units(STUDY, outcome)
    y, t0 = _wide(outcome, units), len(STUDY.pre_years)
    treated, donors = y[-1], y[:-1]
    n = donors.shape[0]
    best = minimize(lambda w: np.sum((treated[:t0] - w @ donors[:, :t0]) ** 2), np.full(n, 1 / n),
                    jac=lambda w: -2 * donors[:, :t0] @ (treated[:t0] - w @ donors[:, :t0]), method="SLSQP",
                    bounds=[(0, 1)] * n, constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
                    options={"ftol": 1e-15, "maxiter": 5000}).x
    row = whole_pool["synthetic_control_identification"]
    row = row[row["outcome"] == outcome].iloc[0]
    assert row["best_pre_rmspe"] == pytest.approx(np.sqrt(np.mean((treated[:t0] - best @ donors[:, :t0]) ** 2)),
                                                  abs=1e-5)
    fitted = best @ donors[:, :t0]
    post = donors[:, t0:].mean(axis=1)
    scale = np.abs(donors).max()
    bounds = []
    for sign in (1, -1):
        found = linprog(sign * post, A_ub=np.vstack([donors[:, :t0].T, -donors[:, :t0].T]),
                        b_ub=np.r_[fitted + 1e-6 * scale, -fitted + 1e-6 * scale],
                        A_eq=np.ones((1, n)), b_eq=[1], bounds=[(0, None)] * n, method="highs")
        bounds.append(treated[t0:].mean() - found.x @ post)
    high, low = bounds  # the smallest synthetic post mean gives the highest gap
    assert row["post_gap_low"] == pytest.approx(low, abs=1e-3)
    assert row["post_gap_high"] == pytest.approx(high, abs=1e-3)
    assert low - 1e-6 <= _row(whole_pool, outcome, "synthetic_control")["estimate"] <= high + 1e-6
    assert bool(row["identified"]) == (high - low <= 1e-6)


@pytest.mark.parametrize("outcome", STUDY.outcomes)
@pytest.mark.parametrize("adjusted", [False, True])
def test_event_study_intervals_are_hand_quantiles(outcome, adjusted, whole_pool):
    """Each year's coefficient is the gap to the comparator net of the reference year's (after removing
    each pair's own CIN slope from statsmodels when adjusted); the interval is the placebos' 2.5% and
    97.5% quantiles inverted around it, computed here by sorting."""
    comparator = _comparator({"comparator_ranking": whole_pool["comparator_ranking"]}, outcome)
    units = [u for u in raw.eligible_units(STUDY, outcome) if u != comparator]
    panel = raw.panel(STUDY)
    years = list(STUDY.years)
    reference = years.index(STUDY.pre_years[-1])

    def coefficients(unit: str) -> np.ndarray:
        pair = panel.set_index(["unit_code", "year"])
        gap = pair.loc[unit].loc[years, outcome].to_numpy() - pair.loc[comparator].loc[years, outcome].to_numpy()
        if adjusted:
            slope = _fit(_two_unit_frame(outcome, unit, comparator), outcome, True)[0].params[STUDY.covariate]
            gap = gap - slope * (pair.loc[unit].loc[years, STUDY.covariate].to_numpy()
                                 - pair.loc[comparator].loc[years, STUDY.covariate].to_numpy())
        return gap - gap[reference]

    actual = coefficients(STUDY.treated_unit_code)
    placebo = np.array([coefficients(u) for u in units])
    events = whole_pool["did_event_study"]
    events = events[(events["outcome"] == outcome) & (events["covariate_adjusted"] == adjusted)]
    events = events.set_index("collection_year")
    for k, year in enumerate(years):
        if k == reference:
            continue
        column = np.sort(placebo[:, k])
        position = lambda q: q * (len(column) - 1)  # numpy's default (linear) quantile, by hand  # noqa: E731
        quantile = {q: column[int(np.floor(position(q)))] + (position(q) - np.floor(position(q)))
                    * (column[min(int(np.floor(position(q))) + 1, len(column) - 1)] - column[int(np.floor(position(q)))])
                    for q in (0.025, 0.975)}
        assert events.at[year, "estimate"] == pytest.approx(actual[k], abs=TOL)
        assert events.at[year, "ci_low"] == pytest.approx(actual[k] - quantile[0.975], abs=1e-7)
        assert events.at[year, "ci_high"] == pytest.approx(actual[k] - quantile[0.025], abs=1e-7)
        p = (1 + (np.abs(placebo[:, k]) >= abs(actual[k])).sum()) / (1 + len(units))
        assert events.at[year, "permutation_p_value"] == pytest.approx(p)


@pytest.mark.parametrize("outcome", STUDY.outcomes)
def test_reselected_placebo_picks_estimates_and_p_by_hand(outcome, whole_pool):
    """Each placebo's own comparator by the rule written out in test_golden_comparators (a sample of 10
    placebos), every placebo's DiD against its pick by statsmodels, and the p-value counted by hand."""
    from .test_golden_comparators import rule_pick

    vintage = whole_pool["did_inference"]["vintage"].iloc[0]
    table = whole_pool["did_placebo_space_reselected"]
    table = table[table["outcome"] == outcome].set_index("unit_code")
    placebos = [u for u in table.index if table.at[u, "role"] == "placebo"]
    for unit in [placebos[i] for i in np.linspace(0, len(placebos) - 1, 10).round().astype(int)]:
        assert table.at[unit, "comparator_code"] == rule_pick(STUDY.study_id, vintage, outcome, unit)[0], unit
    estimate = {u: _fit(_two_unit_frame(outcome, u, table.at[u, "comparator_code"]), outcome, True)[0].params["TxPost"]
                for u in table.index}
    np.testing.assert_allclose(table["estimate"], [estimate[u] for u in table.index], rtol=TOL, atol=TOL)
    actual = estimate[STUDY.treated_unit_code]
    p = (1 + sum(abs(estimate[u]) >= abs(actual) for u in placebos)) / (1 + len(placebos))
    inference = whole_pool["did_inference"]
    assert inference.loc[inference["outcome"] == outcome, "reselected_p_value"].iloc[0] == pytest.approx(p, rel=TOL)
