"""Long-term outcomes of the FACT22 randomised trial (report strand 2).

For each binary outcome: a logistic regression on treatment plus the
report's controls (female, aged under 11 at referral, previous CIN
history), back-transformed to probabilities for the control group: its
observed rate and the rate it would have had under FACT22. Outcomes with
too few events are reported as counts with Fisher's exact test instead of
a meaningless coefficient.

Rates and effects are proportions (0-1); effect_rate_diff is a difference
of proportions (-0.11 = 11 percentage points lower).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from .origin import single_origin
from .schemas import STUDY_END, TREATMENT_ARM

OUTCOMES = ("closed", "rereferred", "escalated")
CONTROLS = ("female", "under_11", "previous_cin_history")
TREATMENT = "fact22"
ANALYSES = ("itt", "excluding_contaminated")

# Below these counts of the rarer outcome value, a logistic coefficient is
# noise (and often infinite); the report says the same of its 4 escalations.
MIN_EVENTS_TOTAL = 10
MIN_EVENTS_PER_ARM = 5
# |log-odds| beyond this means the likelihood ran off to infinity (quasi-separation).
SEPARATION_LOG_ODDS = 15.0

BALANCE_CHARACTERISTICS = {
    "female": "female",
    "under_11": "aged under 11 at referral",
    "previous_cin_history": "previous CIN involvement",
    "other_cin_in_family": "other CIN in the family",
    "white_british": "White British",
    "other_white": "Other White",
    "disabled": "disabled",
    "aged_out_by_end": "aged out (turned 18) by end of study",
}


def was_rereferred(index_referral: pd.Timestamp, referrals: Sequence[pd.Timestamp], study_end) -> bool:
    """Statutory re-referral: a referral within 12 months of the previous one.

    The index referral opens the chain; each later referral up to the end of
    study is compared with the one before it (12 calendar months).
    """
    previous = pd.Timestamp(index_referral)
    for referral in sorted(pd.Timestamp(r) for r in referrals):
        if referral > pd.Timestamp(study_end):
            break
        if referral <= previous + pd.DateOffset(months=12):
            return True
        previous = referral
    return False


def _dates(listed) -> list[pd.Timestamp]:
    if listed is None or listed is pd.NA or (isinstance(listed, float) and np.isnan(listed)):
        return []
    return [pd.Timestamp(part) for part in str(listed).split(";") if part]


def _flag(series: pd.Series) -> pd.Series:
    return series.astype("boolean").astype("Int64")


def derive_rct_outcomes(cases: pd.DataFrame, study_end: date = STUDY_END) -> pd.DataFrame:
    """One analysis row per family from a validated rct_cases extract.

    The extract holds no index-referral date; randomisation happened at
    referral, so randomised_on stands in for it in the re-referral rule.
    Outcomes are 0/1 (Int64) and <NA> where outcome_data_missing.

    Returns family_id, arm, fact22, female, under_11, previous_cin_history,
    other_cin_in_family, white_british, other_white, disabled,
    aged_out_by_end, later_received_fact22, closed, rereferred, escalated,
    data_origin.
    """
    end = pd.Timestamp(study_end)
    out = pd.DataFrame({"family_id": cases["family_id"], "arm": cases["arm"]})
    out[TREATMENT] = (cases["arm"] == TREATMENT_ARM).astype("Int64")
    out["female"] = _flag(cases["female"])
    out["under_11"] = (cases["age_at_referral"].astype("Float64") < 11).astype("Int64")
    out["previous_cin_history"] = _flag(cases["previous_cin_history"])
    out["other_cin_in_family"] = _flag(cases["other_cin_in_family"])
    out["white_british"] = (cases["ethnicity"] == "White British").astype("Int64")
    out["other_white"] = (cases["ethnicity"] == "Other White").astype("Int64")
    out["disabled"] = _flag(cases["disabled"])
    out["aged_out_by_end"] = _flag(cases["aged_out_by_end"])
    out["later_received_fact22"] = _flag(cases["later_received_fact22"])

    missing = cases["outcome_data_missing"].astype("boolean").fillna(False).to_numpy()
    closed = (cases["closure_date"].notna() & (cases["closure_date"] <= end)).astype("Int64")
    rereferred = pd.Series(
        [
            int(was_rereferred(start, _dates(listed), end))
            for start, listed in zip(cases["randomised_on"], cases["rereferral_dates"])
        ],
        index=cases.index,
        dtype="Int64",
    )
    out["closed"] = closed.mask(missing)
    out["rereferred"] = rereferred.mask(missing)
    out["escalated"] = (cases["escalation_date"].notna() & (cases["escalation_date"] <= end)).astype("Int64")
    out["data_origin"] = single_origin(cases)
    return out.reset_index(drop=True)


def stars(p_value: float) -> str:
    if p_value is None or not np.isfinite(p_value):
        return ""
    if p_value < 0.01:
        return "**"
    if p_value < 0.05:
        return "*"
    return ""


def treatment_effect(result, exog: pd.DataFrame, rows: np.ndarray | None = None) -> dict:
    """Back-transformed treatment effect of a fitted Logit, by delta method.

    For the cases in `rows` (all when None), predicts each case's
    probability with treatment switched on and off. Returns the mean of
    each (rate_if_treated, rate_if_untreated), their difference (the
    average marginal effect of treatment over those cases) and delta-method
    standard errors for rate_if_treated and for the difference.
    """
    x = exog.to_numpy(dtype=float) if rows is None else exog.to_numpy(dtype=float)[rows]
    column = list(exog.columns).index(TREATMENT)
    x_on, x_off = x.copy(), x.copy()
    x_on[:, column], x_off[:, column] = 1.0, 0.0
    beta = np.asarray(result.params, dtype=float)
    cov = np.asarray(result.cov_params(), dtype=float)
    p_on = 1 / (1 + np.exp(-x_on @ beta))
    p_off = 1 / (1 + np.exp(-x_off @ beta))
    grad_on = (p_on * (1 - p_on)) @ x_on / len(x)
    grad_off = (p_off * (1 - p_off)) @ x_off / len(x)
    grad_diff = grad_on - grad_off
    return {
        "rate_if_treated": p_on.mean(),
        "rate_if_untreated": p_off.mean(),
        "rate_if_treated_se": float(np.sqrt(grad_on @ cov @ grad_on)),
        "effect": p_on.mean() - p_off.mean(),
        "effect_se": float(np.sqrt(grad_diff @ cov @ grad_diff)),
    }


def fit_logit(y: pd.Series, exog: pd.DataFrame):
    """Logit fit, or None when the likelihood has no finite maximum.

    Perfect or quasi-separation shows as a statsmodels separation
    warning/error, a failure to converge, or a coefficient running off
    towards infinity.
    """
    # statsmodels costs most of a second to import: only where a model is fitted.
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationError, PerfectSeparationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            result = sm.Logit(y.astype(float), exog.astype(float)).fit(disp=0, method="newton", maxiter=100)
        except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError):
            return None
    params = np.asarray(result.params)
    bse = np.asarray(result.bse)
    if not result.mle_retvals.get("converged", False):
        return None
    if np.any(np.abs(params) > SEPARATION_LOG_ODDS) or not np.all(np.isfinite(bse)):
        return None
    return result


def _arm_counts(data: pd.DataFrame, outcome: str) -> dict:
    treated = data[TREATMENT] == 1
    counts = {
        "n_cases": len(data),
        "n_fact22": int(treated.sum()),
        "n_cec": int((~treated).sum()),
        "events_fact22": int(data.loc[treated, outcome].sum()),
        "events_cec": int(data.loc[~treated, outcome].sum()),
    }
    counts["fact22_rate_observed"] = counts["events_fact22"] / counts["n_fact22"] if counts["n_fact22"] else np.nan
    counts["cec_rate_observed"] = counts["events_cec"] / counts["n_cec"] if counts["n_cec"] else np.nan
    return counts


def analyse_outcome(
    frame: pd.DataFrame,
    outcome: str,
    controls: Sequence[str] = CONTROLS,
    min_events_total: int = MIN_EVENTS_TOTAL,
    min_events_per_arm: int = MIN_EVENTS_PER_ARM,
    confidence: float = 0.95,
) -> dict:
    """One outcome: logistic model and back-transform, or counts + Fisher.

    `frame` comes from derive_rct_outcomes. The model (and the too-few
    rule) use complete cases on the outcome and controls; "events" there
    means the rarer value of the outcome, so an outcome almost everyone
    has is as unmodellable as one almost no one has. A too-few outcome
    reports counts and Fisher's exact test over every case whose outcome
    is known.
    """
    from scipy import stats  # imported when a test runs: it costs half a second at load

    data = frame[[outcome, TREATMENT, *controls]].dropna().astype(int)
    treated = data[TREATMENT] == 1
    counts = _arm_counts(data, outcome)
    row = {
        "outcome": outcome,
        "model": f"logit: {outcome} ~ {' + '.join([TREATMENT, *controls])}",
        **counts,
        "cec_rate_if_fact22": np.nan,
        "cec_rate_if_fact22_ci_low": np.nan,
        "cec_rate_if_fact22_ci_high": np.nan,
        "effect_rate_diff": np.nan,
        "effect_ci_low": np.nan,
        "effect_ci_high": np.nan,
        "log_odds_ratio": np.nan,
        "log_odds_ratio_se": np.nan,
        "p_value_log_odds": np.nan,
    }

    rarer = [
        min(counts["events_fact22"], counts["n_fact22"] - counts["events_fact22"]),
        min(counts["events_cec"], counts["n_cec"] - counts["events_cec"]),
    ]
    events_total = min(
        counts["events_fact22"] + counts["events_cec"],
        counts["n_cases"] - counts["events_fact22"] - counts["events_cec"],
    )
    result = None
    note = ""
    if events_total < min_events_total or min(rarer) < min_events_per_arm:
        note = (
            f"too few events to model ({counts['events_fact22']} FACT22, {counts['events_cec']} CEC; "
            f"need >= {min_events_total} in all and >= {min_events_per_arm} per arm)"
        )
    else:
        import statsmodels.api as sm

        exog = sm.add_constant(data[[TREATMENT, *controls]].astype(float), has_constant="add")
        result = fit_logit(data[outcome], exog)
        if result is None:
            note = "perfect or quasi-separation: the logistic likelihood has no finite maximum"

    if result is None:
        # Fisher's test needs no controls: count every case whose outcome is known.
        counts = _arm_counts(frame[[outcome, TREATMENT]].dropna().astype(int), outcome)
        table = [
            [counts["events_fact22"], counts["n_fact22"] - counts["events_fact22"]],
            [counts["events_cec"], counts["n_cec"] - counts["events_cec"]],
        ]
        p_value = float(stats.fisher_exact(table).pvalue)
        row.update(counts)
        row.update(status="too_few_events", test="fisher_exact", p_value=p_value, stars=stars(p_value), note=note)
        return row

    z = stats.norm.ppf(0.5 + confidence / 2)
    control_rows = np.flatnonzero(~treated.to_numpy())
    effect = treatment_effect(result, exog, control_rows)
    p_value = float(2 * stats.norm.sf(abs(effect["effect"] / effect["effect_se"])))
    row.update(
        status="estimated",
        test="logit_delta_method",
        cec_rate_if_fact22=effect["rate_if_treated"],
        cec_rate_if_fact22_ci_low=effect["rate_if_treated"] - z * effect["rate_if_treated_se"],
        cec_rate_if_fact22_ci_high=effect["rate_if_treated"] + z * effect["rate_if_treated_se"],
        effect_rate_diff=effect["effect"],
        effect_ci_low=effect["effect"] - z * effect["effect_se"],
        effect_ci_high=effect["effect"] + z * effect["effect_se"],
        log_odds_ratio=float(result.params[TREATMENT]),
        log_odds_ratio_se=float(result.bse[TREATMENT]),
        p_value_log_odds=float(result.pvalues[TREATMENT]),
        p_value=p_value,
        stars=stars(p_value),
        note="",
    )
    return row


RESULT_COLUMNS = [
    "analysis",
    "outcome",
    "status",
    "model",
    "test",
    "n_cases",
    "n_fact22",
    "n_cec",
    "events_fact22",
    "events_cec",
    "fact22_rate_observed",
    "cec_rate_observed",
    "cec_rate_if_fact22",
    "cec_rate_if_fact22_ci_low",
    "cec_rate_if_fact22_ci_high",
    "effect_rate_diff",
    "effect_ci_low",
    "effect_ci_high",
    "p_value",
    "stars",
    "log_odds_ratio",
    "log_odds_ratio_se",
    "p_value_log_odds",
    "note",
    "data_origin",
]


def analysis_sample(frame: pd.DataFrame, analysis: str) -> pd.DataFrame:
    """'itt': everyone as randomised; 'excluding_contaminated': drops the
    control families who later received FACT22."""
    if analysis == "itt":
        return frame
    if analysis == "excluding_contaminated":
        return frame[frame["later_received_fact22"].fillna(0) == 0]
    raise ValueError(f"unknown analysis {analysis!r}; expected one of {ANALYSES}")


def rct_results(
    cases: pd.DataFrame,
    study_end: date = STUDY_END,
    outcomes: Sequence[str] = OUTCOMES,
    controls: Sequence[str] = CONTROLS,
    analyses: Sequence[str] = ANALYSES,
    min_events_total: int = MIN_EVENTS_TOTAL,
    min_events_per_arm: int = MIN_EVENTS_PER_ARM,
) -> pd.DataFrame:
    """Every outcome under the ITT and the contamination-sensitivity analyses.

    `cases` is a validated rct_cases extract. One row per analysis x
    outcome with RESULT_COLUMNS. status 'estimated': logistic model;
    cec_rate_if_fact22 is the mean predicted probability of the control
    cases with treatment switched on; effect_rate_diff = that minus the
    control group's observed rate (equal to its mean prediction with
    treatment off, a property of logit with an intercept), i.e. the average
    marginal effect of treatment over the control cases; CI and p_value by
    the delta method; stars * p<0.05, ** p<0.01; p_value_log_odds is the
    Wald test of the treatment coefficient; n_cases are the complete cases
    on outcome and controls. status 'too_few_events': counts over every
    case whose outcome is known and Fisher's exact p_value only, model
    columns empty, the reason in note.
    """
    frame = derive_rct_outcomes(cases, study_end)
    rows = []
    for analysis in analyses:
        sample = analysis_sample(frame, analysis)
        for outcome in outcomes:
            row = analyse_outcome(sample, outcome, controls, min_events_total, min_events_per_arm)
            rows.append({"analysis": analysis, **row, "data_origin": single_origin(frame)})
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def _binary_test(table: np.ndarray) -> tuple[str, float, float]:
    """Pearson chi-square (no continuity correction) unless an expected
    count is below 5, then Fisher's exact test (Cochran's rule)."""
    from scipy import stats  # imported when a test runs: it costs half a second at load

    if (table.sum(axis=1) == 0).any() or (table.sum(axis=0) == 0).any():
        return "none (no variation)", np.nan, np.nan
    chi2, p_value, _, expected = stats.chi2_contingency(table, correction=False)
    if (expected < 5).any():
        result = stats.fisher_exact(table)
        return "fisher_exact", float(result.statistic), float(result.pvalue)
    return "chi_square", float(chi2), float(p_value)


def balance_table(
    cases: pd.DataFrame, study_end: date = STUDY_END, analysis: str = "itt"
) -> pd.DataFrame:
    """Sample characteristics by arm with a test of balance.

    Returns analysis, characteristic, label, n_fact22, n_cec,
    count_fact22, count_cec, share_fact22, share_cec, test, statistic
    (chi-square, or the odds ratio for Fisher), p_value, data_origin.
    Denominators are the cases with that characteristic recorded.
    """
    frame = analysis_sample(derive_rct_outcomes(cases, study_end), analysis)
    rows = []
    for characteristic, label in BALANCE_CHARACTERISTICS.items():
        known = frame[[TREATMENT, characteristic]].dropna().astype(int)
        treated = known[TREATMENT] == 1
        count_t = int(known.loc[treated, characteristic].sum())
        count_c = int(known.loc[~treated, characteristic].sum())
        n_t, n_c = int(treated.sum()), int((~treated).sum())
        test, statistic, p_value = _binary_test(np.array([[count_t, n_t - count_t], [count_c, n_c - count_c]]))
        rows.append(
            {
                "analysis": analysis,
                "characteristic": characteristic,
                "label": label,
                "n_fact22": n_t,
                "n_cec": n_c,
                "count_fact22": count_t,
                "count_cec": count_c,
                "share_fact22": count_t / n_t if n_t else np.nan,
                "share_cec": count_c / n_c if n_c else np.nan,
                "test": test,
                "statistic": statistic,
                "p_value": p_value,
            }
        )
    out = pd.DataFrame(rows)
    out["data_origin"] = single_origin(frame)
    return out


def detectable_rates(
    control_rate: float, n_treated: int, n_control: int, alpha: float = 0.05, power: float = 0.8
) -> tuple[float, float]:
    """Treated-arm rates (below, above the control rate) that a two-sided
    two-proportion test detects with the given power.

    Uses Cohen's arcsine effect size h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p2)),
    whose variance does not depend on the rates, so the detectable h comes
    from the normal power equation and maps back to a rate exactly. NaN where
    the detectable rate would pass 0 or 1.
    """

    from statsmodels.stats.power import NormalIndPower

    h = NormalIndPower().solve_power(
        effect_size=None, nobs1=n_treated, ratio=n_control / n_treated, alpha=alpha, power=power,
        alternative="two-sided",
    )
    phi = np.arcsin(np.sqrt(control_rate))
    rates = []
    for angle in (phi - h / 2, phi + h / 2):
        rates.append(float(np.sin(angle) ** 2) if 0 <= angle <= np.pi / 2 else np.nan)
    return rates[0], rates[1]


def minimum_detectable_effects(
    cases: pd.DataFrame,
    study_end: date = STUDY_END,
    outcomes: Sequence[str] = ("closed", "rereferred"),
    alpha: float = 0.05,
    power: float = 0.8,
) -> pd.DataFrame:
    """Minimum detectable effect at the control group's observed rate.

    Arm sizes are the randomised families (84 vs 44 in the trial), the
    base rate the control group's observed rate of each outcome.
    Returns outcome, cec_base_rate, n_fact22, n_cec, alpha, power,
    detectable_rate_below, detectable_rate_above, mde_below, mde_above
    (positive proportions), method, data_origin.
    """
    frame = derive_rct_outcomes(cases, study_end)
    n_t = int((frame[TREATMENT] == 1).sum())
    n_c = int((frame[TREATMENT] == 0).sum())
    rows = []
    for outcome in outcomes:
        base = float(frame.loc[frame[TREATMENT] == 0, outcome].dropna().mean())
        below, above = detectable_rates(base, n_t, n_c, alpha, power)
        rows.append(
            {
                "outcome": outcome,
                "cec_base_rate": base,
                "n_fact22": n_t,
                "n_cec": n_c,
                "alpha": alpha,
                "power": power,
                "detectable_rate_below": below,
                "detectable_rate_above": above,
                "mde_below": base - below,
                "mde_above": above - base,
                "method": "two-sided two-proportion test, arcsine (Cohen's h) normal approximation",
            }
        )
    out = pd.DataFrame(rows)
    out["data_origin"] = single_origin(frame)
    return out


def case_lengths(cases: pd.DataFrame, study_end: date = STUDY_END) -> pd.DataFrame:
    """Days from CIN plan start to closure, for the Tobit model.

    Only cases with no escalation and known outcomes: the report measures
    case length "when no escalation followed". A case not closed by the end
    of study is right-censored at the days it had been open then.

    Returns family_id, arm, fact22, female, under_11,
    previous_cin_history, case_length_days, right_censored, data_origin.
    """
    end = pd.Timestamp(study_end)
    frame = derive_rct_outcomes(cases, study_end)
    keep = (frame["escalated"] == 0) & frame["closed"].notna()
    keep = keep.fillna(False).to_numpy()
    selected = cases.reset_index(drop=True)[keep]
    closed = frame.loc[keep, "closed"].to_numpy() == 1
    stop = selected["closure_date"].where(closed, end)
    out = frame.loc[keep, ["family_id", "arm", TREATMENT, *CONTROLS]].copy()
    out["case_length_days"] = (stop - selected["cin_plan_start"]).dt.days.to_numpy()
    out["right_censored"] = ~closed
    out["data_origin"] = single_origin(frame)
    return out.reset_index(drop=True)
