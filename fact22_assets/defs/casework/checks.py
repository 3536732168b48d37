"""Checks on the casework tables: the census returns obey DfE's rules, trial files and cases are whole and in
their arms, one data_origin per trial, each mart's own invariants hold, the census reconciles with what DfE
published, and no published count small enough to identify a child or family can be worked out, in one mart or
across them.

Failing rows are described by where they sit (file and line, a trial's list row, or a mart's row labels), never
by a case's values or a withheld count."""
import hashlib
import pickle
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core.casework import disclosure, rct
from fact22_assets.core.casework.schemas import DATA_ORIGINS
from fact22_assets.core.casework.suppression import SUPPRESSED
from fact22_assets.core.census import rules
from fact22_assets.core.validation import Expectation as E
from fact22_assets.glue.checks import gx_result, rows_result
from fact22_assets.glue.trials import trials

from .assets import (
    CENSUS_KEYS,
    CENSUS_TABLES,
    MART_KEYS,
    PUBLISHED_COUNTS,
    RANDOMISATION_KEY,
    RECONCILIATION,
    RISK_NOTES_KEY,
    RISK_SCORES_KEY,
    SERVICE_MI_KEY,
    STATUS,
    TRIAL_CASES_KEY,
    build_marts,
    trial_frames,
)

RESTRICTED_LOCATOR = ["trial_id", "source_row"]
SMALL_COUNTS = [1, 2, 3, 4, 5]
TOLERANCE = 1e-9

# Row labels of each mart: enough to find a failing row, nothing withheld.
MART_LOCATORS = {table: list(spec.labels) for table, spec in disclosure.SPECS.items()}


def _origin_suite(per_trial: bool = True) -> list[E]:
    """data_origin present and known; one per trial: synthetic and council rows are never pooled."""
    suite = [E("ExpectColumnValuesToNotBeNull", column="data_origin"),
             E("ExpectColumnValuesToBeInSet", column="data_origin", value_set=list(DATA_ORIGINS))]
    if per_trial:
        suite.append(E("ExpectColumnValuesToBeInSet", column="one_origin_per_trial", value_set=[True]))
    return suite


def _with_origin_per_trial(frame: pd.DataFrame, by: str = "trial_id") -> pd.DataFrame:
    if not len(frame):
        return frame.assign(one_origin_per_trial=pd.Series(dtype=bool))
    return frame.assign(one_origin_per_trial=frame.groupby(by)["data_origin"].transform("nunique").le(1).to_numpy())


def _restricted(restricted_duckdb: DuckDBResource, table: str) -> pd.DataFrame:
    with restricted_duckdb.get_connection() as con:
        return con.execute(f"SELECT * FROM {table}").df()


def _mart(duckdb: DuckDBResource, table: str) -> pd.DataFrame:
    with duckdb.get_connection() as con:
        return con.execute(f"SELECT * FROM {table}").df()


# --- restricted: the census returns --------------------------------------------------------------------------


@dg.asset_check(asset=CENSUS_KEYS["episodes"], blocking=True,
                additional_deps=[CENSUS_KEYS[n] for n in ("children", "assessments", "cin_plans", "cp_plans")],
                description="Every return stored obeys the DfE validation rules of core/census/rules.py (a closure "
                            "before its referral, a plan before its referral, a child repeated, a closure without a "
                            "reason, overlapping or twice-open episodes, ...), return by return.")
def census_returns_follow_dfe_rules(restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    tables = {name: _restricted(restricted_duckdb, table) for name, table in CENSUS_TABLES.items()}
    found = []
    returns = tables["episodes"][["authority_code", "collection_year"]].drop_duplicates()
    for authority, year in returns.itertuples(index=False):
        one = {name: frame[(frame["authority_code"] == authority) & (frame["collection_year"] == year)]
               for name, frame in tables.items() if len(frame.columns)}
        hits = rules.violations(one, int(year))
        if len(hits):
            found.append(hits.assign(authority_code=authority, collection_year=int(year)))
    offending = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    if len(offending):
        offending = offending[["rule", "message", "source_file", "source_line", "child_key", "element"]]
    return rows_result(offending, "rows breaking a DfE census rule")


@dg.asset_check(asset=CENSUS_KEYS["children"], blocking=True,
                description="One row per child per return, a known data_origin, and every stored child has an "
                            "episode in its return.")
def census_children_one_per_return(restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    children = _restricted(restricted_duckdb, CENSUS_TABLES["children"])
    episodes = _restricted(restricted_duckdb, CENSUS_TABLES["episodes"])
    keys = ["authority_code", "collection_year", "child_key"]
    with_episode = set(map(tuple, episodes[keys].to_numpy())) if len(episodes) else set()
    children["has_episode"] = [tuple(k) in with_episode for k in children[keys].to_numpy()]
    return gx_result(children, [
        E("ExpectCompoundColumnsToBeUnique", column_list=keys),
        E("ExpectColumnValuesToBeInSet", column="has_episode", value_set=[True]),
        *_origin_suite(per_trial=False),
    ], CENSUS_TABLES["children"], ["source_file", "source_line"])


# --- restricted: the trials' own files ---------------------------------------------------------------------------


def _arm_known(frame: pd.DataFrame) -> pd.Series:
    arms = {t.trial_id: set(t.arms) for t in trials()}
    return pd.Series([arm in arms.get(trial_id, ()) for trial_id, arm in zip(frame["trial_id"], frame["arm"])],
                     index=frame.index, dtype=bool)


@dg.asset_check(asset=RANDOMISATION_KEY, blocking=True,
                description="One row per randomised child per trial, every child in one of its trial's two arms "
                            "(data/trials.yaml), one data_origin per trial.")
def restricted_randomisation_valid(restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    frame = _restricted(restricted_duckdb, "restricted.randomisation")
    frame["arm_of_its_trial"] = _arm_known(frame)
    return gx_result(_with_origin_per_trial(frame), [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "child_key"]),
        E("ExpectColumnValuesToBeInSet", column="arm_of_its_trial", value_set=[True]),
        *_origin_suite(),
    ], "restricted.randomisation", RESTRICTED_LOCATOR)


@dg.asset_check(asset=TRIAL_CASES_KEY, blocking=True, additional_deps=[RANDOMISATION_KEY],
                description="One case per randomised child of each trial; outcomes 0, 1 or unknown; closure and "
                            "re-referral known together; a case length only for a case with a known outcome and no "
                            "escalation, never negative; one data_origin per trial.")
def restricted_trial_cases_valid(restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    cases = _restricted(restricted_duckdb, "restricted.trial_cases")
    listed = _restricted(restricted_duckdb, "restricted.randomisation")[["trial_id", "child_key"]]
    merged = listed.merge(cases[["trial_id", "child_key"]].assign(has_case=True), how="outer",
                          on=["trial_id", "child_key"], indicator=True)
    cases = cases.merge(merged[["trial_id", "child_key", "_merge"]], on=["trial_id", "child_key"], how="outer")
    cases["listed_and_cased"] = cases["_merge"] == "both"
    cases["known_together"] = cases["closed"].isna() == cases["rereferred"].isna()
    length = cases["case_length_days"]
    cases["length_where_measured"] = length.isna() | ((length >= 0) & (cases["escalated"] == 0)
                                                     & cases["closed"].notna())
    expectations = [E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "child_key"])]
    for column in ("listed_and_cased", "known_together", "length_where_measured"):
        expectations.append(E("ExpectColumnValuesToBeInSet", column=column, value_set=[True]))
    for outcome in ("closed", "rereferred", "escalated"):
        expectations.append(E("ExpectColumnValuesToBeInSet", column=outcome, value_set=[0, 1]))
    return gx_result(_with_origin_per_trial(cases.drop(columns="_merge")), expectations + _origin_suite(),
                     "restricted.trial_cases", ["trial_id", "arm", "randomised_on"])


@dg.asset_check(asset=RISK_NOTES_KEY, blocking=True, additional_deps=[RANDOMISATION_KEY],
                description="One row per trial, case and coding point; every coded case a randomised child of its "
                            "trial, in the arm it was randomised to; one data_origin per trial.")
def restricted_risk_notes_valid(restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    notes = _restricted(restricted_duckdb, "restricted.risk_notes")
    listed = _restricted(restricted_duckdb, "restricted.randomisation")
    arm_of = dict(zip(zip(listed["trial_id"], listed["child_key"]), listed["arm"]))
    notes["randomised_to_this_arm"] = [arm_of.get((t, c)) == a for t, c, a in
                                       zip(notes["trial_id"], notes["case_key"], notes["arm"])]
    return gx_result(_with_origin_per_trial(notes), [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "case_key", "time_point"]),
        E("ExpectColumnValuesToBeInSet", column="randomised_to_this_arm", value_set=[True]),
        *_origin_suite(),
    ], "restricted.risk_notes", RESTRICTED_LOCATOR)


@dg.asset_check(asset=RISK_SCORES_KEY, blocking=True,
                description="One score per trial, case and coding point, arm of the trial, total = engagement + "
                            "protective + risk, one data_origin per trial.")
def restricted_risk_scores_valid(restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    frame = _restricted(restricted_duckdb, "restricted.risk_scores")
    frame["total_is_sum"] = frame["total_score"] == (
        frame["engagement_score"] + frame["protective_score"] + frame["risk_score"])
    frame["arm_of_its_trial"] = _arm_known(frame)
    return gx_result(_with_origin_per_trial(frame), [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "case_key", "time_point"]),
        E("ExpectColumnValuesToBeInSet", column="arm_of_its_trial", value_set=[True]),
        E("ExpectColumnValuesToNotBeNull", column="total_score"),
        E("ExpectColumnValuesToBeInSet", column="total_is_sum", value_set=[True]),
        *_origin_suite(),
    ], "restricted.risk_scores", ["trial_id", "source_row", "time_point"])


@dg.asset_check(asset=SERVICE_MI_KEY, blocking=True,
                description="One row per trial and family served, an outcome for each, one data_origin per trial.")
def restricted_service_mi_valid(restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return gx_result(_with_origin_per_trial(_restricted(restricted_duckdb, "restricted.service_mi")), [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "family_id"]),
        E("ExpectColumnValuesToNotBeNull", column="outcome"),
        *_origin_suite(),
    ], "restricted.service_mi", RESTRICTED_LOCATOR)


# --- marts: each one's own invariants ------------------------------------------------------------------------------


def _close(a: pd.Series, b: pd.Series) -> pd.Series:
    """Equal within rounding, or either side withheld (NULL)."""
    a, b = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
    return (a.isna() | b.isna() | ((a - b).abs() <= TOLERANCE * np.maximum(1, b.abs()))).astype(bool)


def _expected_rows(frame: pd.DataFrame) -> pd.Series:
    """Each trial's rows: analyses x outcomes, plus 2 levels per subgroup x outcomes."""
    found = frame.groupby("trial_id").size()
    expected = {t.trial_id: len(t.binary_outcomes) * (len(rct.ANALYSES) + 2 * len(t.subgroups)) for t in trials()}
    return frame["trial_id"].map(lambda t: found.get(t) == expected.get(t))


@dg.asset_check(asset=MART_KEYS["marts.rct_results"], blocking=True,
                description="One row per trial, analysis, subgroup and outcome (every configured one), status "
                            "'estimated' or 'too_few_events', every row with a p-value in [0, 1] (or, for too few "
                            "events, withheld with its withheld count), rates in [0, 1], effects in [-1, 1].")
def rct_results_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    expectations = [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "analysis", "subgroup", "outcome"]),
        E("ExpectColumnValuesToBeInSet", column="rows_per_trial_as_configured", value_set=[True]),
        E("ExpectColumnValuesToBeInSet", column="status", value_set=["estimated", "too_few_events"]),
        # a Fisher p-value that would single out a withheld count is withheld too (NULL)
        E("ExpectColumnValuesToBeInSet", column="p_value_present_or_withheld", value_set=[True]),
        E("ExpectColumnValuesToBeBetween", column="p_value", min_value=0, max_value=1),
        E("ExpectColumnValuesToBeBetween", column="p_value_log_odds", min_value=0, max_value=1),
        E("ExpectColumnValuesToBeBetween", column="effect_rate_diff", min_value=-1, max_value=1),
    ]
    for rate in ("treated_rate_observed", "control_rate_observed", "control_rate_if_treated"):
        expectations.append(E("ExpectColumnValuesToBeBetween", column=rate, min_value=0, max_value=1))
    frame = _mart(duckdb, "marts.rct_results")
    frame["rows_per_trial_as_configured"] = _expected_rows(frame)
    frame["p_value_present_or_withheld"] = frame["p_value"].notna() | (
        (frame["status"] == "too_few_events")
        & ((frame["events_treated_status"] == SUPPRESSED) | (frame["events_control_status"] == SUPPRESSED)))
    return gx_result(frame, expectations, "marts.rct_results", ["trial_id", "analysis", "subgroup", "outcome"])


def _below_threshold(restricted_duckdb: DuckDBResource) -> pd.DataFrame:
    """trial_id, analysis, subgroup, outcome, below_threshold, recounted from the case rows: the events a model
    would use (the rarer outcome value, complete cases on the covariates) are fewer than the trial's threshold in
    all or in an arm."""
    cases = _restricted(restricted_duckdb, "restricted.trial_cases")
    rows = []
    for trial in trials():
        mine = cases[cases["trial_id"] == trial.trial_id]
        samples = [(a, rct.ALL, rct.analysis_sample(mine, a), None) for a in rct.ANALYSES]
        samples += [("itt", label, sample, v) for label, sample, v in rct.subgroup_samples(mine, trial.subgroups)]
        for analysis, subgroup, sample, variable in samples:
            controls = [c for c in trial.covariates if c != variable]
            for outcome in trial.binary_outcomes:
                data = sample[[outcome, rct.TREATED, *controls]].dropna().astype(int)
                arms = [data[data[rct.TREATED] == flag][outcome] for flag in (1, 0)]
                rarer = [min(int(a.sum()), len(a) - int(a.sum())) for a in arms]
                events = int(data[outcome].sum())
                rows.append({"trial_id": trial.trial_id, "analysis": analysis, "subgroup": subgroup, "outcome": outcome,
                             "below_threshold": min(events, len(data) - events) < trial.min_events_total
                             or min(rarer) < trial.min_events_per_arm})
    return pd.DataFrame(rows, columns=["trial_id", "analysis", "subgroup", "outcome", "below_threshold"])


@dg.asset_check(asset=MART_KEYS["marts.rct_results"], blocking=True, additional_deps=[TRIAL_CASES_KEY],
                description="Recounted from the case rows: every trial, analysis, subgroup and outcome with fewer than "
                            "the trial's events in all (10) or in an arm (5) - RR1067's 4 escalations - is published as "
                            "'too_few_events', never as a model estimate.")
def rct_results_too_few_events_flagged(duckdb: DuckDBResource,
                                       restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    keys = ["trial_id", "analysis", "subgroup", "outcome"]
    published = _mart(duckdb, "marts.rct_results")[[*keys, "status"]]
    expected = _below_threshold(restricted_duckdb).merge(published, on=keys, how="left")
    below = expected[expected["below_threshold"]].reset_index(drop=True)
    result = gx_result(below, [
        E("ExpectColumnValuesToNotBeNull", column="status"),
        E("ExpectColumnValuesToBeInSet", column="status", value_set=["too_few_events"]),
    ], "marts.rct_results too few events", [*keys, "status"])
    listed = ", ".join(f"{r.trial_id}/{r.analysis}/{r.subgroup}/{r.outcome}" for r in below.itertuples()) or "none"
    return dg.AssetCheckResult(passed=result.passed, severity=result.severity, description=result.description,
                               metadata={**result.metadata, "below_threshold": dg.MetadataValue.text(listed)})


@dg.asset_check(asset=MART_KEYS["marts.rct_balance"], blocking=True,
                description="Each published share is its count over its n; no count above its n; p-values in [0, 1]; "
                            "one row per trial, analysis and characteristic.")
def rct_balance_shares_follow_counts(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    frame = _mart(duckdb, "marts.rct_balance")
    for arm in ("treated", "control"):
        count, n = frame[f"count_{arm}"].astype("Float64"), frame[f"n_{arm}"].astype("Float64")
        frame[f"share_{arm}_is_count_over_n"] = _close(frame[f"share_{arm}"], count / n)
        frame[f"count_{arm}_within_n"] = (count.isna() | n.isna() | (count <= n)).astype(bool)
    checks = [c for c in frame.columns if c.endswith(("_is_count_over_n", "_within_n"))]
    return gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "analysis", "characteristic"]),
        *(E("ExpectColumnValuesToBeInSet", column=c, value_set=[True]) for c in checks),
        E("ExpectColumnValuesToBeBetween", column="p_value", min_value=0, max_value=1),
    ], "marts.rct_balance", MART_LOCATORS["marts.rct_balance"])


@dg.asset_check(asset=MART_KEYS["marts.rct_minimum_detectable_effects"], blocking=True,
                description="The detectable rates bracket the control group's rate (below <= base <= above) and each "
                            "minimum detectable effect is its distance from the base rate; alpha 0.05 and power 0.8.")
def rct_minimum_detectable_effects_bracket_the_base(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    frame = _mart(duckdb, "marts.rct_minimum_detectable_effects")
    base, below, above = frame["control_base_rate"], frame["detectable_rate_below"], frame["detectable_rate_above"]
    frame["below_le_base_le_above"] = ((below.isna() | (below <= base)) & (above.isna() | (above >= base))).astype(bool)
    frame["mde_below_is_distance"] = _close(frame["mde_below"], base - below)
    frame["mde_above_is_distance"] = _close(frame["mde_above"], above - base)
    return gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "outcome"]),
        *(E("ExpectColumnValuesToBeInSet", column=c, value_set=[True])
          for c in ("below_le_base_le_above", "mde_below_is_distance", "mde_above_is_distance")),
        E("ExpectColumnValuesToBeInSet", column="alpha", value_set=[0.05]),
        E("ExpectColumnValuesToBeInSet", column="power", value_set=[0.8]),
    ], "marts.rct_minimum_detectable_effects", MART_LOCATORS["marts.rct_minimum_detectable_effects"])


@dg.asset_check(asset=MART_KEYS["marts.case_length_tobit"], blocking=True,
                description="Each trial that models case length has one row per term (const, treated, its covariates, "
                            "sigma); every interval holds its estimate; sigma is positive; the fit converged.")
def case_length_tobit_terms_and_intervals(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    frame = _mart(duckdb, "marts.case_length_tobit")
    terms = {t.trial_id: ["const", rct.TREATED, *t.covariates, "sigma"] for t in trials() if t.models_case_length}
    frame["terms_as_configured"] = frame["trial_id"].map(
        lambda t: sorted(frame.loc[frame["trial_id"] == t, "term"]) == sorted(terms.get(t, [])))
    frame["interval_holds_estimate"] = ((frame["ci_low"] <= frame["estimate"]) & (frame["estimate"] <= frame["ci_high"]))
    frame["sigma_positive"] = (frame["term"] != "sigma") | (frame["estimate"] > 0)
    return gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "term"]),
        *(E("ExpectColumnValuesToBeInSet", column=c, value_set=[True])
          for c in ("terms_as_configured", "interval_holds_estimate", "sigma_positive", "converged")),
    ], "marts.case_length_tobit", MART_LOCATORS["marts.case_length_tobit"])


@dg.asset_check(asset=MART_KEYS["marts.risk_scores_by_arm"], blocking=True,
                description="The mean total is the sum of the mean engagement, protective and risk scores; one row per "
                            "trial, arm and coding point.")
def risk_scores_by_arm_total_is_sum(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    frame = _mart(duckdb, "marts.risk_scores_by_arm")
    frame["mean_total_is_sum"] = _close(frame["mean_total_score"], frame["mean_engagement_score"]
                                        + frame["mean_protective_score"] + frame["mean_risk_score"])
    return gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "arm", "time_point"]),
        E("ExpectColumnValuesToBeInSet", column="mean_total_is_sum", value_set=[True]),
    ], "marts.risk_scores_by_arm", MART_LOCATORS["marts.risk_scores_by_arm"])


@dg.asset_check(asset=MART_KEYS["marts.risk_score_changes"], blocking=True,
                description="The mean change is the mean total at the later point less at the earlier (the same "
                            "cases); p-values in [0, 1].")
def risk_score_changes_change_is_difference(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    frame = _mart(duckdb, "marts.risk_score_changes")
    frame["change_is_to_less_from"] = _close(frame["mean_change"], frame["mean_total_to"] - frame["mean_total_from"])
    return gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "from_time_point", "to_time_point", "arm"]),
        E("ExpectColumnValuesToBeInSet", column="change_is_to_less_from", value_set=[True]),
        E("ExpectColumnValuesToBeBetween", column="p_value_paired", min_value=0, max_value=1),
    ], "marts.risk_score_changes", MART_LOCATORS["marts.risk_score_changes"])


@dg.asset_check(asset=MART_KEYS["marts.service_summary"], blocking=True,
                description="Each published share is n_families over n_total; the published locations (and outcomes) "
                            "never add to more than the families served; escalated = to CP + to LAC where all three "
                            "are published.")
def service_summary_shares_follow_counts(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    frame = _mart(duckdb, "marts.service_summary")
    frame["share_is_count_over_total"] = _close(frame["share"], frame["n_families"].astype("Float64")
                                                / frame["n_total"].astype("Float64"))
    sums = frame[frame["measure"].isin(["location", "outcome"])].groupby(["trial_id", "measure"])["n_families"].sum()
    totals = frame.groupby("trial_id")["n_total"].max()
    frame["parts_within_total"] = [sums.get((t, m), 0) <= totals.get(t, 0) if m in ("location", "outcome") else True
                                   for t, m in zip(frame["trial_id"], frame["measure"])]
    escalated = frame[frame["measure"] == "escalated"].set_index("trial_id")["n_families"]
    parts = frame[frame["category"].isin(["escalated_cp", "escalated_lac"])].groupby("trial_id")["n_families"].agg(
        lambda v: v.sum(min_count=2))
    frame["escalated_is_cp_plus_lac"] = [
        m != "escalated" or pd.isna(escalated.get(t)) or pd.isna(parts.get(t)) or escalated.get(t) == parts.get(t)
        for t, m in zip(frame["trial_id"], frame["measure"])]
    return gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "measure", "category"]),
        *(E("ExpectColumnValuesToBeInSet", column=c, value_set=[True])
          for c in ("share_is_count_over_total", "parts_within_total", "escalated_is_cp_plus_lac")),
    ], "marts.service_summary", MART_LOCATORS["marts.service_summary"])


@dg.asset_check(asset=MART_KEYS["marts.service_case_length_by_year"], blocking=True,
                description="Cases started = ended + still open, and closed <= ended, wherever the counts are "
                            "published; one row per trial and start year.")
def service_case_length_by_year_started_is_ended_plus_open(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    frame = _mart(duckdb, "marts.service_case_length_by_year")
    started, ended, still, closed = (frame[c].astype("Float64") for c in ("n_started", "n_ended", "n_open", "n_closed"))
    frame["started_is_ended_plus_open"] = (started.isna() | ended.isna() | still.isna()
                                           | (started == ended + still)).astype(bool)
    frame["closed_within_ended"] = (closed.isna() | ended.isna() | (closed <= ended)).astype(bool)
    return gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["trial_id", "start_year"]),
        *(E("ExpectColumnValuesToBeInSet", column=c, value_set=[True])
          for c in ("started_is_ended_plus_open", "closed_within_ended")),
    ], "marts.service_case_length_by_year", MART_LOCATORS["marts.service_case_length_by_year"])


RECONCILIATION_KEY = dg.AssetKey(RECONCILIATION.split("."))


@dg.asset_check(asset=RECONCILIATION_KEY, blocking=True,
                description="The council's census totals reconcile with what DfE published for the authority: no row "
                            "outside its tolerance (a suppressed or unpublished figure is not comparable and passes), "
                            "the difference is census less published, and every reconciled year of every trial is "
                            "there. A return that does not reconcile is refused: nothing is published.")
def census_reconciles_with_published(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    frame = _mart(duckdb, RECONCILIATION)
    frame["not_outside_tolerance"] = frame["within_tolerance"].fillna(True).astype(bool)
    # recomputed, not taken from the mart: |census - published| <= tolerance wherever both are numbers
    census, published = frame["census_value"].astype("Float64"), frame["published_value"].astype("Float64")
    gap = (census - published).abs()
    frame["difference_within_tolerance"] = (gap.isna() | frame["within_tolerance"].isna()
                                            | (gap <= frame["tolerance"])).astype(bool)
    frame["difference_is_census_less_published"] = _close(frame["difference"], frame["census_value"].astype("Float64")
                                                          - frame["published_value"])
    wanted = {(t.authority_code, y) for t in trials() for y in t.reconcile_years}
    present = set(zip(frame["authority_code"], frame["collection_year"]))
    missing = sorted(wanted - present)
    result = gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["authority_code", "collection_year", "measure"]),
        E("ExpectColumnValuesToBeInSet", column="not_outside_tolerance", value_set=[True]),
        E("ExpectColumnValuesToBeInSet", column="difference_within_tolerance", value_set=[True]),
        E("ExpectColumnValuesToBeInSet", column="difference_is_census_less_published", value_set=[True]),
        *_origin_suite(per_trial=False),
    ], RECONCILIATION, ["authority_code", "collection_year", "measure", "census_value", "published_value"])
    if missing and result.passed:
        return dg.AssetCheckResult(passed=False, description=f"no reconciliation for {missing[:5]}",
                                   metadata=result.metadata)
    return result


# --- marts: nothing small can be worked out -------------------------------------------------------------------------


def published_marts(duckdb: DuckDBResource) -> dict[str, pd.DataFrame]:
    """Every casework mart as an analyst reads it: what the disclosure attack works from."""
    with duckdb.get_connection() as con:
        present = {f"{schema}.{name}" for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
        return {table: con.execute(f"SELECT * FROM {table}").df() for table in disclosure.SPECS if table in present}


_BUILT: dict[tuple, tuple] = {}


def _restricted_state(restricted_duckdb: DuckDBResource) -> tuple:
    path = Path(restricted_duckdb.database)
    return (str(path), path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else (str(path),)


def _built_marts(restricted_duckdb: DuckDBResource) -> tuple[dict, dict]:
    """The unsuppressed marts and their members, rebuilt from the case rows once per state of the restricted file
    (every disclosure check of a run asks for the same)."""
    stamp = _restricted_state(restricted_duckdb)
    if stamp not in _BUILT:
        _BUILT.clear()
        _BUILT[stamp] = build_marts(trial_frames(restricted_duckdb))
    return _BUILT[stamp]


def populations_of(marts: dict[str, pd.DataFrame], restricted_duckdb: DuckDBResource) -> dict:
    """The members of every published count, recomputed from the case rows and placed on the published rows by
    their labels (the order a table is read back in is not trusted)."""
    built, populations = _built_marts(restricted_duckdb)
    placed = {}
    for table, frame in built.items():
        if table not in marts:
            continue
        labels = [c for c in disclosure.SPECS[table].labels if c in frame]
        published = {tuple(str(v) for v in row): i for i, row in enumerate(marts[table][labels].itertuples(index=False))}
        rows = [published.get(tuple(str(v) for v in row)) for row in frame[labels].itertuples(index=False)]
        for (t, r, c), population in populations.items():
            if t == table and rows[r] is not None:
                placed[(t, rows[r], c)] = population
    return placed


def recoverable_small_counts(marts: dict[str, pd.DataFrame], table: str, populations: dict | None = None
                             ) -> pd.DataFrame:
    """Findings of the attacks on all marts together (and, with ``populations``, across marts by the members of
    their counts) that work a count of 1 to 5 out of this mart."""
    findings = disclosure.attack(marts)
    if populations is not None:
        findings = pd.concat([findings, disclosure.attack_populations(marts, populations)], ignore_index=True)
    return _of_mart(findings, table)


def _of_mart(findings: pd.DataFrame, table: str) -> pd.DataFrame:
    return findings[(findings["mart"] == table) & findings["small"].astype(bool)].drop(columns="small").reset_index(
        drop=True)


def marts_content(marts: dict[str, pd.DataFrame]) -> str | None:
    """What the attacks read of the marts, as a key: every table pickled whole (columns, types, cells in row
    order) and hashed.  Equal keys are equal marts; equal marts pickled differently would only be attacked again.
    None when a mart cannot be pickled: then nothing is reused."""
    try:
        return hashlib.sha256(pickle.dumps(sorted(marts.items()), protocol=5)).hexdigest()
    except (pickle.PicklingError, TypeError, AttributeError):
        return None


# The attacks' findings on every mart are the same for each of a run's nine disclosure checks, which differ only
# in the mart they report on: worked out once per content of the marts (and, across marts, per state of the
# restricted file), each check keeps its own mart's.  A mart changed in between (a crafted bad one) is new content.
_ATTACKED: dict[tuple, pd.DataFrame] = {}
_ATTACKED_ACROSS: dict[tuple, pd.DataFrame] = {}


def _remembered(memo: dict, key: tuple | None, work) -> pd.DataFrame:
    if key is None or key[0] is None:
        return work()
    if key not in memo:
        memo.clear()
        memo[key] = work()
    return memo[key]


def recoverable_in_published(marts: dict[str, pd.DataFrame], table: str, restricted_duckdb: DuckDBResource,
                             across: bool) -> pd.DataFrame:
    """`recoverable_small_counts` of the published marts, the attacks' findings on every mart reused between
    checks while the marts (and the restricted file) are unchanged."""
    content = marts_content(marts)
    findings = _remembered(_ATTACKED, (content,), lambda: disclosure.attack(marts))
    if across:
        populations = _remembered(
            _ATTACKED_ACROSS, (content, _restricted_state(restricted_duckdb)),
            lambda: disclosure.attack_populations(marts, populations_of(marts, restricted_duckdb)))
        findings = pd.concat([findings, populations], ignore_index=True)
    return _of_mart(findings, table)


def _disclosure_check(table: str):
    counts = PUBLISHED_COUNTS[table]
    across = table in MART_KEYS

    @dg.asset_check(asset=dg.AssetKey(table.split(".")), name=f"{table.split('.')[1]}_no_count_1_to_5_recoverable",
                    blocking=True, additional_deps=[TRIAL_CASES_KEY, RISK_SCORES_KEY, SERVICE_MI_KEY] if across else [],
                    description=f"No published count ({', '.join(counts)}) holds 1 to 5 (withheld ones are NULL "
                                f"with '{SUPPRESSED}' in <column>{STATUS}); data_origin present; and no count of 1 "
                                "to 5 can be worked out of this mart with every casework mart already built in hand "
                                "(share x denominator, totals minus parts, differences between rows, Fisher's p "
                                "inverted) nor as a sum and difference of published counts of the same children in "
                                "any mart (recounted from the case rows): core/casework/disclosure.py.")
    def _check(duckdb: DuckDBResource, restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
        marts = published_marts(duckdb)
        frame = marts[table].copy()
        expectations = []
        for column in counts:
            frame[f"{column}_withheld_is_null"] = frame[column].isna() | (frame[f"{column}{STATUS}"].fillna("") != SUPPRESSED)
            expectations += [
                E("ExpectColumnValuesToNotBeInSet", column=column, value_set=SMALL_COUNTS),
                E("ExpectColumnValuesToBeInSet", column=f"{column}{STATUS}", value_set=[SUPPRESSED]),
                E("ExpectColumnValuesToBeInSet", column=f"{column}_withheld_is_null", value_set=[True]),
            ]
        shown = gx_result(frame, expectations + _origin_suite(per_trial=False), table, MART_LOCATORS[table])
        if not shown.passed:
            return shown
        try:
            found = recoverable_in_published(marts, table, restricted_duckdb, across)
        except ValueError as error:  # a published count that is not the count of its members: a damaged mart
            return dg.AssetCheckResult(passed=False, description=str(error)[:2000])
        # The attack's findings name the row, column and route, never the recovered value.
        return rows_result(found, "counts of 1 to 5 a reader can work out")

    return _check


rct_results_no_count_1_to_5_recoverable = _disclosure_check("marts.rct_results")
rct_balance_no_count_1_to_5_recoverable = _disclosure_check("marts.rct_balance")
rct_minimum_detectable_effects_no_count_1_to_5_recoverable = _disclosure_check("marts.rct_minimum_detectable_effects")
case_length_tobit_no_count_1_to_5_recoverable = _disclosure_check("marts.case_length_tobit")
risk_scores_by_arm_no_count_1_to_5_recoverable = _disclosure_check("marts.risk_scores_by_arm")
risk_score_changes_no_count_1_to_5_recoverable = _disclosure_check("marts.risk_score_changes")
service_summary_no_count_1_to_5_recoverable = _disclosure_check("marts.service_summary")
service_case_length_by_year_no_count_1_to_5_recoverable = _disclosure_check("marts.service_case_length_by_year")
census_reconciliation_no_count_1_to_5_recoverable = _disclosure_check("marts.census_reconciliation")
