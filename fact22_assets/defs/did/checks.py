"""Checks on the strand-1 marts."""
import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core.did import mart_checks
from fact22_assets.core.validation import Expectation as E
from fact22_assets.glue.checks import check_query, gx_result, rows_result
from fact22_assets.glue.studies import studies as configured_studies

TWO_BY_TWO_TOLERANCE = 1e-9

RESULTS = dg.AssetKey(["marts", "did_results"])
RANKING = dg.AssetKey(["marts", "comparator_ranking"])



@dg.asset_check(asset=RESULTS, blocking=True,
                description="One row per study, vintage, outcome and method; regression estimates have positive "
                            "standard errors and p-values in [0, 1]; every estimate carries its code version.")
def did_results_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        frame = con.execute("SELECT * FROM marts.did_results").df()
    regressions = frame[frame["method"].isin(["ols", "ols_with_covariate"])]
    result = gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["study_id", "vintage", "outcome", "method"]),
        E("ExpectColumnValuesToNotBeNull", column="estimate"),
        E("ExpectColumnValuesToBeBetween", column="permutation_p_value", min_value=0, max_value=1),
        E("ExpectColumnValuesToNotBeNull", column="code_version"),
    ], "marts.did_results", ["study_id", "vintage", "outcome", "method"])
    if not result.passed:
        return result
    return gx_result(regressions, [
        E("ExpectColumnValuesToBeBetween", column="se_classical", min_value=0, strict_min=True),
        E("ExpectColumnValuesToBeBetween", column="se_hc1", min_value=0, strict_min=True),
        E("ExpectColumnValuesToBeBetween", column="p_classical", min_value=0, max_value=1),
        E("ExpectColumnValuesToBeBetween", column="p_hc1", min_value=0, max_value=1),
        E("ExpectColumnValuesToNotBeNull", column="comparator_code"),
    ], "marts.did_results (regressions)", ["study_id", "vintage", "outcome", "method"])


@dg.asset_check(asset=RESULTS, blocking=True,
                description="Each published 2x2 difference of means equals one recomputed from the study's "
                            "configured years and marts.cin_rates_vintages (to 1e-9).")
def did_two_by_two_recomputes(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    # Independent of the estimator: the study's years from its configuration,
    # the rates straight from the mart, four means and two differences.
    studies = {entry.study.study_id: entry.study for entry in configured_studies()}
    # Whichever rates the studies name (checked against the measure registry when they load).
    outcomes = sorted({o for study in studies.values() for o in study.outcomes})
    with duckdb.get_connection() as con:
        published = con.execute("SELECT * FROM marts.did_results WHERE method = 'difference_of_means'").df()
        rates = con.execute(f"SELECT vintage, panel_unit_code, collection_year, {', '.join(outcomes)} "
                            "FROM marts.cin_rates_vintages WHERE geographic_level = 'Local authority'").df()
    mismatches = []
    for row in published.itertuples():
        study = studies[row.study_id]
        scope = rates[(rates.vintage == row.vintage) & rates.collection_year.isin(study.study_years)]

        def mean(unit: str, post: bool) -> float:
            chosen = scope[(scope.panel_unit_code == unit) & ((scope.collection_year >= study.first_post_year) == post)]
            return chosen[row.outcome].mean()

        recomputed = ((mean(row.treated_unit_code, True) - mean(row.treated_unit_code, False))
                      - (mean(row.comparator_code, True) - mean(row.comparator_code, False)))
        if not abs(recomputed - row.estimate) <= TWO_BY_TWO_TOLERANCE:
            mismatches.append({"study_id": row.study_id, "vintage": row.vintage, "outcome": row.outcome,
                               "published": row.estimate, "recomputed": recomputed})
    return rows_result(pd.DataFrame(mismatches), "2x2 estimates that differ from a recomputation from the rates")


@dg.asset_check(asset=RANKING, blocking=True,
                description="Exactly one comparator per study, vintage and outcome; it is eligible, and it passes "
                            "the parallel pre-trend test whenever any candidate does.")
def one_valid_comparator(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return rows_result(check_query(duckdb, "did_selection_problems"), "broken comparator choices")


# --- Every DiD mart's own invariants (core/did/mart_checks.py), recomputed without the estimators' code.

def _key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", name])


def _read(duckdb: DuckDBResource, *names: str, rates: bool = False):
    """The marts named (empty frames stay empty) and, when asked, the rates the panel reads."""
    studies = {entry.study.study_id: entry.study for entry in configured_studies()}
    with duckdb.get_connection() as con:
        tables = [con.execute(f"SELECT * FROM marts.{name}").df() for name in names]
        if rates:
            outcomes = sorted({o for study in studies.values() for o in study.outcomes})
            tables.append(mart_checks.Rates(con.execute(
                f"SELECT vintage, panel_unit_code AS unit_code, collection_year, {', '.join(outcomes)} "
                "FROM marts.cin_rates_vintages WHERE geographic_level = 'Local authority'").df()))
    return tables, studies


def _mart_check(name: str, description: str):
    """A blocking check on marts.<name>; the decorated function returns the offending rows."""
    def wrap(find):
        @dg.asset_check(asset=_key(name), name=find.__name__, blocking=True, description=description)
        def check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
            return rows_result(find(duckdb), f"marts.{name} rows breaking its invariant")
        check.__doc__ = find.__doc__
        return check
    return wrap


def _empty_if_unwritten(frame: pd.DataFrame, column: str):
    """A mart no study's estimators wrote is published with its key columns only: nothing to check."""
    return frame.empty or column not in frame.columns


@_mart_check("did_event_study", "Each interval is the placebo coefficients' 2.5% and 97.5% quantiles inverted around "
                                "the estimate, [b - q97.5, b - q2.5], recomputed from marts.cin_rates_vintages "
                                "(without the covariate; with it, each interval ordered and as many placebos).")
def did_event_study_intervals_inverted(duckdb):
    (events, ranking, rates), studies = _read(duckdb, "did_event_study", "comparator_ranking", rates=True)
    if _empty_if_unwritten(events, "ci_low"):
        return pd.DataFrame()
    return mart_checks.event_study_problems(events, rates, ranking, studies)


@_mart_check("did_placebo_space", "One treated row per study, vintage and outcome, with did_results' estimate; "
                                  "did_results' permutation p-value and count are the placebo rows'.")
def did_placebo_space_counts_match(duckdb):
    (space, results), _ = _read(duckdb, "did_placebo_space", "did_results")
    if _empty_if_unwritten(space, "estimate"):
        return pd.DataFrame()
    return mart_checks.placebo_space_problems(space, results)


@_mart_check("did_placebo_space_reselected", "The treated row is against the ranking's selected comparator; every "
                                             "eligible authority is a placebo and picked an eligible comparator "
                                             "other than itself; at_least_as_extreme compares |estimates|.")
def did_placebo_space_reselected_picks_valid(duckdb):
    (reselected, ranking), _ = _read(duckdb, "did_placebo_space_reselected", "comparator_ranking")
    if _empty_if_unwritten(reselected, "estimate"):
        return pd.DataFrame()
    return mart_checks.reselected_problems(reselected, ranking)


@_mart_check("did_inference", "Both p-values (comparator fixed, re-selected) and their counts are those of their "
                              "placebo tables; the re-selection rule reproduces every comparator the ranking rule "
                              "chose.")
def did_inference_p_values_count_placebos(duckdb):
    (inference, reselected, space, ranking), _ = _read(duckdb, "did_inference", "did_placebo_space_reselected",
                                                       "did_placebo_space", "comparator_ranking")
    if _empty_if_unwritten(inference, "reselected_p_value"):
        return pd.DataFrame()
    return mart_checks.inference_problems(inference, reselected, space, ranking)


@_mart_check("did_placebo_time", "Fake start years split the pre-period; each fake 2x2 difference of means equals one "
                                 "recomputed from marts.cin_rates_vintages.")
def did_placebo_time_recomputes(duckdb):
    (placebo_time, rates), studies = _read(duckdb, "did_placebo_time", rates=True)
    if _empty_if_unwritten(placebo_time, "estimate"):
        return pd.DataFrame()
    return mart_checks.placebo_time_problems(placebo_time, rates, studies)


@_mart_check("did_runs", "One row per study and vintage; 'estimated' exactly when did_results has its rows.")
def did_runs_match_results(duckdb):
    (runs, results), _ = _read(duckdb, "did_runs", "did_results")
    return mart_checks.runs_problems(runs, results)


@_mart_check("synthetic_control_weights", "Weights over exactly the eligible donors, non-negative, summing to 1.")
def synthetic_control_weights_on_simplex(duckdb):
    (weights, ranking), _ = _read(duckdb, "synthetic_control_weights", "comparator_ranking")
    if _empty_if_unwritten(weights, "weight"):
        return pd.DataFrame()
    return mart_checks.synthetic_control_weight_problems(weights, ranking)


@_mart_check("synthetic_control_paths", "Each year's synthetic value is the published weights applied to the donors' "
                                        "rates, the gap treated minus synthetic, and the mean post-period gap "
                                        "did_results' synthetic-control estimate.")
def synthetic_control_paths_recompute(duckdb):
    (paths, weights, results, rates), studies = _read(duckdb, "synthetic_control_paths", "synthetic_control_weights",
                                                      "did_results", rates=True)
    if _empty_if_unwritten(paths, "gap"):
        return pd.DataFrame()
    return mart_checks.synthetic_control_path_problems(paths, weights, results, rates, studies)


@_mart_check("synthetic_control_placebos", "One treated row; did_results' RMSPE-ratio p-value and count are the "
                                           "placebo rows'; an inexact fit's ratio is post over pre RMSPE.")
def synthetic_control_placebos_count(duckdb):
    (placebos, results), _ = _read(duckdb, "synthetic_control_placebos", "did_results")
    if _empty_if_unwritten(placebos, "rmspe_ratio"):
        return pd.DataFrame()
    return mart_checks.synthetic_control_placebo_problems(placebos, results)


@_mart_check("synthetic_did_weights", "Unit and time weights non-negative, each kind summing to 1, one time weight per "
                                      "pre-period year; applied to the rates they give did_results' synthetic DiD "
                                      "estimate.")
def synthetic_did_weights_give_estimate(duckdb):
    (weights, results, rates), studies = _read(duckdb, "synthetic_did_weights", "did_results", rates=True)
    if _empty_if_unwritten(weights, "weight"):
        return pd.DataFrame()
    return mart_checks.synthetic_did_weight_problems(weights, results, rates, studies)


@_mart_check("penalised_synthetic_control_weights", "Weights non-negative summing to 1, one positive lambda per study, "
                                                    "vintage and outcome; applied to the rates they give did_results' "
                                                    "penalised estimate (the mean post-period gap).")
def penalised_synthetic_control_weights_give_estimate(duckdb):
    (weights, results, rates), studies = _read(duckdb, "penalised_synthetic_control_weights", "did_results",
                                               rates=True)
    if _empty_if_unwritten(weights, "weight"):
        return pd.DataFrame()
    return mart_checks.penalised_weight_problems(weights, results, rates, studies)


@_mart_check("synthetic_control_identification", "The published gap lies within [post_gap_low, post_gap_high] and is "
                                                 "did_results' synthetic-control estimate; identified exactly when "
                                                 "that range is a point.")
def synthetic_control_identification_consistent(duckdb):
    (identification, results), _ = _read(duckdb, "synthetic_control_identification", "did_results")
    if _empty_if_unwritten(identification, "post_gap_low"):
        return pd.DataFrame()
    return mart_checks.identification_problems(identification, results)


@_mart_check("did_comparator_robustness", "Every eligible comparator once, positions in estimate order, the ranking's "
                                          "selection marked, with did_results' estimate.")
def did_comparator_robustness_curve_valid(duckdb):
    (curve, results, ranking), _ = _read(duckdb, "did_comparator_robustness", "did_results", "comparator_ranking")
    if _empty_if_unwritten(curve, "estimate"):
        return pd.DataFrame()
    return mart_checks.robustness_problems(curve, results, ranking)


@_mart_check("did_comparator_robustness_summary", "Median, quartiles, range, shares and the chosen estimate's place "
                                                  "recomputed from the curve (marts.did_comparator_robustness).")
def did_comparator_robustness_summary_recomputes(duckdb):
    (summary, curve), _ = _read(duckdb, "did_comparator_robustness_summary", "did_comparator_robustness")
    if _empty_if_unwritten(summary, "median"):
        return pd.DataFrame()
    return mart_checks.robustness_summary_problems(summary, curve)


@_mart_check("did_comparator_stability", "Each left-out year is a pre-period year; same_as_full says whether the pick "
                                         "is the selection; a pick's estimate is the curve's.")
def did_comparator_stability_consistent(duckdb):
    (stability, curve, ranking), studies = _read(duckdb, "did_comparator_stability", "did_comparator_robustness",
                                                 "comparator_ranking")
    if _empty_if_unwritten(stability, "estimate"):
        return pd.DataFrame()
    return mart_checks.stability_problems(stability, curve, ranking, studies)
