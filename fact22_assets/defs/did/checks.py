"""Checks on the strand-1 marts."""
import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

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
