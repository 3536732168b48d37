"""Risk scores from coded case notes (the report's Appendix 5 framework).

Score = engagement + protective factors + risk factors, so a higher total
means less risk. Weights live in data/reference/risk_framework.csv and
risk_engagement_scale.csv, not in code, so a revised framework is a data
change.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .origin import single_origin

REFERENCE_DIR = Path(__file__).resolve().parents[3] / "data" / "reference"

SCORE_COLUMNS = ["engagement_score", "protective_score", "risk_score", "total_score"]


def load_risk_framework(path: Path | str | None = None) -> pd.DataFrame:
    """The factor table: factor_code, label, domain, kind, weight, applies_when."""
    framework = pd.read_csv(path or REFERENCE_DIR / "risk_framework.csv", keep_default_na=False)
    bad_sign = ((framework["kind"] == "risk") & (framework["weight"] >= 0)) | (
        (framework["kind"] == "protective") & (framework["weight"] <= 0)
    )
    if bad_sign.any() or not framework["kind"].isin(["risk", "protective"]).all():
        raise ValueError("risk framework: risk weights must be negative and protective weights positive")
    if framework["factor_code"].duplicated().any():
        raise ValueError("risk framework: duplicate factor_code")
    return framework


def load_engagement_scale(path: Path | str | None = None) -> pd.DataFrame:
    """The engagement scale: engagement_level, label, score."""
    return pd.read_csv(path or REFERENCE_DIR / "risk_engagement_scale.csv", keep_default_na=False)


def score_risk_notes(
    notes: pd.DataFrame, framework: pd.DataFrame, engagement_scale: pd.DataFrame
) -> pd.DataFrame:
    """Score each case x time point.

    `notes` is a validated risk_notes extract. Returns case_id, arm,
    time_point, parent_engagement_score, child_engagement_score,
    engagement_score, protective_score, risk_score, total_score,
    data_origin. An empty child_engagement (not coded, young child) scores 0.
    """
    scale = dict(zip(engagement_scale["engagement_level"], engagement_scale["score"]))
    flags = notes[list(framework["factor_code"])].astype(float).to_numpy()
    weights = framework["weight"].to_numpy(dtype=float)
    is_risk = (framework["kind"] == "risk").to_numpy()

    out = notes[["case_id", "arm", "time_point"]].copy()
    out["parent_engagement_score"] = notes["parent_engagement"].map(scale).astype(int)
    out["child_engagement_score"] = notes["child_engagement"].map(scale).fillna(0).astype(int)
    out["engagement_score"] = out["parent_engagement_score"] + out["child_engagement_score"]
    out["protective_score"] = (flags[:, ~is_risk] @ weights[~is_risk]).astype(int)
    out["risk_score"] = (flags[:, is_risk] @ weights[is_risk]).astype(int)
    out["total_score"] = out["engagement_score"] + out["protective_score"] + out["risk_score"]
    out["data_origin"] = single_origin(notes)
    return out.reset_index(drop=True)


def _in_report_order(frame: pd.DataFrame, arms: Sequence[str], time_points: Sequence[str]) -> pd.DataFrame:
    """The treated arm before the control arm, time points in order of coding."""
    order = frame["arm"].map({arm: i for i, arm in enumerate(arms)}) * 10 + frame["time_point"].map(
        {tp: i for i, tp in enumerate(time_points)}
    )
    return frame.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def risk_scores_by_arm(scores: pd.DataFrame, arms: Sequence[str], time_points: Sequence[str]) -> pd.DataFrame:
    """Mean scores per arm and time point.

    Returns arm, time_point, n_cases, mean_engagement_score,
    mean_protective_score, mean_risk_score, mean_total_score,
    sd_total_score, data_origin.
    """
    grouped = scores.groupby(["arm", "time_point"], sort=False)
    out = grouped[SCORE_COLUMNS].mean().add_prefix("mean_")
    out.insert(0, "n_cases", grouped.size())
    out["sd_total_score"] = grouped["total_score"].std()
    out = out.reset_index()
    out["data_origin"] = single_origin(scores)
    return _in_report_order(out, arms, time_points)


def time_point_pairs(time_points: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Each coding point against the next, then the first against the last."""
    pairs = tuple(zip(time_points[:-1], time_points[1:]))
    return pairs + ((time_points[0], time_points[-1]),) if len(time_points) > 2 else pairs


def risk_score_changes(scores: pd.DataFrame, arms: Sequence[str], time_points: Sequence[str]) -> pd.DataFrame:
    """Change in total score between two time points, per arm.

    Only cases scored at both time points count (RR1067's 13 cases for
    2016 -> 2019). A negative change means risk rose. p_value_paired tests
    the arm's mean change against 0 (paired t); p_value_between_arms tests
    the treated arm's mean change against the control arm's (Welch t) and is
    repeated on both arm rows. With 6 and 7 cases these tests are descriptive
    at best.

    Returns from_time_point, to_time_point, arm, n_cases, mean_total_from,
    mean_total_to, mean_change, sd_change, p_value_paired,
    p_value_between_arms, data_origin.
    """
    from scipy import stats  # imported when a comparison runs, not when the definitions load

    wide = scores.pivot_table(index=["case_id", "arm"], columns="time_point", values="total_score")
    rows = []
    for start, end in time_point_pairs(list(time_points)):
        if start not in wide or end not in wide:
            continue
        both = wide[[start, end]].dropna().reset_index()
        both["change"] = both[end] - both[start]
        by_arm = {arm: group["change"].to_numpy() for arm, group in both.groupby("arm")}
        between = np.nan
        if len(by_arm) == 2 and all(len(v) >= 2 for v in by_arm.values()):
            between = stats.ttest_ind(*by_arm.values(), equal_var=False).pvalue
        for arm, group in both.groupby("arm"):
            change = group["change"]
            paired = stats.ttest_1samp(change, 0.0).pvalue if len(change) >= 2 and change.std() > 0 else np.nan
            rows.append(
                {
                    "from_time_point": start,
                    "to_time_point": end,
                    "arm": arm,
                    "n_cases": len(group),
                    "mean_total_from": group[start].mean(),
                    "mean_total_to": group[end].mean(),
                    "mean_change": change.mean(),
                    "sd_change": change.std(),
                    "p_value_paired": paired,
                    "p_value_between_arms": between,
                }
            )
    out = pd.DataFrame(rows)
    if len(out):
        arm_order = out["arm"].map({arm: i for i, arm in enumerate(arms)})
        pair_order = out.groupby(["from_time_point", "to_time_point"], sort=False).ngroup()
        out = out.iloc[np.lexsort((arm_order.to_numpy(), pair_order.to_numpy()))].reset_index(drop=True)
    out["data_origin"] = single_origin(scores)
    return out
