"""Checks on the calibration marts and what they feed (did_results' calibrated columns, the dilution)."""
from statistics import NormalDist

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core.calibration.placebo_studies import P_VALUE_COLUMNS
from fact22_assets.core.calibration.power import ALPHA, POWER
from fact22_assets.core.calibration.rates import FIRST_SCREEN_FAMILY, FIRST_SCREEN_KIND, FIRST_SCREEN_METHODS
from fact22_assets.glue.checks import rows_result
from fact22_assets.glue.studies import studies as configured_studies

TOLERANCE = 1e-9
RUNS = dg.AssetKey(["marts", "calibration_runs"])
STUDIES = dg.AssetKey(["marts", "calibration_studies"])
CALIBRATION = dg.AssetKey(["marts", "estimator_calibration"])
DETECTABLE = dg.AssetKey(["marts", "detectable_effects"])
DILUTION = dg.AssetKey(["marts", "did_dilution"])
RESULTS = dg.AssetKey(["marts", "did_results"])

# Every p-value of calibration_studies as (kind, p) rows, for the recount below.
_LONG = " UNION ALL ".join(
    f"SELECT design, method, outcome, '{kind}' AS p_value_kind, pre_period_noise, {column} AS p "
    f"FROM marts.calibration_studies WHERE {column} IS NOT NULL" for kind, column in P_VALUE_COLUMNS.items())


# The first screen's family-wise rows: per placebo study in which the pre-specified specification (ols_with_covariate
# where the design has it, else ols; re-selected placebo p) and every FIRST_SCREEN_METHODS method (placebo p) have
# a p-value, the smallest of them (the specification's row gives the study's pre-period noise).
_MEMBERS = ", ".join(f"'{m}'" for m in FIRST_SCREEN_METHODS)
_FIRST_SCREEN_RECOUNT = f"""
    (WITH main AS (
        SELECT design, CASE WHEN bool_or(method = 'ols_with_covariate') THEN 'ols_with_covariate' ELSE 'ols' END AS m
        FROM marts.calibration_studies GROUP BY design),
    member AS (
        SELECT s.design, s.unit_code, s.first_post_year, s.outcome, s.method = main.m AS is_main, s.pre_period_noise,
               CASE WHEN s.method = main.m THEN s.reselected_p_value ELSE s.permutation_p_value END AS p
        FROM marts.calibration_studies AS s JOIN main USING (design)
        WHERE s.method = main.m OR s.method IN ({_MEMBERS})),
    family AS (
        SELECT design, outcome, max(pre_period_noise) FILTER (WHERE is_main) AS pre_period_noise, min(p) AS p
        FROM member WHERE p IS NOT NULL GROUP BY design, unit_code, first_post_year, outcome
        HAVING count(*) = {1 + len(FIRST_SCREEN_METHODS)}),
    recount AS (
        SELECT c.design, c.outcome, c.noise_band, c.alpha, count(f.p) AS n,
               count(f.p) FILTER (WHERE f.p <= c.alpha) AS r
        FROM marts.estimator_calibration AS c
        LEFT JOIN family AS f ON f.design = c.design AND f.outcome = c.outcome
            AND (c.noise_from IS NULL OR f.pre_period_noise > c.noise_from)
            AND (c.noise_to IS NULL OR f.pre_period_noise <= c.noise_to)
        WHERE c.p_value_kind = '{FIRST_SCREEN_KIND}' GROUP BY ALL)
    SELECT c.method, c.outcome, c.p_value_kind, c.noise_band, c.alpha, c.n_placebo_studies, rc.n, c.rejections,
           rc.r, c.rejection_rate, c.calibrated
    FROM marts.estimator_calibration AS c JOIN recount AS rc USING (design, outcome, noise_band, alpha)
    WHERE c.p_value_kind = '{FIRST_SCREEN_KIND}' AND (c.method <> '{FIRST_SCREEN_FAMILY}'
       OR c.n_placebo_studies <> rc.n OR c.rejections <> rc.r OR abs(c.rejection_rate - rc.r / rc.n) > {TOLERANCE}
       OR NOT (c.rejection_rate_ci_low <= c.rejection_rate AND c.rejection_rate <= c.rejection_rate_ci_high)
       OR c.calibrated <> (c.rejection_rate_ci_low <= c.alpha))
    UNION ALL
    -- placebo studies with every first-screen p-value but no family-wise row for their design and outcome
    SELECT DISTINCT '{FIRST_SCREEN_FAMILY}', f.outcome, '{FIRST_SCREEN_KIND}', 'all', NULL, NULL, NULL, NULL, NULL,
           NULL, NULL
    FROM family AS f ANTI JOIN (SELECT * FROM marts.estimator_calibration
                                WHERE noise_band = 'all' AND p_value_kind = '{FIRST_SCREEN_KIND}') AS c
        USING (design, outcome))"""


@dg.asset_check(asset=CALIBRATION, blocking=True,
                description="Every rejection rate recounts from marts.calibration_studies (placebo studies and "
                            "rejections per design, method, outcome, p-value kind, noise band and alpha, the band's "
                            "bounds applied to each study's pre-period noise); rate = rejections / "
                            "studies inside its interval; calibrated exactly when the interval's low end <= alpha. "
                            "The first screen's family-wise rows recount from the smallest of its five p-values.")
def estimator_calibration_recomputes(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        offending = con.execute(f"""
            WITH long AS ({_LONG}),
            recount AS (
                SELECT c.design, c.method, c.outcome, c.p_value_kind, c.noise_band, c.alpha,
                       count(l.p) AS n, count(l.p) FILTER (WHERE l.p <= c.alpha) AS r
                FROM marts.estimator_calibration AS c
                LEFT JOIN long AS l ON l.design = c.design AND l.method = c.method AND l.outcome = c.outcome
                    AND l.p_value_kind = c.p_value_kind
                    AND (c.noise_from IS NULL OR l.pre_period_noise > c.noise_from)
                    AND (c.noise_to IS NULL OR l.pre_period_noise <= c.noise_to)
                GROUP BY ALL)
            SELECT c.method, c.outcome, c.p_value_kind, c.noise_band, c.alpha, c.n_placebo_studies,
                   rc.n AS recounted_studies, c.rejections, rc.r AS recounted_rejections, c.rejection_rate, c.calibrated
            FROM marts.estimator_calibration AS c
            JOIN recount AS rc USING (design, method, outcome, p_value_kind, noise_band, alpha)
            -- the first screen's family-wise rows recount from the smallest of several methods' p-values (below)
            WHERE c.p_value_kind <> '{FIRST_SCREEN_KIND}' AND (c.n_placebo_studies <> rc.n OR c.rejections <> rc.r
               OR abs(c.rejection_rate - rc.r / rc.n) > {TOLERANCE}
               OR NOT (c.rejection_rate_ci_low <= c.rejection_rate AND c.rejection_rate <= c.rejection_rate_ci_high)
               OR c.rejection_rate_ci_low < 0 OR c.rejection_rate_ci_high > 1
               OR c.calibrated <> (c.rejection_rate_ci_low <= c.alpha))
            UNION ALL
            -- a method, outcome and kind the studies hold but the calibration leaves out
            SELECT DISTINCT l.method, l.outcome, l.p_value_kind, 'all', NULL, NULL, NULL, NULL, NULL, NULL, NULL
            FROM long AS l ANTI JOIN (SELECT * FROM marts.estimator_calibration WHERE noise_band = 'all') AS c
                USING (design, method, outcome, p_value_kind)
            UNION ALL
            {_FIRST_SCREEN_RECOUNT}
            """).df()
    return rows_result(offending, "rejection rates that do not recount from marts.calibration_studies")


@dg.asset_check(asset=RUNS, blocking=True,
                description="One row per outcome, and each says what the studies loaded beside it are: its vintage, "
                            "its studies and placebo studies (authorities x start years x designs, recounted from "
                            "marts.detectable_effects, which holds every study), its start years and its methods; "
                            "no outcome has studies without a run or a run without studies.")
def calibration_runs_describe_the_studies(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        offending = con.execute("""
            WITH recount AS (
                SELECT outcome, string_agg(DISTINCT vintage, ', ') AS vintages,
                       count(DISTINCT (unit_code, first_post_year, design)) AS studies,
                       count(DISTINCT (unit_code, first_post_year, design))
                           FILTER (WHERE NOT ran_listed_programme) AS placebo_studies,
                       list_sort(list(DISTINCT first_post_year)) AS start_years,
                       list_sort(list(DISTINCT method)) AS methods
                FROM marts.detectable_effects GROUP BY outcome),
            runs AS (
                SELECT *, count(*) OVER (PARTITION BY outcome) AS rows_of_outcome,
                       list_sort(list_transform(string_split(start_years, ', '), lambda y: y::INTEGER)) AS run_years,
                       list_sort(string_split(methods, ', ')) AS run_methods
                FROM marts.calibration_runs)
            SELECT coalesce(r.outcome, c.outcome) AS outcome, r.vintage, c.vintages AS studies_vintage,
                   r.n_studies, c.studies AS recounted_studies, r.n_placebo_studies,
                   c.placebo_studies AS recounted_placebo_studies, r.start_years, r.methods, r.rows_of_outcome
            FROM runs AS r FULL JOIN recount AS c USING (outcome)
            WHERE r.outcome IS NULL OR c.outcome IS NULL OR r.rows_of_outcome > 1
               OR r.vintage IS DISTINCT FROM c.vintages OR r.n_studies <> c.studies
               OR r.n_placebo_studies <> c.placebo_studies OR r.run_years <> c.start_years
               OR r.run_methods <> c.methods""").df()
    return rows_result(offending, "calibration runs that do not describe the studies loaded beside them")


@dg.asset_check(asset=STUDIES, blocking=True,
                description="One row per design, authority, start year, outcome and method; every p-value in [0, 1].")
def calibration_studies_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    bad_p = " OR ".join(f"NOT ({c} BETWEEN 0 AND 1)" for c in P_VALUE_COLUMNS.values())
    with duckdb.get_connection() as con:
        offending = con.execute(f"""
            SELECT design, unit_code, first_post_year, outcome, method, count(*) AS n_rows,
                   bool_or({bad_p}) AS p_out_of_range
            FROM marts.calibration_studies GROUP BY ALL
            HAVING count(*) > 1 OR bool_or({bad_p})""").df()
    return rows_result(offending, "duplicated placebo studies or p-values outside [0, 1]")


@dg.asset_check(asset=DETECTABLE, blocking=True,
                description="One row per design, authority, start year, outcome and method; the detectable effect is "
                            "positive, present exactly when a 5% placebo test can reject (19 placebos or more), and "
                            "mde_normal is 2.80 placebo standard deviations.")
def detectable_effects_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        frame = con.execute("SELECT * FROM marts.detectable_effects").df()
    key = ["design", "unit_code", "first_post_year", "outcome", "method"]
    duplicated = frame[frame.duplicated(key, keep=False)].assign(problem="duplicated")
    can_reject = frame["n_placebos"].fillna(0) >= 19
    wrong = frame[(frame["mde"].notna() != can_reject) | (frame["mde"] < 0)].assign(problem="mde")
    # (z_{1-alpha/2} + z_power), 2.80 at 5% and 80%, worked out here rather than by power.normal_mde, the code
    # this check guards (and with the standard library's normal quantiles: a refresh need not import scipy.stats).
    factor = NormalDist().inv_cdf(1 - ALPHA / 2) + NormalDist().inv_cdf(POWER)
    normal = frame[(frame["mde_normal"] - factor * frame["placebo_sd"]).abs() > 1e-6 * frame["placebo_sd"].abs()
                   ].assign(problem="mde_normal")
    offending = pd.concat([duplicated, wrong, normal])
    return rows_result(offending[[*key, "mde", "mde_normal", "placebo_sd", "n_placebos", "problem"]] if len(offending)
                       else offending, "detectable effects that are duplicated, negative or inconsistent")


@dg.asset_check(asset=RESULTS, blocking=True,
                description="Where did_results says whether a row's p-value is calibrated, marts.estimator_calibration "
                            "says the same at alpha 0.05 (same method, outcome, p-value kind and noise band, same "
                            "rate).")
def did_results_calibration_agrees(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        offending = con.execute("""
            SELECT d.study_id, d.vintage, d.outcome, d.method, d.calibration_p_value_kind, d.inference_calibrated,
                   d.calibrated_rejection_rate
            FROM marts.did_results AS d
            WHERE d.inference_calibrated IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM marts.estimator_calibration AS c
                WHERE c.method = d.method AND c.outcome = d.outcome AND c.p_value_kind = d.calibration_p_value_kind
                  AND c.noise_band = d.calibration_noise_band
                  AND abs(c.alpha - 0.05) < 1e-9 AND c.calibrated = d.inference_calibrated
                  AND abs(c.rejection_rate - d.calibrated_rejection_rate) < 1e-12)""").df()
    return rows_result(offending, "did_results rows whose calibration no marts.estimator_calibration row backs")


@dg.asset_check(asset=DILUTION, blocking=True,
                description="Each study's dilution recomputes: the treated authority's mean post-period population "
                            "from marts.cin_rates_vintages, and reach x effect / population x 10,000.")
def did_dilution_recomputes(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    studies = {e.study.study_id: e for e in configured_studies()}
    with duckdb.get_connection() as con:
        published = con.execute("SELECT * FROM marts.did_dilution").df()
        rates = con.execute("SELECT vintage, panel_unit_code, collection_year, population_all_ages, population_0_17 "
                            "FROM marts.cin_rates_vintages WHERE geographic_level = 'Local authority'").df()
    mismatches = []
    for row in published.itertuples():
        entry = studies.get(row.study_id)
        if entry is None or entry.reach is None:
            mismatches.append({"study_id": row.study_id, "outcome": row.outcome, "problem": "no reach configured"})
            continue
        chosen = rates[(rates.vintage == row.vintage) & (rates.panel_unit_code == row.treated_unit_code)
                       & rates.collection_year.isin(entry.study.post_years)]
        population = chosen.groupby("collection_year")[row.population_column].sum().mean()
        implied = entry.reach.per_year * entry.reach.plausible_effect / population * 10_000
        largest = entry.reach.per_year / population * 10_000
        if not (abs(population - row.population) <= 1e-6 * population
                and abs(implied - row.implied_effect) <= TOLERANCE and abs(largest - row.largest_effect) <= TOLERANCE):
            mismatches.append({"study_id": row.study_id, "vintage": row.vintage, "outcome": row.outcome,
                               "published": row.implied_effect, "recomputed": implied})
    return rows_result(pd.DataFrame(mismatches), "dilution rows that do not recompute")
