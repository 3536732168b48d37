"""Casework strands: the council's case-level extracts (or their SYNTHETIC
stand-ins) into the restricted file, and the aggregate marts analysts read,
with counts of 1 to 5 children or families withheld.

Case rows never reach the analysts' warehouse, and the metadata of the
restricted assets shows no rows. Estimates are computed from the unsuppressed
case rows; suppression applies only to the tables published as marts.
"""

import re
from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource
from duckdb import DuckDBPyConnection

from fact22_assets.core.casework import disclosure, rct, risk, service
from fact22_assets.core.casework.origin import single_origin
from fact22_assets.core.casework.schemas import (
    RCT_CASES,
    SERVICE_MI,
    ExtractSchema,
    read_extract,
    risk_notes_schema,
    validate_extract,
)
from fact22_assets.core.casework.suppression import SUPPRESSED, withhold_small_counts
from fact22_assets.core.catalogue import file_sha256
from fact22_assets.core.source_versions import CASEWORK
from fact22_assets.glue.resources import SourcesResource
from fact22_assets.glue.sources import source_key
from fact22_assets.glue.tables import column_schema, replace_table, table_metadata
from fact22_assets.settings import casework_dir

GROUP = "casework"
STATUS = "_status"
FRAMEWORK_FILE = "risk_framework.csv"
ENGAGEMENT_FILE = "risk_engagement_scale.csv"

# Counts of children or families in each published mart (from the disclosure
# registry, core/casework/disclosure.py): a value of 1 to 5 is withheld (NULL,
# with 'c' in <column>_status), and so is anything from which a withheld count
# can be worked back (secondary suppression: shares, tests, sums, differences).
PUBLISHED_COUNTS = {table: list(spec.counts) for table, spec in disclosure.SPECS.items()}


# --- suppression ---------------------------------------------------------


def protected(table: str, frame: pd.DataFrame, groupings: tuple[pd.Series, ...] = ()) -> pd.DataFrame:
    """Primary and secondary suppression of one mart: counts of 1 to 5 (and the grouped second cells), then
    whatever the disclosure attack could still use to work a withheld count back (core.casework.disclosure)."""
    counts = PUBLISHED_COUNTS[table]
    frame = frame.reset_index(drop=True)

    def regroup(current: pd.DataFrame) -> pd.DataFrame:
        # A cell withheld by the attack's round stands in as 1, so the grouped rule withholds its partner too.
        held = {c: (current[f"{c}{STATUS}"].astype("string").fillna("") == SUPPRESSED).to_numpy() for c in counts}
        again = withhold_small_counts(frame.assign(**{c: frame[c].astype("Int64").mask(held[c], 1) for c in counts}),
                                      counts, groupings)
        for c in counts:
            current[c], current[f"{c}{STATUS}"] = again[c], again[f"{c}{STATUS}"]
        return current

    return disclosure.protect(table, withhold_small_counts(frame, counts, groupings), regroup)


# --- reading and writing -------------------------------------------------


def risk_framework(sources: SourcesResource) -> pd.DataFrame:
    return risk.load_risk_framework(sources.reference_file(FRAMEWORK_FILE))


def extract_schema(name: str, sources: SourcesResource) -> ExtractSchema:
    if name == "risk_notes":
        return risk_notes_schema(list(risk_framework(sources)["factor_code"]))
    return {"rct_cases": RCT_CASES, "service_mi": SERVICE_MI}[name]


def read_extract_table(con: DuckDBPyConnection, table: str, schema: ExtractSchema) -> pd.DataFrame:
    """A restricted extract table, typed and validated again by its schema before any estimate uses it."""
    stored = con.execute(f"SELECT * FROM {table} ORDER BY source_row").df()
    return validate_extract(stored[[*schema.column_names, "data_origin"]], schema, table)


def _restricted_metadata(con: DuckDBPyConnection, table: str, frame: pd.DataFrame, **extra) -> dict:
    """Row count, schema and data_origin; never a preview: these are rows about children."""
    return {
        "dagster/row_count": dg.MetadataValue.int(int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])),
        "dagster/column_schema": column_schema(con, table),
        "dagster/table_name": dg.MetadataValue.text(table),
        "data_origin": dg.MetadataValue.text(single_origin(frame)),
        **extra,
    }


def _write_mart(context: dg.AssetExecutionContext, duckdb: DuckDBResource, frame: pd.DataFrame,
             groupings: tuple[pd.Series, ...] = (), **extra) -> dg.MaterializeResult:
    """Withhold small counts, then write the mart to the analysts' warehouse."""
    table = ".".join(context.asset_key.path)
    counts = PUBLISHED_COUNTS[table]
    published = protected(table, frame, groupings)
    withheld = {c: int((published[f"{c}{STATUS}"] == SUPPRESSED).sum()) for c in counts}
    with duckdb.get_connection() as con:
        replace_table(con, table, published)
        return dg.MaterializeResult(metadata=table_metadata(
            con, table,
            data_origin=dg.MetadataValue.text(single_origin(published)),
            suppressed_columns=dg.MetadataValue.text(", ".join(counts)),
            counts_withheld=dg.MetadataValue.int(sum(withheld.values())),
            **extra))


# --- restricted: case-level data ------------------------------------------

RCT_CASES_KEY = dg.AssetKey(["restricted", "rct_cases"])
RISK_NOTES_KEY = dg.AssetKey(["restricted", "risk_notes"])
RISK_SCORES_KEY = dg.AssetKey(["restricted", "risk_scores"])
SERVICE_MI_KEY = dg.AssetKey(["restricted", "service_mi"])


def _extract_asset(name: str, description: str):
    @dg.asset(key=["restricted", name], group_name=GROUP, kinds={"duckdb", "csv"}, deps=[source_key(CASEWORK)],
              description=description)
    def _asset(context: dg.AssetExecutionContext, restricted_duckdb: DuckDBResource,
               sources: SourcesResource) -> dg.MaterializeResult:
        path = casework_dir() / f"{name}.csv"
        # An ExtractError names the file, row and column, and fails the run.
        frame = read_extract(path, extract_schema(name, sources))
        sha256 = file_sha256(path)
        frame["source_file"] = str(path)
        frame["source_row"] = np.arange(len(frame), dtype="int64") + 2  # file line; the header is line 1
        frame["source_sha256"] = sha256
        frame["loaded_at"] = datetime.now(UTC).replace(tzinfo=None)
        table = f"restricted.{name}"
        with restricted_duckdb.get_connection() as con:
            replace_table(con, table, frame)
            return dg.MaterializeResult(metadata=_restricted_metadata(
                con, table, frame, source_file=dg.MetadataValue.path(str(path)),
                source_sha256=dg.MetadataValue.text(sha256)))

    return _asset


_EXTRACT_NOTE = (" Validated by its schema (core/casework/schemas.py): an extract that breaks it fails the run, "
                 "naming file, row and column. Kept in the restricted file only, with source_file, source_row, "
                 "source_sha256 and loaded_at; data_origin says SYNTHETIC (the shipped stand-ins) or COUNCIL.")

restricted_rct_cases = _extract_asset(
    "rct_cases", "RCT case records, one row per randomised family (lead child): arm, characteristics at "
                 "referral, CIN plan start, closure, re-referral and escalation dates." + _EXTRACT_NOTE)
restricted_risk_notes = _extract_asset(
    "risk_notes", "Coded case notes, one row per case and time point (referral 2015, six months 2016, latest "
                  "2019): a 0/1 column per factor of data/reference/risk_framework.csv and the parent's and "
                  "child's engagement." + _EXTRACT_NOTE)
restricted_service_mi = _extract_asset(
    "service_mi", "FACT22's management information, one row per family served 2015-2020: start and end "
                  "dates, location, how the case ended." + _EXTRACT_NOTE)


@dg.asset(key=["restricted", "risk_scores"], group_name=GROUP, kinds={"duckdb", "python"},
          deps=[restricted_risk_notes],
          description="Risk score per case and time point (report Appendix 5): engagement (parent, child), "
                      "protective and risk factor scores and total_score = their sum (higher = less risk), "
                      "weights from data/reference/risk_framework.csv and risk_engagement_scale.csv; with the "
                      "source_row of the coded note. Restricted file only.")
def restricted_risk_scores(context: dg.AssetExecutionContext, restricted_duckdb: DuckDBResource,
                           sources: SourcesResource) -> dg.MaterializeResult:
    framework = risk_framework(sources)
    scale = risk.load_engagement_scale(sources.reference_file(ENGAGEMENT_FILE))
    schema = risk_notes_schema(list(framework["factor_code"]))
    with restricted_duckdb.get_connection() as con:
        notes = read_extract_table(con, "restricted.risk_notes", schema)
        rows = con.execute("SELECT case_id, time_point, source_row FROM restricted.risk_notes").df()
        scores = risk.score_risk_notes(notes, framework, scale).merge(rows, on=["case_id", "time_point"], how="left")
        replace_table(con, "restricted.risk_scores", scores)
        return dg.MaterializeResult(metadata=_restricted_metadata(
            con, "restricted.risk_scores", scores,
            framework_factors=dg.MetadataValue.int(len(framework)),
            framework_sha256=dg.MetadataValue.text(file_sha256(sources.reference_file(FRAMEWORK_FILE)))))


# --- marts: RCT ------------------------------------------------------------

_ORIGIN = " Every row carries data_origin (SYNTHETIC for the shipped stand-ins)."
_WITHHELD = " Counts of 1 to 5 are withheld (NULL, 'c' in <column>_status): "


def _rct_cases(restricted_duckdb: DuckDBResource) -> pd.DataFrame:
    with restricted_duckdb.get_connection() as con:
        return read_extract_table(con, "restricted.rct_cases", RCT_CASES)


# The note of a too-few-events row names the event counts; they live in (withheld) count columns instead.
_NOTE_COUNTS = re.compile(r"\(\d+ FACT22, \d+ CEC; ")


@dg.asset(key=["marts", "rct_results"], group_name=GROUP, kinds={"duckdb", "python"},
          deps=[restricted_rct_cases],
          description="RCT long-term outcomes (closed, re-referred, escalated by 22 Nov 2019), one row per analysis "
                      "(itt; excluding_contaminated) and outcome: logistic regression on FACT22 + female + under 11 "
                      "+ previous CIN history, back-transformed for the control group (cec_rate_observed, "
                      "cec_rate_if_fact22 with 95% CI, effect_rate_diff, delta-method p_value, stars). An outcome "
                      "with too few events (< 10 in all or < 5 per arm) is status 'too_few_events' with Fisher's "
                      "exact p_value and no model estimate." + _WITHHELD
                      + "n_cases, n_fact22, n_cec, events_fact22, events_cec; an observed rate of a withheld count is "
                      "NULL, and the "
                      "excluding_contaminated rows withhold the CEC counts that differ from the itt rows by 1 to 5." + _ORIGIN)
def marts_rct_results(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                      restricted_duckdb: DuckDBResource) -> dg.MaterializeResult:
    results = rct.rct_results(_rct_cases(restricted_duckdb))
    results["note"] = results["note"].str.replace(_NOTE_COUNTS, "(", regex=True)
    return _write_mart(
        context, duckdb, results,
        method=dg.MetadataValue.md(
            "Logit per outcome on treatment and controls (female, under_11, previous_cin_history), complete "
            "cases; rates back-transformed over the control cases, delta-method SE and Wald p. Fewer than "
            f"{rct.MIN_EVENTS_TOTAL} events in all or {rct.MIN_EVENTS_PER_ARM} per arm (the rarer outcome value), "
            "or separation: Fisher's exact test on every case with a known outcome."),
        statuses=dg.MetadataValue.md(results[["analysis", "outcome", "status", "p_value"]].to_markdown(index=False)))


@dg.asset(key=["marts", "rct_balance"], group_name=GROUP, kinds={"duckdb", "python"},
          deps=[restricted_rct_cases],
          description="Sample description by arm (female, under 11, previous CIN, other CIN in the family, "
                      "White British, Other White, disabled, aged out), one row per analysis and characteristic: "
                      "n and count per arm, shares, and a balance test (chi-square, or Fisher's exact test when an "
                      "expected count is below 5; statistic is then the odds ratio)." + _WITHHELD
                      + "n_fact22, n_cec, count_fact22, count_cec; a share or test of a withheld count is NULL, and the "
                      "excluding_contaminated rows withhold the counts that differ from the itt rows by 1 to 5." + _ORIGIN)
def marts_rct_balance(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                      restricted_duckdb: DuckDBResource) -> dg.MaterializeResult:
    cases = _rct_cases(restricted_duckdb)
    table = pd.concat([rct.balance_table(cases, analysis=a) for a in rct.ANALYSES], ignore_index=True)
    return _write_mart(context, duckdb, table)


@dg.asset(key=["marts", "rct_minimum_detectable_effects"], group_name=GROUP, kinds={"duckdb", "python"},
          deps=[restricted_rct_cases],
          description="Minimum detectable effect of the trial for closed and re-referred: at the control group's "
                      "observed rate and the randomised arm sizes, the FACT22 rates a two-sided two-proportion "
                      "test detects with 80% power at 5% (Cohen's h)." + _WITHHELD + "n_fact22, n_cec."
                      + _ORIGIN)
def marts_rct_minimum_detectable_effects(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                                         restricted_duckdb: DuckDBResource) -> dg.MaterializeResult:
    return _write_mart(context, duckdb, rct.minimum_detectable_effects(_rct_cases(restricted_duckdb)))


@dg.asset(key=["marts", "case_length_tobit"], group_name=GROUP, kinds={"duckdb", "python"},
          deps=[restricted_rct_cases],
          description="Case length in days (CIN plan start to closure, cases with no escalation and known "
                      "outcomes) on FACT22 + controls by censored-normal (Tobit) regression, cases open at the end "
                      "of study right-censored: one row per term (const, fact22, controls, sigma) with estimate, "
                      "SE, z, p and 95% CI." + _WITHHELD + "n_cases, n_right_censored, n_left_censored." + _ORIGIN)
def marts_case_length_tobit(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                            restricted_duckdb: DuckDBResource) -> dg.MaterializeResult:
    from fact22_assets.core.casework import tobit  # subclasses a statsmodels model: import only when fitting

    table = tobit.case_length_tobit(rct.case_lengths(_rct_cases(restricted_duckdb)))
    return _write_mart(context, duckdb, table,
                    method=dg.MetadataValue.text("Tobit (censored normal) maximum likelihood, right-censored at "
                                                 "22 Nov 2019; sigma by delta method from log sigma"),
                    converged=dg.MetadataValue.bool(bool(table["converged"].all())))


# --- marts: risk -----------------------------------------------------------


def _risk_scores(restricted_duckdb: DuckDBResource) -> pd.DataFrame:
    with restricted_duckdb.get_connection() as con:
        return con.execute("SELECT * EXCLUDE (source_row) FROM restricted.risk_scores ORDER BY source_row").df()


@dg.asset(key=["marts", "risk_scores_by_arm"], group_name=GROUP, kinds={"duckdb", "python"},
          deps=[restricted_risk_scores],
          description="Mean engagement, protective, risk and total scores per arm and time point (referral 2015, "
                      "six months 2016, latest 2019), with the SD of the total; higher = less risk."
                      + _WITHHELD + "n_cases; means are kept." + _ORIGIN)
def marts_risk_scores_by_arm(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                             restricted_duckdb: DuckDBResource) -> dg.MaterializeResult:
    return _write_mart(context, duckdb, risk.risk_scores_by_arm(_risk_scores(restricted_duckdb)))


@dg.asset(key=["marts", "risk_score_changes"], group_name=GROUP, kinds={"duckdb", "python"},
          deps=[restricted_risk_scores],
          description="Change in total risk score per arm between two time points, cases scored at both: mean "
                      "from, mean to, mean change (negative = risk rose), SD, paired t p-value within the arm and "
                      "Welch p-value between arms (descriptive: a handful of cases)." + _WITHHELD
                      + "n_cases; means are kept." + _ORIGIN)
def marts_risk_score_changes(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                             restricted_duckdb: DuckDBResource) -> dg.MaterializeResult:
    return _write_mart(context, duckdb, risk.risk_score_changes(_risk_scores(restricted_duckdb)))


# --- marts: service management information ---------------------------------


def _service_mi(restricted_duckdb: DuckDBResource) -> pd.DataFrame:
    with restricted_duckdb.get_connection() as con:
        return read_extract_table(con, "restricted.service_mi", SERVICE_MI)


@dg.asset(key=["marts", "service_summary"], group_name=GROUP, kinds={"duckdb", "python"},
          deps=[restricted_service_mi],
          description="FACT22's families 2015-2020 in one long table: location and outcome shares, escalated to "
                      "CP or LAC against the national 9.3% (exact binomial p, descriptive: not like for like), and "
                      "mean days to close." + _WITHHELD + "n_families and n_total; secondary suppression within the "
                      "locations, within the outcomes, between escalated_cp and escalated_lac (they add to the "
                      "escalated row) and between the closed outcome and the days_to_close row (the same count). "
                      "The share of a withheld count is NULL; mean days are kept." + _ORIGIN)
def marts_service_summary(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                          restricted_duckdb: DuckDBResource) -> dg.MaterializeResult:
    summary = service.service_summary(_service_mi(restricted_duckdb))
    outcome = summary["measure"] == "outcome"
    groupings = (
        summary["measure"].where(summary["measure"].isin(["location", "outcome"])),
        pd.Series("escalated", index=summary.index).where(outcome & summary["category"].isin(service.ESCALATED)),
        pd.Series("closed", index=summary.index).where(
            (outcome & (summary["category"] == "closed")) | (summary["measure"] == "days_to_close")),
    )
    return _write_mart(context, duckdb, summary, groupings)


@dg.asset(key=["marts", "service_case_length_by_year"], group_name=GROUP, kinds={"duckdb", "python"},
          deps=[restricted_service_mi],
          description="Cases by calendar year of start: started, ended, closed, still open, mean days of ended "
                      "cases and mean days to close (recent years biased short: their long cases are still "
                      "open)." + _WITHHELD + "n_started, n_ended, n_closed, n_open, with secondary suppression "
                      "across years (they add to the service totals). Means are kept." + _ORIGIN)
def marts_service_case_length_by_year(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                                      restricted_duckdb: DuckDBResource) -> dg.MaterializeResult:
    by_year = service.case_length_by_start_year(_service_mi(restricted_duckdb))
    return _write_mart(context, duckdb, by_year, (pd.Series("all", index=by_year.index),))
