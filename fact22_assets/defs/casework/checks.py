"""Checks on the casework tables: case rows unique and in their arms, one
data_origin, RCT results honest about what they could estimate, and no
published count small enough to identify a child or family.

Failing rows are described by where they sit (extract file and row, or the
mart's row labels), never by a case's values or a withheld count."""
import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core.casework import disclosure, rct
from fact22_assets.core.casework.schemas import ARMS, DATA_ORIGINS, RCT_CASES
from fact22_assets.core.casework.suppression import SUPPRESSED
from fact22_assets.core.validation import Expectation as E
from fact22_assets.glue.checks import gx_result, rows_result

from .assets import (
    PUBLISHED_COUNTS,
    RCT_CASES_KEY,
    RISK_NOTES_KEY,
    RISK_SCORES_KEY,
    SERVICE_MI_KEY,
    STATUS,
    read_extract_table,
)

RESTRICTED_LOCATOR = ["source_file", "source_row"]
RCT_RESULTS = dg.AssetKey(["marts", "rct_results"])
SMALL_COUNTS = [1, 2, 3, 4, 5]

# Row labels of each mart: enough to find a failing row, nothing withheld.
MART_LOCATORS = {
    "marts.rct_results": ["analysis", "outcome"],
    "marts.rct_balance": ["analysis", "characteristic"],
    "marts.rct_minimum_detectable_effects": ["outcome"],
    "marts.case_length_tobit": ["term"],
    "marts.risk_scores_by_arm": ["arm", "time_point"],
    "marts.risk_score_changes": ["from_time_point", "to_time_point", "arm"],
    "marts.service_summary": ["measure", "category"],
    "marts.service_case_length_by_year": ["start_year"],
}


def _origin_suite() -> list[E]:
    """data_origin present, known, and one per table: synthetic and council rows are never pooled."""
    return [
        E("ExpectColumnValuesToNotBeNull", column="data_origin"),
        E("ExpectColumnValuesToBeInSet", column="data_origin", value_set=list(DATA_ORIGINS)),
        E("ExpectColumnUniqueValueCountToBeBetween", column="data_origin", min_value=1, max_value=1),
    ]


def _restricted(restricted_duckdb: DuckDBResource, table: str) -> pd.DataFrame:
    with restricted_duckdb.get_connection() as con:
        return con.execute(f"SELECT * FROM {table}").df()


@dg.asset_check(asset=RCT_CASES_KEY, blocking=True,
                description="One row per family, every family in arm FACT22 or CEC, one data_origin present.")
def restricted_rct_cases_valid(restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return gx_result(_restricted(restricted_duckdb, "restricted.rct_cases"), [
        E("ExpectColumnValuesToBeUnique", column="family_id"),
        E("ExpectColumnValuesToNotBeNull", column="arm"),
        E("ExpectColumnValuesToBeInSet", column="arm", value_set=list(ARMS)),
        *_origin_suite(),
    ], "restricted.rct_cases", RESTRICTED_LOCATOR)


@dg.asset_check(asset=RISK_NOTES_KEY, blocking=True,
                description="One row per case and time point, every case in arm FACT22 or CEC, one data_origin "
                            "present.")
def restricted_risk_notes_valid(restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return gx_result(_restricted(restricted_duckdb, "restricted.risk_notes"), [
        E("ExpectCompoundColumnsToBeUnique", column_list=["case_id", "time_point"]),
        E("ExpectColumnValuesToNotBeNull", column="arm"),
        E("ExpectColumnValuesToBeInSet", column="arm", value_set=list(ARMS)),
        *_origin_suite(),
    ], "restricted.risk_notes", RESTRICTED_LOCATOR)


@dg.asset_check(asset=RISK_SCORES_KEY, blocking=True,
                description="One score per case and time point, in arm FACT22 or CEC, total = engagement + "
                            "protective + risk, one data_origin present.")
def restricted_risk_scores_valid(restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    frame = _restricted(restricted_duckdb, "restricted.risk_scores")
    frame["total_is_sum"] = frame["total_score"] == (
        frame["engagement_score"] + frame["protective_score"] + frame["risk_score"])
    return gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["case_id", "time_point"]),
        E("ExpectColumnValuesToBeInSet", column="arm", value_set=list(ARMS)),
        E("ExpectColumnValuesToNotBeNull", column="total_score"),
        E("ExpectColumnValuesToBeInSet", column="total_is_sum", value_set=[True]),
        *_origin_suite(),
    ], "restricted.risk_scores", ["source_row", "time_point"])


@dg.asset_check(asset=SERVICE_MI_KEY, blocking=True,
                description="One row per family served, one data_origin present.")
def restricted_service_mi_valid(restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return gx_result(_restricted(restricted_duckdb, "restricted.service_mi"), [
        E("ExpectColumnValuesToBeUnique", column="family_id"),
        E("ExpectColumnValuesToNotBeNull", column="outcome"),
        *_origin_suite(),
    ], "restricted.service_mi", RESTRICTED_LOCATOR)


def _mart(duckdb: DuckDBResource, table: str) -> pd.DataFrame:
    with duckdb.get_connection() as con:
        return con.execute(f"SELECT * FROM {table}").df()


@dg.asset_check(asset=RCT_RESULTS, blocking=True,
                description="One row per analysis and outcome, status 'estimated' or 'too_few_events', every row "
                            "with a p-value in [0, 1] (or, for too few events, withheld with its withheld count), "
                            "rates in [0, 1], effects in [-1, 1].")
def rct_results_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    expectations = [
        E("ExpectCompoundColumnsToBeUnique", column_list=["analysis", "outcome"]),
        E("ExpectTableRowCountToEqual", value=len(rct.ANALYSES) * len(rct.OUTCOMES)),
        E("ExpectColumnValuesToBeInSet", column="status", value_set=["estimated", "too_few_events"]),
        # a Fisher p-value that would single out a withheld count is withheld too (NULL)
        E("ExpectColumnValuesToBeInSet", column="p_value_present_or_withheld", value_set=[True]),
        E("ExpectColumnValuesToBeBetween", column="p_value", min_value=0, max_value=1),
        E("ExpectColumnValuesToBeBetween", column="p_value_log_odds", min_value=0, max_value=1),
        E("ExpectColumnValuesToBeBetween", column="effect_rate_diff", min_value=-1, max_value=1),
    ]
    for rate in ("fact22_rate_observed", "cec_rate_observed", "cec_rate_if_fact22"):
        expectations.append(E("ExpectColumnValuesToBeBetween", column=rate, min_value=0, max_value=1))
    frame = _mart(duckdb, "marts.rct_results")
    frame["p_value_present_or_withheld"] = frame["p_value"].notna() | (
        (frame["status"] == "too_few_events")
        & ((frame["events_fact22_status"] == SUPPRESSED) | (frame["events_cec_status"] == SUPPRESSED)))
    return gx_result(frame, expectations, "marts.rct_results", ["analysis", "outcome", "status"])


def _below_threshold(cases: pd.DataFrame) -> pd.DataFrame:
    """analysis, outcome, below_threshold: the events a model would use (the rarer outcome value, complete
    cases on the controls) are fewer than rct.MIN_EVENTS_TOTAL in all or rct.MIN_EVENTS_PER_ARM in an arm."""
    frame = rct.derive_rct_outcomes(cases)
    rows = []
    for analysis in rct.ANALYSES:
        sample = rct.analysis_sample(frame, analysis)
        for outcome in rct.OUTCOMES:
            data = sample[[outcome, rct.TREATMENT, *rct.CONTROLS]].dropna().astype(int)
            arms = [data[data[rct.TREATMENT] == flag][outcome] for flag in (1, 0)]
            rarer = [min(int(a.sum()), len(a) - int(a.sum())) for a in arms]
            events = int(data[outcome].sum())
            rows.append({"analysis": analysis, "outcome": outcome,
                         "below_threshold": min(events, len(data) - events) < rct.MIN_EVENTS_TOTAL
                         or min(rarer) < rct.MIN_EVENTS_PER_ARM})
    return pd.DataFrame(rows)


@dg.asset_check(asset=RCT_RESULTS, blocking=True, additional_deps=[RCT_CASES_KEY],
                description=f"Recounted from the case rows: every analysis and outcome with fewer than "
                            f"{rct.MIN_EVENTS_TOTAL} events in all or {rct.MIN_EVENTS_PER_ARM} in an arm (the "
                            "report's 4 escalations) is published as 'too_few_events', never as a model estimate.")
def rct_results_too_few_events_flagged(duckdb: DuckDBResource,
                                       restricted_duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with restricted_duckdb.get_connection() as con:
        cases = read_extract_table(con, "restricted.rct_cases", RCT_CASES)
    published = _mart(duckdb, "marts.rct_results")[["analysis", "outcome", "status"]]
    expected = _below_threshold(cases).merge(published, on=["analysis", "outcome"], how="left")
    below = expected[expected["below_threshold"]].reset_index(drop=True)
    result = gx_result(below, [
        E("ExpectColumnValuesToNotBeNull", column="status"),
        E("ExpectColumnValuesToBeInSet", column="status", value_set=["too_few_events"]),
    ], "marts.rct_results too few events", ["analysis", "outcome", "status"])
    listed = ", ".join(f"{r.analysis}/{r.outcome}" for r in below.itertuples()) or "none"
    return dg.AssetCheckResult(passed=result.passed, severity=result.severity, description=result.description,
                               metadata={**result.metadata, "below_threshold": dg.MetadataValue.text(listed)})


def published_marts(duckdb: DuckDBResource) -> dict[str, pd.DataFrame]:
    """Every casework mart as an analyst reads it: what the disclosure attack works from."""
    with duckdb.get_connection() as con:
        present = {f"{schema}.{name}" for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
        return {table: con.execute(f"SELECT * FROM {table}").df() for table in disclosure.SPECS if table in present}


def recoverable_small_counts(marts: dict[str, pd.DataFrame], table: str) -> pd.DataFrame:
    """Findings of the attack on all marts together that work a count of 1 to 5 out of this mart."""
    findings = disclosure.attack(marts)
    return findings[(findings["mart"] == table) & findings["small"]].drop(columns="small").reset_index(drop=True)


def _disclosure_check(table: str):
    counts = PUBLISHED_COUNTS[table]

    @dg.asset_check(asset=dg.AssetKey(table.split(".")), name=f"{table.split('.')[1]}_no_count_1_to_5_recoverable",
                    blocking=True,
                    description=f"No published count ({', '.join(counts)}) holds 1 to 5 (withheld ones are NULL "
                                f"with '{SUPPRESSED}' in <column>{STATUS}); data_origin present and single; and no "
                                "count of 1 to 5 can be worked out of this mart with every casework mart already "
                                "built in hand (blocking checks may not depend on each other's assets) "
                                "(share x denominator, totals minus parts, differences between rows and tables: "
                                "core/casework/disclosure.py).")
    def _check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
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
        shown = gx_result(frame, expectations + _origin_suite(), table, MART_LOCATORS[table])
        if not shown.passed:
            return shown
        # The attack's findings name the row, column and route, never the recovered value.
        return rows_result(recoverable_small_counts(marts, table), "counts of 1 to 5 a reader can work out")

    return _check


rct_results_no_count_1_to_5_recoverable = _disclosure_check("marts.rct_results")
rct_balance_no_count_1_to_5_recoverable = _disclosure_check("marts.rct_balance")
rct_minimum_detectable_effects_no_count_1_to_5_recoverable = _disclosure_check("marts.rct_minimum_detectable_effects")
case_length_tobit_no_count_1_to_5_recoverable = _disclosure_check("marts.case_length_tobit")
risk_scores_by_arm_no_count_1_to_5_recoverable = _disclosure_check("marts.risk_scores_by_arm")
risk_score_changes_no_count_1_to_5_recoverable = _disclosure_check("marts.risk_score_changes")
service_summary_no_count_1_to_5_recoverable = _disclosure_check("marts.service_summary")
service_case_length_by_year_no_count_1_to_5_recoverable = _disclosure_check("marts.service_case_length_by_year")
