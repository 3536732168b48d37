"""Long-term outcomes of a randomised trial (strand 2), for any trial of data/trials.yaml.

For each binary outcome: a logistic regression on treatment plus the
trial's controls (FACT22: female, aged under 11 at referral, previous CIN
history), back-transformed to probabilities for the control group: its
observed rate and the rate it would have had if treated. Outcomes with too
few events are reported as counts with Fisher's exact test instead of a
meaningless coefficient.

The input is one row per randomised case as core/census/trial.py derives it
from the census returns and the randomisation list: ``treated`` (0/1), the
covariates, the outcomes (0/1, <NA> where unknown) and
``later_received_treatment`` (a control case that later got the programme).
Column names are the trial's roles (treated, control), never an arm's name;
the arms' names travel as values (``treated_arm``, ``control_arm``).

Rates and effects are proportions (0-1); effect_rate_diff is a difference
of proportions (-0.11 = 11 percentage points lower).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .origin import single_origin

TREATED = "treated"
CONTAMINATED = "later_received_treatment"
ANALYSES = ("itt", "excluding_contaminated")
ALL = "all"

# Below these counts of the rarer outcome value, a logistic coefficient is
# noise (and often infinite); RR1067 says the same of its 4 escalations.
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
    "aged_out_by_end": "aged out (turned 18) by the end of follow-up",
}


def was_rereferred(index_referral: pd.Timestamp, referrals: Sequence[pd.Timestamp], study_end) -> bool:
    """Statutory re-referral: a referral within 12 months of the previous one.

    The index referral opens the chain; each later referral up to the end of
    follow-up is compared with the one before it (12 calendar months).
    """
    previous = pd.Timestamp(index_referral)
    for referral in sorted(pd.Timestamp(r) for r in referrals):
        if referral > pd.Timestamp(study_end):
            break
        if referral <= previous + pd.DateOffset(months=12):
            return True
        previous = referral
    return False


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
    column = list(exog.columns).index(TREATED)
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
    treated = data[TREATED] == 1
    counts = {
        "n_cases": len(data),
        "n_treated": int(treated.sum()),
        "n_control": int((~treated).sum()),
        "events_treated": int(data.loc[treated, outcome].sum()),
        "events_control": int(data.loc[~treated, outcome].sum()),
    }
    counts["treated_rate_observed"] = counts["events_treated"] / counts["n_treated"] if counts["n_treated"] else np.nan
    counts["control_rate_observed"] = counts["events_control"] / counts["n_control"] if counts["n_control"] else np.nan
    return counts


def too_few_events(counts: dict, min_events_total: int = MIN_EVENTS_TOTAL,
                   min_events_per_arm: int = MIN_EVENTS_PER_ARM) -> bool:
    """The rarer outcome value is below the threshold in all or in an arm: a logistic coefficient would be
    noise. ``counts`` as `_arm_counts` gives them."""
    rarer = [
        min(counts["events_treated"], counts["n_treated"] - counts["events_treated"]),
        min(counts["events_control"], counts["n_control"] - counts["events_control"]),
    ]
    events = counts["events_treated"] + counts["events_control"]
    return min(events, counts["n_cases"] - events) < min_events_total or min(rarer) < min_events_per_arm


def model_sample(frame: pd.DataFrame, outcome: str, controls: Sequence[str]) -> pd.DataFrame:
    """The cases a model of ``outcome`` uses: complete on the outcome, treatment and controls."""
    return frame[[outcome, TREATED, *controls]].dropna().astype(int)


def fisher_sample(frame: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """The cases Fisher's exact test counts: every case whose outcome is known."""
    return frame[[outcome, TREATED]].dropna().astype(int)


def analyse_outcome(
    frame: pd.DataFrame,
    outcome: str,
    controls: Sequence[str] = (),
    min_events_total: int = MIN_EVENTS_TOTAL,
    min_events_per_arm: int = MIN_EVENTS_PER_ARM,
    confidence: float = 0.95,
) -> dict:
    """One outcome: logistic model and back-transform, or counts + Fisher.

    `frame` holds ``treated`` (0/1), the outcome and the controls. The model
    (and the too-few rule) use complete cases on the outcome and controls;
    "events" there means the rarer value of the outcome, so an outcome almost
    everyone has is as unmodellable as one almost no one has. A too-few
    outcome reports counts and Fisher's exact test over every case whose
    outcome is known.
    """
    from scipy import stats  # imported when a test runs: it costs half a second at load

    data = model_sample(frame, outcome, controls)
    treated = data[TREATED] == 1
    counts = _arm_counts(data, outcome)
    row = {
        "outcome": outcome,
        "model": f"logit: {outcome} ~ {' + '.join([TREATED, *controls])}",
        **counts,
        "control_rate_if_treated": np.nan,
        "control_rate_if_treated_ci_low": np.nan,
        "control_rate_if_treated_ci_high": np.nan,
        "effect_rate_diff": np.nan,
        "effect_ci_low": np.nan,
        "effect_ci_high": np.nan,
        "log_odds_ratio": np.nan,
        "log_odds_ratio_se": np.nan,
        "p_value_log_odds": np.nan,
    }
    result = None
    note = ""
    if too_few_events(counts, min_events_total, min_events_per_arm):
        note = (f"too few events to model (need >= {min_events_total} in all and >= {min_events_per_arm} per arm "
                "of the rarer outcome value)")
    else:
        import statsmodels.api as sm

        exog = sm.add_constant(data[[TREATED, *controls]].astype(float), has_constant="add")
        result = fit_logit(data[outcome], exog)
        if result is None:
            note = "perfect or quasi-separation: the logistic likelihood has no finite maximum"

    if result is None:
        # Fisher's test needs no controls: count every case whose outcome is known.
        counts = _arm_counts(fisher_sample(frame, outcome), outcome)
        table = [
            [counts["events_treated"], counts["n_treated"] - counts["events_treated"]],
            [counts["events_control"], counts["n_control"] - counts["events_control"]],
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
        control_rate_if_treated=effect["rate_if_treated"],
        control_rate_if_treated_ci_low=effect["rate_if_treated"] - z * effect["rate_if_treated_se"],
        control_rate_if_treated_ci_high=effect["rate_if_treated"] + z * effect["rate_if_treated_se"],
        effect_rate_diff=effect["effect"],
        effect_ci_low=effect["effect"] - z * effect["effect_se"],
        effect_ci_high=effect["effect"] + z * effect["effect_se"],
        log_odds_ratio=float(result.params[TREATED]),
        log_odds_ratio_se=float(result.bse[TREATED]),
        p_value_log_odds=float(result.pvalues[TREATED]),
        p_value=p_value,
        stars=stars(p_value),
        note="",
    )
    return row


RESULT_COLUMNS = [
    "analysis",
    "subgroup",
    "outcome",
    "status",
    "model",
    "test",
    "n_cases",
    "n_treated",
    "n_control",
    "events_treated",
    "events_control",
    "treated_rate_observed",
    "control_rate_observed",
    "control_rate_if_treated",
    "control_rate_if_treated_ci_low",
    "control_rate_if_treated_ci_high",
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
    """'itt': everyone as randomised; 'excluding_contaminated': drops the control cases who later received
    the programme."""
    if analysis == "itt":
        return frame
    if analysis == "excluding_contaminated":
        if CONTAMINATED not in frame:
            return frame
        return frame[frame[CONTAMINATED].fillna(0) == 0]
    raise ValueError(f"unknown analysis {analysis!r}; expected one of {ANALYSES}")


def subgroup_samples(frame: pd.DataFrame, subgroups: Sequence[str]) -> list[tuple[str, pd.DataFrame, str]]:
    """(label, cases, the variable that defines it) for each level of each subgroup variable: 'previous_cin_history'
    (cases with it) and 'no_previous_cin_history' (cases without); cases where it is unknown are in neither."""
    out = []
    for variable in subgroups:
        known = frame[variable].astype("Float64")
        out.append((variable, frame[(known == 1).fillna(False).to_numpy()], variable))
        out.append((f"no_{variable}", frame[(known == 0).fillna(False).to_numpy()], variable))
    return out


def rct_results(
    cases: pd.DataFrame,
    outcomes: Sequence[str],
    controls: Sequence[str],
    analyses: Sequence[str] = ANALYSES,
    subgroups: Sequence[str] = (),
    min_events_total: int = MIN_EVENTS_TOTAL,
    min_events_per_arm: int = MIN_EVENTS_PER_ARM,
) -> pd.DataFrame:
    """Every outcome under the ITT and the contamination-sensitivity analyses, and (ITT) by subgroup.

    `cases` comes from core.census.trial.trial_cases. One row per analysis x
    subgroup x outcome with RESULT_COLUMNS. status 'estimated': logistic model;
    control_rate_if_treated is the mean predicted probability of the control
    cases with treatment switched on; effect_rate_diff = that minus the
    control group's observed rate (equal to its mean prediction with
    treatment off, a property of logit with an intercept), i.e. the average
    marginal effect of treatment over the control cases; CI and p_value by
    the delta method; stars * p<0.05, ** p<0.01; p_value_log_odds is the
    Wald test of the treatment coefficient; n_cases are the complete cases
    on outcome and controls. status 'too_few_events': counts over every
    case whose outcome is known and Fisher's exact p_value only, model
    columns empty, the reason in note. A subgroup's model leaves out the
    variable that defines it.
    """
    rows = []
    origin = single_origin(cases)
    samples = [(analysis, ALL, analysis_sample(cases, analysis), None) for analysis in analyses]
    samples += [("itt", label, sample, variable) for label, sample, variable in subgroup_samples(cases, subgroups)]
    for analysis, subgroup, sample, variable in samples:
        used = [c for c in controls if c != variable]
        for outcome in outcomes:
            row = analyse_outcome(sample, outcome, used, min_events_total, min_events_per_arm)
            rows.append({"analysis": analysis, "subgroup": subgroup, **row, "data_origin": origin})
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


def balance_table(cases: pd.DataFrame, characteristics: Sequence[str] | None = None,
                  analysis: str = "itt") -> pd.DataFrame:
    """Sample characteristics by arm with a test of balance.

    Returns analysis, characteristic, label, n_treated, n_control,
    count_treated, count_control, share_treated, share_control, test,
    statistic (chi-square, or the odds ratio for Fisher), p_value,
    data_origin. Denominators are the cases with that characteristic
    recorded; a characteristic the trial does not record is left out.
    """
    frame = analysis_sample(cases, analysis)
    wanted = characteristics if characteristics is not None else list(BALANCE_CHARACTERISTICS)
    rows = []
    for characteristic in wanted:
        if characteristic not in frame:
            continue
        known = frame[[TREATED, characteristic]].dropna().astype(int)
        treated = known[TREATED] == 1
        count_t = int(known.loc[treated, characteristic].sum())
        count_c = int(known.loc[~treated, characteristic].sum())
        n_t, n_c = int(treated.sum()), int((~treated).sum())
        test, statistic, p_value = _binary_test(np.array([[count_t, n_t - count_t], [count_c, n_c - count_c]]))
        rows.append(
            {
                "analysis": analysis,
                "characteristic": characteristic,
                "label": BALANCE_CHARACTERISTICS.get(characteristic, characteristic),
                "n_treated": n_t,
                "n_control": n_c,
                "count_treated": count_t,
                "count_control": count_c,
                "share_treated": count_t / n_t if n_t else np.nan,
                "share_control": count_c / n_c if n_c else np.nan,
                "test": test,
                "statistic": statistic,
                "p_value": p_value,
            }
        )
    out = pd.DataFrame(rows)
    out["data_origin"] = single_origin(cases)
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
    outcomes: Sequence[str],
    alpha: float = 0.05,
    power: float = 0.8,
) -> pd.DataFrame:
    """Minimum detectable effect at the control group's observed rate.

    Arm sizes are the randomised cases (84 vs 44 in FACT22's trial), the
    base rate the control group's observed rate of each outcome.
    Returns outcome, control_base_rate, n_treated, n_control, alpha, power,
    detectable_rate_below, detectable_rate_above, mde_below, mde_above
    (positive proportions), method, data_origin.
    """
    n_t = int((cases[TREATED] == 1).sum())
    n_c = int((cases[TREATED] == 0).sum())
    rows = []
    for outcome in outcomes:
        base = float(cases.loc[cases[TREATED] == 0, outcome].dropna().mean())
        below, above = detectable_rates(base, n_t, n_c, alpha, power)
        rows.append(
            {
                "outcome": outcome,
                "control_base_rate": base,
                "n_treated": n_t,
                "n_control": n_c,
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
    out["data_origin"] = single_origin(cases)
    return out


def case_lengths(cases: pd.DataFrame, controls: Sequence[str]) -> pd.DataFrame:
    """Case lengths for the Tobit model: the cases with no escalation and a known outcome (case length is
    measured "when no escalation followed"); a case still open at the end of follow-up is right-censored.

    Returns child_key, arm, treated, the controls, case_length_days, right_censored, data_origin.
    """
    keep = ((cases["escalated"] == 0) & cases["closed"].notna() & cases["case_length_days"].notna())
    keep = keep.fillna(False).to_numpy()
    out = cases.loc[keep, ["child_key", "arm", TREATED, *controls, "case_length_days"]].copy()
    out["right_censored"] = (cases.loc[keep, "closed"] == 0).to_numpy()
    out["data_origin"] = single_origin(cases)
    return out.reset_index(drop=True)
