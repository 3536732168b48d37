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
