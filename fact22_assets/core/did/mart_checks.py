"""The invariants of the strand-1 marts, each recomputed without the estimator's code.

Each function takes the published tables (as DataFrames) and returns the
rows that break its invariant, with a `problem` column saying how (empty
when all is well); `defs/did/checks.py` runs them as asset checks in every
build, so they stay cheap: plain pandas and NumPy over tables of a few
thousand rows. Where a number can be recomputed from the rates
(`marts.cin_rates_vintages`, as `panel.sql` reads them) and the study's
configured years, it is: an event-study interval from the placebo
coefficients, the synthetic estimates from their published weights, a fake
2x2 from the rates; elsewhere the invariant relates two published tables
(a p-value to the placebo rows it counts, a summary to its curve).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .study import Study

TOLERANCE = 1e-9  # absolute or relative, for numbers recomputed here
WEIGHT_TOLERANCE = 1e-9  # a weight may be this far below 0; weights sum to 1 within this
GROUP = ["study_id", "vintage", "outcome"]


def _close(a, b, tolerance: float = TOLERANCE) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.isclose(a, b, rtol=tolerance, atol=tolerance) | (np.isnan(a) & np.isnan(b))


def _flag(column: pd.Series) -> pd.Series:
    """A boolean column with missing values read as False."""
    return column.astype("boolean").fillna(False).astype(bool)


def _problems(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=sorted({k for r in rows for k in r}, key=lambda k: (k != "problem", k))
                        if rows else ["problem"])


class Rates:
    """Outcome rates by vintage, unit and year, as the strand's panel reads them."""

    def __init__(self, rates: pd.DataFrame):
        self.frame = rates
        self._wide: dict[tuple[str, str], pd.DataFrame] = {}

    def wide(self, vintage: str, outcome: str) -> pd.DataFrame:
        if (vintage, outcome) not in self._wide:
            scope = self.frame[self.frame["vintage"] == vintage]
            self._wide[(vintage, outcome)] = scope.pivot(index="unit_code", columns="collection_year", values=outcome)
        return self._wide[(vintage, outcome)]

    def values(self, vintage: str, outcome: str, units, years) -> np.ndarray:
        return self.wide(vintage, outcome).reindex(index=list(units), columns=list(years)).to_numpy(dtype=float)


def _main_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The report's specification per group: the regression row carrying the placebo p-value."""
    main = results[results["method"].isin(["ols", "ols_with_covariate"]) & results["n_placebos"].notna()]
    return main.set_index(GROUP)


def _eligible(ranking: pd.DataFrame) -> dict[tuple, list[str]]:
    eligible = ranking[_flag(ranking["eligible"])]
    return {key: sorted(frame["unit_code"]) for key, frame in eligible.groupby(GROUP)}


def _selected(ranking: pd.DataFrame) -> dict[tuple, str]:
    chosen = ranking[_flag(ranking["selected"])]
    return {tuple(r[:3]): r[3] for r in chosen[[*GROUP, "unit_code"]].itertuples(index=False)}


def event_study_problems(events: pd.DataFrame, rates: Rates, ranking: pd.DataFrame,
                         studies: Mapping[str, Study]) -> pd.DataFrame:
    """Intervals are the placebo quantiles inverted around the estimate: [b - q97.5, b - q2.5].

    Without the covariate every coefficient is recomputed from the rates: each
    unit's gap to the comparator in a year minus that gap in the reference
    year, the placebos being every eligible unit but the comparator. With it,
    each interval must hold its estimate's ordering (ci_low <= ci_high) and the
    same number of placebos.
    """
    eligible, rows = _eligible(ranking), []
    for key, frame in events.groupby([*GROUP, "covariate_adjusted"]):
        study_id, vintage, outcome, adjusted = key
        study = studies[study_id]
        frame = frame.sort_values("collection_year")
        reference = frame["period"] == "reference"
        ids = dict(zip([*GROUP, "covariate_adjusted"], key))
        if reference.sum() != 1 or frame.loc[reference, "estimate"].abs().max() > TOLERANCE:
            rows.append(ids | {"problem": "not exactly one reference year with estimate 0"})
            continue
        spread = frame[~reference]
        if ((spread["ci_low"] > spread["ci_high"]) | spread["ci_low"].isna()).any():
            rows.append(ids | {"problem": "an interval is reversed or missing"})
        if adjusted:
            continue
        comparator = frame["comparator_code"].iloc[0]
        years = list(frame["collection_year"])
        placebos = [u for u in eligible.get(key[:3], []) if u != comparator]
        gap = rates.values(vintage, outcome, [study.treated_unit_code, *placebos], years) \
            - rates.values(vintage, outcome, [comparator], years)
        ref = years.index(study.pre_years[-1])
        coefficients = gap - gap[:, [ref]]
        placebo = coefficients[1:][~np.isnan(coefficients[1:]).any(axis=1)]
        low, high = np.quantile(placebo, [0.025, 0.975], axis=0)
        expected = pd.DataFrame({"estimate": coefficients[0], "ci_low": coefficients[0] - high,
                                 "ci_high": coefficients[0] - low}, index=years)
        published = frame.set_index("collection_year")
        for year in spread["collection_year"]:
            for column in ("estimate", "ci_low", "ci_high"):
                if not _close(published.at[year, column], expected.at[year, column]):
                    rows.append(ids | {"collection_year": year, "column": column,
                                       "published": published.at[year, column],
                                       "recomputed": expected.at[year, column],
                                       "problem": "differs from the placebo quantiles inverted around the estimate"})
        if (frame["n_placebos"] != len(placebo)).any():
            rows.append(ids | {"problem": f"n_placebos is not the {len(placebo)} eligible units but the comparator"})
    return _problems(rows)


def _permutation_p(estimates: pd.Series, actual: float) -> tuple[float, int]:
    values = estimates.dropna().to_numpy(dtype=float)
    return (1 + int((np.abs(values) >= abs(actual)).sum())) / (1 + values.size), int(values.size)


def placebo_space_problems(space: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """One treated row per group, whose estimate is the report's; the published p-value counts the placebos."""
    main, rows = _main_rows(results), []
    for key, frame in space.groupby(GROUP):
        ids = dict(zip(GROUP, key))
        treated = frame[frame["role"] == "treated"]
        if len(treated) != 1 or key not in main.index:
            rows.append(ids | {"problem": "not exactly one treated row, or no main estimate in did_results"})
            continue
        actual = float(treated["estimate"].iloc[0])
        row = main.loc[key]
        p, n = _permutation_p(frame.loc[frame["role"] == "placebo", "estimate"], actual)
        if not _close(actual, row["estimate"]):
            rows.append(ids | {"problem": f"treated estimate {actual} is not did_results' {row['estimate']}"})
        if not _close(p, row["permutation_p_value"]) or n != row["n_placebos"]:
            rows.append(ids | {"problem": f"did_results' permutation p {row['permutation_p_value']} (n "
                                          f"{row['n_placebos']}) is not the placebos' {p} (n {n})"})
        extreme = np.abs(frame["estimate"].to_numpy(dtype=float)) >= abs(actual)
        if (_flag(frame["at_least_as_extreme"]).to_numpy() != extreme).any():
            rows.append(ids | {"problem": "at_least_as_extreme is not |estimate| >= |treated estimate|"})
    return _problems(rows)


def inference_problems(inference: pd.DataFrame, reselected: pd.DataFrame, space: pd.DataFrame,
                       ranking: pd.DataFrame) -> pd.DataFrame:
    """Both p-values count their placebo tables; the re-selection rule reproduces a rule-chosen comparator."""
    rows = []
    rule = ranking.groupby(GROUP)["selection_rule"].first()
    tables = {"fixed": space.groupby(GROUP), "reselected": reselected.groupby(GROUP)}
    for row in inference.itertuples(index=False):
        key = (row.study_id, row.vintage, row.outcome)
        ids = dict(zip(GROUP, key))
        for kind, groups in tables.items():
            if key not in groups.groups:
                rows.append(ids | {"problem": f"no {kind} placebo rows"})
                continue
            frame = groups.get_group(key)
            treated = frame[frame["role"] == "treated"]
            p, n = _permutation_p(frame.loc[frame["role"] == "placebo", "estimate"], treated["estimate"].iloc[0])
            published = getattr(row, f"{'fixed_comparator' if kind == 'fixed' else 'reselected'}_p_value")
            count = getattr(row, f"n_placebos_{kind}")
            if not _close(p, published) or n != count:
                rows.append(ids | {"problem": f"{kind} p {published} (n {count}) is not its placebos' {p} (n {n})"})
            if kind == "reselected":
                picks = frame.loc[frame["role"] == "placebo", "comparator_code"].dropna()
                if row.n_distinct_placebo_comparators != picks.nunique():
                    rows.append(ids | {"problem": "n_distinct_placebo_comparators does not count the picks"})
        if rule.get(key) == "ranking rule" and pd.isna(row.max_candidates) and not row.treated_pick_reproduced:
            rows.append(ids | {"problem": "the re-selection rule does not reproduce the treated unit's comparator"})
    return _problems(rows)


def reselected_problems(reselected: pd.DataFrame, ranking: pd.DataFrame) -> pd.DataFrame:
    """One treated row, against the ranking's selection; every placebo is eligible and picked an eligible
    comparator other than itself; at_least_as_extreme compares |estimate| with the treated one's."""
    eligible, selected, rows = _eligible(ranking), _selected(ranking), []
    for key, frame in reselected.groupby(GROUP):
        ids = dict(zip(GROUP, key))
        treated = frame[frame["role"] == "treated"]
        if len(treated) != 1 or treated["comparator_code"].iloc[0] != selected.get(key):
            rows.append(ids | {"problem": "not one treated row against the ranking's selected comparator"})
            continue
        placebos = frame[frame["role"] == "placebo"]
        pool = set(eligible.get(key, []))
        if set(placebos["unit_code"]) != pool:
            rows.append(ids | {"problem": "the placebos are not the eligible authorities"})
        picks = placebos["comparator_code"]
        wrong = placebos[picks.isna() | (picks == placebos["unit_code"]) | ~picks.isin(pool)]
        for unit in wrong["unit_code"].head(5):
            rows.append(ids | {"unit_code": unit, "problem": "picked itself, nobody, or an ineligible comparator"})
        extreme = np.abs(frame["estimate"].to_numpy(dtype=float)) >= abs(float(treated["estimate"].iloc[0]))
        if (_flag(frame["at_least_as_extreme"]).to_numpy() != extreme).any():
            rows.append(ids | {"problem": "at_least_as_extreme is not |estimate| >= |treated estimate|"})
    return _problems(rows)


def placebo_time_problems(placebo_time: pd.DataFrame, rates: Rates, studies: Mapping[str, Study]) -> pd.DataFrame:
    """Fake starts inside the pre-period; each fake 2x2 difference of means recomputed from the rates."""
    rows = []
    for row in placebo_time.itertuples(index=False):
        study = studies[row.study_id]
        pre = list(study.pre_years)
        ids = {"study_id": row.study_id, "vintage": row.vintage, "outcome": row.outcome,
               "fake_first_post_year": row.fake_first_post_year, "method": row.method}
        k = int(row.n_fake_pre_years)
        if not (2 <= k < len(pre) and pre[k] == row.fake_first_post_year and k + row.n_fake_post_years == len(pre)):
            rows.append(ids | {"problem": "fake years are not a split of the pre-period"})
            continue
        if row.method != "difference_of_means":
            continue
        y = rates.values(row.vintage, row.outcome, [row.treated_unit_code, row.comparator_code], pre)
        expected = (y[0, k:].mean() - y[0, :k].mean()) - (y[1, k:].mean() - y[1, :k].mean())
        if not _close(row.estimate, expected):
            rows.append(ids | {"published": row.estimate, "recomputed": expected,
                               "problem": "the fake 2x2 differs from the rates"})
    return _problems(rows)


def runs_problems(runs: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """One row per study and vintage; a pair is 'estimated' exactly when did_results has its rows."""
    rows = []
    estimated = set(map(tuple, results[["study_id", "vintage"]].drop_duplicates().to_numpy()))
    for row in runs[runs.duplicated(["study_id", "vintage"], keep=False)].itertuples(index=False):
        rows.append({"study_id": row.study_id, "vintage": row.vintage, "problem": "listed more than once"})
    for row in runs.itertuples(index=False):
        has = (row.study_id, row.vintage) in estimated
        if row.status not in ("estimated", "not estimated") or has != (row.status == "estimated"):
            rows.append({"study_id": row.study_id, "vintage": row.vintage,
                         "problem": f"status {row.status!r} but did_results {'has' if has else 'lacks'} its rows"})
    listed = set(map(tuple, runs[["study_id", "vintage"]].to_numpy()))
    for study_id, vintage in sorted(estimated - listed):
        rows.append({"study_id": study_id, "vintage": vintage, "problem": "estimated but not in did_runs"})
    return _problems(rows)


def weight_problems(weights: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Weights are non-negative and each group's sum to 1."""
    by = GROUP + (by or [])
    rows = []
    for key, frame in weights.groupby(by):
        ids = dict(zip(by, key))
        w = frame["weight"].to_numpy(dtype=float)
        if np.isnan(w).any() or w.min() < -WEIGHT_TOLERANCE:
            rows.append(ids | {"problem": f"a weight is negative or missing (least {np.nanmin(w)})"})
        if abs(w.sum() - 1) > WEIGHT_TOLERANCE:
            rows.append(ids | {"problem": f"weights sum to {w.sum()}, not 1"})
        if frame["unit_code"].dropna().duplicated().any():
            rows.append(ids | {"problem": "a donor is listed twice"})
    return _problems(rows)


def _estimate(results: pd.DataFrame, method: str) -> pd.Series:
    return results[results["method"] == method].set_index(GROUP)["estimate"]


def penalised_weight_problems(weights: pd.DataFrame, results: pd.DataFrame, rates: Rates,
                              studies: Mapping[str, Study]) -> pd.DataFrame:
    """Simplex weights, one positive lambda per group, and the estimate (mean post gap) they give."""
    problems = [weight_problems(weights)]
    estimates, rows = _estimate(results, "penalised_synthetic_control"), []
    for key, frame in weights.groupby(GROUP):
        ids, study = dict(zip(GROUP, key)), studies[key[0]]
        lambdas = frame["lambda"].unique()
        if len(lambdas) != 1 or not lambdas[0] > 0:
            rows.append(ids | {"problem": f"lambda is not one positive value: {list(lambdas)}"})
        post = list(study.post_years)
        gap = rates.values(key[1], key[2], [study.treated_unit_code], post)[0] \
            - frame["weight"].to_numpy(dtype=float) @ rates.values(key[1], key[2], frame["unit_code"], post)
        if key not in estimates.index or not _close(gap.mean(), estimates[key]):
            rows.append(ids | {"recomputed": gap.mean(), "problem": "the weights do not give did_results' estimate"})
    return pd.concat([*problems, _problems(rows)], ignore_index=True)


def synthetic_did_weight_problems(weights: pd.DataFrame, results: pd.DataFrame, rates: Rates,
                                  studies: Mapping[str, Study]) -> pd.DataFrame:
    """Unit and time weights on the simplex, and the synthetic DiD estimate they give (Arkhangelsky et al. (1)):
    (treated post mean - lambda' treated pre) - (omega' donors' post means - omega' Y_pre lambda)."""
    problems = [weight_problems(weights, ["kind"])]
    estimates, rows = _estimate(results, "synthetic_did"), []
    for key, frame in weights.groupby(GROUP):
        ids, study = dict(zip(GROUP, key)), studies[key[0]]
        units, times = frame[frame["kind"] == "unit"], frame[frame["kind"] == "time"].sort_values("year")
        pre, post = list(study.pre_years), list(study.post_years)
        if list(times["year"].astype(int)) != pre:
            rows.append(ids | {"problem": "time weights are not one per pre-period year"})
            continue
        omega, lam = units["weight"].to_numpy(dtype=float), times["weight"].to_numpy(dtype=float)
        treated = rates.values(key[1], key[2], [study.treated_unit_code], pre + post)[0]
        donors = rates.values(key[1], key[2], units["unit_code"], pre + post)
        n = len(pre)
        tau = (treated[n:].mean() - treated[:n] @ lam) - (omega @ donors[:, n:].mean(axis=1) - omega @ donors[:, :n] @ lam)
        if key not in estimates.index or not _close(tau, estimates[key]):
            rows.append(ids | {"recomputed": tau, "problem": "the weights do not give did_results' estimate"})
    return pd.concat([*problems, _problems(rows)], ignore_index=True)


def synthetic_control_weight_problems(weights: pd.DataFrame, ranking: pd.DataFrame) -> pd.DataFrame:
    """Simplex weights over exactly the eligible donors."""
    problems, rows, eligible = [weight_problems(weights)], [], _eligible(ranking)
    for key, frame in weights.groupby(GROUP):
        if sorted(frame["unit_code"]) != eligible.get(key):
            rows.append(dict(zip(GROUP, key)) | {"problem": "the donors are not the eligible authorities"})
    return pd.concat([*problems, _problems(rows)], ignore_index=True)


def synthetic_control_path_problems(paths: pd.DataFrame, weights: pd.DataFrame, results: pd.DataFrame,
                                    rates: Rates, studies: Mapping[str, Study]) -> pd.DataFrame:
    """Each year's synthetic value is the weighted donors' rate, the gap treated minus synthetic, and the
    mean post-period gap did_results' synthetic-control estimate."""
    estimates, rows = _estimate(results, "synthetic_control"), []
    by_group = dict(list(weights.groupby(GROUP)))
    for key, frame in paths.groupby(GROUP):
        ids, study = dict(zip(GROUP, key)), studies[key[0]]
        frame = frame.sort_values("collection_year")
        years = list(frame["collection_year"])
        if years != list(study.study_years) or key not in by_group:
            rows.append(ids | {"problem": "not one row per study year, or no weights"})
            continue
        w = by_group[key]
        synthetic = w["weight"].to_numpy(dtype=float) @ rates.values(key[1], key[2], w["unit_code"], years)
        treated = rates.values(key[1], key[2], [study.treated_unit_code], years)[0]
        for column, expected in (("synthetic_value", synthetic), ("treated_value", treated),
                                 ("gap", treated - synthetic)):
            bad = ~_close(frame[column], expected)
            for year in np.asarray(years)[bad]:
                rows.append(ids | {"collection_year": int(year), "column": column,
                                   "problem": "differs from the weights applied to the rates"})
        post = frame["period"].to_numpy() == "post"
        if (post != np.isin(years, study.post_years)).any():
            rows.append(ids | {"problem": "periods are not the study's"})
        if key not in estimates.index or not _close(frame.loc[post, "gap"].mean(), estimates[key]):
            rows.append(ids | {"problem": "the mean post-period gap is not did_results' estimate"})
    return _problems(rows)


def synthetic_control_placebo_problems(placebos: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """One treated row; the published p-values count the placebo rows; each ratio is post over pre RMSPE
    wherever the fit is not exact."""
    main = results[results["method"] == "synthetic_control"].set_index(GROUP)
    rows = []
    for key, frame in placebos.groupby(GROUP):
        ids = dict(zip(GROUP, key))
        treated = frame[frame["role"] == "treated"]
        if len(treated) != 1 or key not in main.index:
            rows.append(ids | {"problem": "not exactly one treated row, or no synthetic-control row"})
            continue
        others, ratio = frame[frame["role"] == "placebo"], float(treated["rmspe_ratio"].iloc[0])
        p = (1 + int((others["rmspe_ratio"] >= ratio).sum())) / (1 + len(others))
        published = main.loc[key]
        if not _close(p, published["permutation_p_value"]) or len(others) != published["n_placebos"]:
            rows.append(ids | {"problem": f"the ratio p {published['permutation_p_value']} is not its placebos' {p}"})
        inexact = ~_flag(frame["exact_pre_fit"])
        if not _close(frame.loc[inexact, "rmspe_ratio"], frame.loc[inexact, "post_rmspe"]
                      / frame.loc[inexact, "pre_rmspe"]).all():
            rows.append(ids | {"problem": "an inexact fit's ratio is not post_rmspe / pre_rmspe"})
        if not _close(treated["rmspe_ratio"].iloc[0], published["rmspe_ratio"]):
            rows.append(ids | {"problem": "the treated ratio is not did_results'"})
    return _problems(rows)


def identification_problems(identification: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """The published gap lies in [post_gap_low, post_gap_high]; 'identified' says that range is a point."""
    estimates, rows = _estimate(results, "synthetic_control"), []
    slack = 1e-6
    for row in identification.itertuples(index=False):
        key = (row.study_id, row.vintage, row.outcome)
        ids = dict(zip(GROUP, key))
        if not row.post_gap_low - slack <= row.published_post_gap <= row.post_gap_high + slack:
            rows.append(ids | {"problem": "the published gap is outside [post_gap_low, post_gap_high]"})
        if bool(row.identified) != bool(row.post_gap_high - row.post_gap_low <= slack):
            rows.append(ids | {"problem": "identified does not match the width of the range"})
        if not row.best_pre_rmspe >= 0:
            rows.append(ids | {"problem": "negative best_pre_rmspe"})
        if key not in estimates.index or not _close(row.published_post_gap, estimates[key]):
            rows.append(ids | {"problem": "published_post_gap is not did_results' synthetic-control estimate"})
    return _problems(rows)


def robustness_problems(curve: pd.DataFrame, results: pd.DataFrame, ranking: pd.DataFrame) -> pd.DataFrame:
    """The curve has every eligible comparator once, in estimate order, the selected one where did_results
    has the report's estimate."""
    main, eligible, selected, rows = _main_rows(results), _eligible(ranking), _selected(ranking), []
    for key, frame in curve.groupby(GROUP):
        ids = dict(zip(GROUP, key))
        frame = frame.sort_values("curve_position")
        if sorted(frame["unit_code"]) != eligible.get(key) or list(frame["curve_position"]) != list(
                range(1, len(frame) + 1)):
            rows.append(ids | {"problem": "not every eligible comparator once, positions 1..n"})
        if (np.diff(frame["estimate"].to_numpy(dtype=float)) < 0).any():
            rows.append(ids | {"problem": "curve positions are not in estimate order"})
        chosen = frame[_flag(frame["selected"])]
        if list(chosen["unit_code"]) != [selected.get(key)]:
            rows.append(ids | {"problem": "the selected comparator is not the ranking's"})
        elif key not in main.index or not _close(chosen["estimate"].iloc[0], main.loc[key, "estimate"]):
            rows.append(ids | {"problem": "the selected comparator's estimate is not did_results'"})
    return _problems(rows)


def robustness_summary_problems(summary: pd.DataFrame, curve: pd.DataFrame) -> pd.DataFrame:
    """Every summary figure recomputed from the curve."""
    rows, curves = [], dict(list(curve.groupby(GROUP)))
    for row in summary.itertuples(index=False):
        key = (row.study_id, row.vintage, row.outcome)
        frame = curves.get(key)
        if frame is None:
            rows.append(dict(zip(GROUP, key)) | {"problem": "no curve"})
            continue
        e = frame["estimate"].to_numpy(dtype=float)
        chosen = frame.loc[_flag(frame["selected"]), "estimate"]
        chosen_value = float(chosen.iloc[0]) if len(chosen) else np.nan
        top = frame.sort_values("rank").head(10)["estimate"].to_numpy(dtype=float)
        expected = {
            "n_comparators": e.size, "median": np.median(e), "q25": np.quantile(e, 0.25),
            "q75": np.quantile(e, 0.75), "minimum": e.min(), "maximum": e.max(),
            "share_negative": (e < 0).mean(), "share_positive": (e > 0).mean(), "chosen_estimate": chosen_value,
            "chosen_percentile": ((e < chosen_value).sum() + 0.5 * (e == chosen_value).sum()) / e.size,
            "top10_minimum": top.min(), "top10_maximum": top.max(), "top10_share_negative": (top < 0).mean(),
        }
        for column, value in expected.items():
            if not _close(getattr(row, column), value):
                rows.append(dict(zip(GROUP, key)) | {"column": column, "published": getattr(row, column),
                                                     "recomputed": value, "problem": "differs from the curve"})
    return _problems(rows)


def stability_problems(stability: pd.DataFrame, curve: pd.DataFrame, ranking: pd.DataFrame,
                       studies: Mapping[str, Study]) -> pd.DataFrame:
    """Each left-out year is a pre year; same_as_full says whether the pick is the selection; a pick in the
    full design has the curve's estimate."""
    selected, rows = _selected(ranking), []
    estimates = curve.set_index([*GROUP, "unit_code"])["estimate"]
    for row in stability.itertuples(index=False):
        key = (row.study_id, row.vintage, row.outcome)
        ids = dict(zip(GROUP, key)) | {"left_out_year": row.left_out_year}
        if row.left_out_year not in studies[row.study_id].pre_years:
            rows.append(ids | {"problem": "the left-out year is not a pre-period year"})
        if bool(row.same_as_full) != (row.comparator_code == selected.get(key)):
            rows.append(ids | {"problem": "same_as_full does not match the selection"})
        full = estimates.get((*key, row.comparator_code), np.nan)
        if not _close(row.estimate, full):
            rows.append(ids | {"problem": f"estimate {row.estimate} is not the curve's {full}"})
    return _problems(rows)
