"""RCT models against hand-worked answers."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from fact22_assets.core.casework.rct import (
    analyse_outcome,
    balance_table,
    detectable_rates,
    rct_results,
    stars,
    treatment_effect,
    was_rereferred,
)


def two_by_two(events_t, n_t, events_c, n_c, **covariates) -> pd.DataFrame:
    """Outcome rows for a 2x2 table (events first within each arm)."""
    y = [1] * events_t + [0] * (n_t - events_t) + [1] * events_c + [0] * (n_c - events_c)
    frame = pd.DataFrame({"closed": y, "treated": [1] * n_t + [0] * n_c})
    for name, values in covariates.items():
        frame[name] = values
    return frame


def test_logit_on_arm_only_gives_back_the_2x2_table():
    # 28 of 40 FACT22 (0.70), 5 of 20 CEC (0.25).
    row = analyse_outcome(two_by_two(28, 40, 5, 20), "closed", controls=())
    assert row["status"] == "estimated"
    # closed form: log odds ratio = log((28/12) / (5/15)) = log 7, SE = sqrt(sum 1/cell)
    assert row["log_odds_ratio"] == pytest.approx(math.log(7), abs=1e-8)
    assert row["log_odds_ratio_se"] == pytest.approx(math.sqrt(1 / 28 + 1 / 12 + 1 / 5 + 1 / 15), rel=1e-6)
    # back-transform of a saturated model is the observed per-arm rates
    assert row["control_rate_observed"] == pytest.approx(0.25)
    assert row["control_rate_if_treated"] == pytest.approx(0.70, abs=1e-8)
    assert row["effect_rate_diff"] == pytest.approx(0.45, abs=1e-8)
    # delta method on a saturated logit = the unpooled two-proportion SE
    se = math.sqrt(0.7 * 0.3 / 40 + 0.25 * 0.75 / 20)
    z = stats.norm.ppf(0.975)
    assert row["effect_ci_low"] == pytest.approx(0.45 - z * se, abs=1e-6)
    assert row["effect_ci_high"] == pytest.approx(0.45 + z * se, abs=1e-6)
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(0.45 / se), rel=1e-5)
    se_rate = math.sqrt(0.7 * 0.3 / 40)
    assert row["control_rate_if_treated_ci_low"] == pytest.approx(0.70 - z * se_rate, abs=1e-6)
    assert row["stars"] == "**"


def test_back_transform_with_a_control_is_the_hand_arithmetic():
    rng = np.random.default_rng(7)
    female = rng.integers(0, 2, 90)
    frame = two_by_two(40, 60, 18, 30, female=female)
    row = analyse_outcome(frame, "closed", controls=("female",))

    fit = sm.Logit(frame["closed"], sm.add_constant(frame[["treated", "female"]].astype(float))).fit(disp=0)
    b0, b_treat, b_female = fit.params
    controls = frame[frame["treated"] == 0]
    by_hand_on = np.mean([1 / (1 + math.exp(-(b0 + b_treat + b_female * f))) for f in controls["female"]])
    by_hand_off = np.mean([1 / (1 + math.exp(-(b0 + b_female * f))) for f in controls["female"]])
    assert row["control_rate_if_treated"] == pytest.approx(by_hand_on, abs=1e-7)
    assert row["effect_rate_diff"] == pytest.approx(by_hand_on - by_hand_off, abs=1e-7)
    # with an intercept and the arm dummy, the control group's mean prediction
    # without treatment is its observed rate
    assert by_hand_off == pytest.approx(18 / 30, abs=1e-7)
    assert row["p_value_log_odds"] == pytest.approx(fit.pvalues["treated"])


def test_average_effect_over_all_cases_matches_statsmodels_margins():
    rng = np.random.default_rng(3)
    n = 300
    exog = pd.DataFrame({"const": 1.0, "treated": rng.integers(0, 2, n), "female": rng.integers(0, 2, n)})
    latent = -0.3 + 0.8 * exog["treated"] - 0.5 * exog["female"] + rng.logistic(size=n)
    fit = sm.Logit((latent > 0).astype(float), exog.astype(float)).fit(disp=0)
    ours = treatment_effect(fit, exog)
    margins = fit.get_margeff(at="overall", dummy=True)
    position = list(exog.columns).index("treated") - 1
    assert ours["effect"] == pytest.approx(margins.margeff[position], rel=1e-8)
    assert ours["effect_se"] == pytest.approx(margins.margeff_se[position], rel=1e-4)


def fisher_two_sided_by_hand(a, b, c, d):
    """Sum of hypergeometric probabilities no larger than the observed one."""
    row1, col1, n = a + b, a + c, a + b + c + d

    def prob(x):
        return math.comb(col1, x) * math.comb(n - col1, row1 - x) / math.comb(n, row1)

    observed = prob(a)
    support = range(max(0, row1 + col1 - n), min(row1, col1) + 1)
    return sum(prob(x) for x in support if prob(x) <= observed * (1 + 1e-7))


def test_four_escalations_all_fact22_are_too_few_to_model():
    frame = two_by_two(4, 84, 0, 44, female=[0, 1] * 64, under_11=[1, 0] * 64, previous_cin_history=[0] * 128)
    row = analyse_outcome(frame, "closed", ("female", "under_11", "previous_cin_history"))
    assert row["status"] == "too_few_events"
    assert row["test"] == "fisher_exact"
    assert (row["events_treated"], row["n_treated"], row["events_control"], row["n_control"]) == (4, 84, 0, 44)
    assert row["p_value"] == pytest.approx(fisher_two_sided_by_hand(4, 80, 0, 44), rel=1e-9)
    assert row["p_value"] == pytest.approx(0.2979, abs=1e-4)
    for coefficient in ("log_odds_ratio", "log_odds_ratio_se", "effect_rate_diff", "control_rate_if_treated"):
        assert np.isnan(row[coefficient])
    assert "too few events" in row["note"]


def test_quasi_separation_is_not_given_a_coefficient():
    # every female case closed: the female coefficient runs off to infinity
    female = [1] * 30 + [0] * 30 + [1] * 15 + [0] * 15
    closed = [1] * 30 + [1] * 10 + [0] * 20 + [1] * 15 + [1] * 5 + [0] * 10
    frame = pd.DataFrame({"closed": closed, "treated": [1] * 60 + [0] * 30, "female": female})
    row = analyse_outcome(frame, "closed", controls=("female",))
    assert row["status"] == "too_few_events"
    assert "separation" in row["note"]
    assert np.isnan(row["log_odds_ratio"])


@pytest.mark.parametrize(("p", "mark"), [(0.004, "**"), (0.01, "*"), (0.049, "*"), (0.05, ""), (0.5, ""), (np.nan, "")])
def test_stars(p, mark):
    assert stars(p) == mark


@pytest.mark.parametrize(
    ("referrals", "expected"),
    [
        ([], False),
        (["2016-09-01"], True),  # within 12 months of the index referral
        (["2017-06-01"], False),  # 17 months after it
        (["2017-06-01", "2018-02-01"], True),  # second within 12 months of the first
        (["2017-06-01", "2018-08-01"], False),
        (["2019-06-01", "2019-12-01"], False),  # second after the end of study
    ],
)
def test_statutory_rereferral_rule(referrals, expected):
    index = pd.Timestamp("2016-01-10")
    assert was_rereferred(index, [pd.Timestamp(r) for r in referrals], pd.Timestamp("2019-11-22")) is expected


def tiny_trial() -> pd.DataFrame:
    """16 cases with hand-countable outcomes, as core/census/trial.py derives them."""
    rows = []
    for i in range(16):
        treated = i < 10
        rows.append({
            "child_key": f"K{i + 1:03d}", "arm": "Programme" if treated else "Usual care", "treated": int(treated),
            "female": int(i % 2 == 0), "under_11": int(bool(i % 3)), "previous_cin_history": 0,
            "other_cin_in_family": 1, "white_british": 1, "other_white": 0, "disabled": 0, "aged_out_by_end": 0,
            "closed": int(bool(i % 4)), "rereferred": 0, "escalated": int(i == 3),
            "later_received_treatment": int(i == 15), "case_length_days": 300.0, "data_origin": "COUNCIL"})
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if column not in ("child_key", "arm", "data_origin", "case_length_days"):
            frame[column] = frame[column].astype("Int64")
    return frame


def test_results_cover_itt_and_the_contamination_sensitivity():
    results = rct_results(tiny_trial(), ("closed", "rereferred", "escalated"), ("female", "under_11"))
    assert results[["analysis", "subgroup", "outcome"]].values.tolist() == [
        ["itt", "all", "closed"], ["itt", "all", "rereferred"], ["itt", "all", "escalated"],
        ["excluding_contaminated", "all", "closed"], ["excluding_contaminated", "all", "rereferred"],
        ["excluding_contaminated", "all", "escalated"],
    ]
    # far too small for any model
    assert set(results["status"]) == {"too_few_events"}
    itt = results.set_index(["analysis", "outcome"])
    # closure recorded when i % 4 != 0: treated i=0..9 -> 7 closed, control i=10..15 -> 5 closed
    assert itt.loc[("itt", "closed"), ["events_treated", "events_control"]].tolist() == [7, 5]
    assert itt.loc[("excluding_contaminated", "closed"), "n_control"] == 5
    assert set(results["data_origin"]) == {"COUNCIL"}


def test_results_by_subgroup_split_the_itt_sample():
    frame = tiny_trial()
    frame["previous_cin_history"] = pd.array([int(i % 2) for i in range(16)], dtype="Int64")
    results = rct_results(frame, ("closed",), ("female", "previous_cin_history"), subgroups=("previous_cin_history",))
    rows = results.set_index(["analysis", "subgroup"])
    with_history = rows.loc[("itt", "previous_cin_history")]
    without = rows.loc[("itt", "no_previous_cin_history")]
    assert with_history["n_cases"] + without["n_cases"] == rows.loc[("itt", "all"), "n_cases"] == 16
    # odd i: treated 1, 3, 5, 7, 9 (closed unless i % 4 == 0: all 5), control 11, 13, 15 (all closed)
    assert (with_history["events_treated"], with_history["events_control"]) == (5, 3)
    # the subgroup's own model leaves out the variable that defines it
    assert "previous_cin_history" not in without["model"]


def test_balance_uses_chi_square_or_fisher_by_expected_counts():
    table = balance_table(tiny_trial()).set_index("characteristic")
    female = table.loc["female"]
    # 5 of 10 treated and 3 of 6 control female: expected counts below 5 -> Fisher
    assert (female["count_treated"], female["count_control"]) == (5, 3)
    assert female["test"] == "fisher_exact"
    assert female["p_value"] == pytest.approx(fisher_two_sided_by_hand(5, 5, 3, 3))


def test_pearson_chi_square_without_correction_for_the_aged_out_split():
    from fact22_assets.core.casework.rct import _binary_test

    test, chi2, p_value = _binary_test(np.array([[11, 73], [13, 31]]))
    by_hand = 128 * (11 * 31 - 73 * 13) ** 2 / (84 * 44 * 24 * 104)
    assert test == "chi_square"
    assert chi2 == pytest.approx(by_hand)
    assert p_value == pytest.approx(stats.chi2.sf(by_hand, 1))


@pytest.mark.parametrize("base", [0.82, 0.44])
def test_minimum_detectable_effect_has_the_stated_power(base):
    below, above = detectable_rates(base, 84, 44, alpha=0.05, power=0.8)
    z_alpha = stats.norm.ppf(0.975)
    for rate in (below, above):
        h = abs(2 * math.asin(math.sqrt(rate)) - 2 * math.asin(math.sqrt(base)))
        power = stats.norm.cdf(h / math.sqrt(1 / 84 + 1 / 44) - z_alpha)
        assert power == pytest.approx(0.8, abs=2e-3)
    # a second approximation (unpooled variance on the rate scale) agrees within 2 points
    se = math.sqrt(below * (1 - below) / 84 + base * (1 - base) / 44)
    assert (base - below) == pytest.approx((z_alpha + stats.norm.ppf(0.8)) * se, abs=0.02)
