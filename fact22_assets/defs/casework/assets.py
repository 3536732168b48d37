"""Casework strands, for every trial of data/trials.yaml: the council's census returns and trial files (or their
SYNTHETIC stand-ins) into the restricted file, and the aggregate marts analysts read, keyed by trial_id, with
counts of 1 to 5 children or families withheld.

Case rows never reach the analysts' warehouse, and the metadata of the
restricted assets shows no rows. Estimates are computed from the unsuppressed
case rows; suppression applies only to the tables published as marts, all of
them at once (a count withheld in one mart must not come back from counts in
another: core/casework/disclosure.py).
"""

from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource
from duckdb import DuckDBPyConnection

from fact22_assets.core import helper_process
from fact22_assets.core.casework import disclosure, risk, trial_marts
from fact22_assets.core.casework.schemas import (
    ExtractSchema,
    randomisation_schema,
    read_extract,
    risk_notes_schema,
    validate_extract,
)
from fact22_assets.core.casework.suppression import SUPPRESSED, withhold_small_counts
from fact22_assets.core.catalogue import file_sha256
from fact22_assets.core.census import ingest, totals
from fact22_assets.core.census.config import LIST_COLUMNS, Trial
from fact22_assets.core.census.pseudonym import key_fingerprint, pseudonymiser
from fact22_assets.core.census.trial import trial_cases
from fact22_assets.core.source_versions import CASEWORK
from fact22_assets.glue.resources import SourcesResource
from fact22_assets.glue.sources import source_key
from fact22_assets.glue.tables import column_schema, replace_table, sql_dependencies, sql_text, table_metadata
from fact22_assets.glue.trials import pseudonym_key, trials
from fact22_assets.settings import (
    casework_dir,
    census_schemas_dir,
    synthetic_census_dir,
)

GROUP = "casework"
STATUS = "_status"
FRAMEWORK_FILE = "risk_framework.csv"
ENGAGEMENT_FILE = "risk_engagement_scale.csv"

# Counts of children or families in each published mart (from the disclosure registry,
# core/casework/disclosure.py): a value of 1 to 5 is withheld (NULL, with 'c' in <column>_status), and so is
# anything from which a withheld count can be worked back, in this mart or with the others.
PUBLISHED_COUNTS = {table: list(spec.counts) for table, spec in disclosure.SPECS.items()}
CASEWORK_MARTS = trial_marts.TRIAL_MARTS


# --- suppression ---------------------------------------------------------


def _regroup(table: str, original: pd.DataFrame, groupings: tuple[pd.Series, ...]):
    """The primary grouped rule again, with every cell withheld so far standing in as 1 (so its partner goes too)."""
    counts = PUBLISHED_COUNTS[table]

    def again(current: pd.DataFrame) -> pd.DataFrame:
        held = {c: (current[f"{c}{STATUS}"].astype("string").fillna("") == SUPPRESSED).to_numpy() for c in counts}
        redone = withhold_small_counts(original.assign(**{c: original[c].astype("Int64").mask(held[c], 1)
                                                          for c in counts}), counts, groupings)
        for c in counts:
            current[c], current[f"{c}{STATUS}"] = redone[c], redone[f"{c}{STATUS}"]
        return current

    return again


def protected_marts(frames: dict[str, pd.DataFrame], populations: dict,
                    groupings: dict[str, tuple[pd.Series, ...]]) -> dict[str, pd.DataFrame]:
    """Primary and secondary suppression of every casework mart together: counts of 1 to 5 (and the grouped second
    cells), then whatever the disclosure attacks, within a mart and across marts, could still work back."""
    first = {table: withhold_small_counts(frame, PUBLISHED_COUNTS[table], groupings.get(table, ()))
             for table, frame in frames.items()}
    regroup = {table: _regroup(table, frame.reset_index(drop=True), groupings.get(table, ()))
               for table, frame in frames.items()}
    return disclosure.protect_together(first, populations, regroup)


def service_groupings(summary: pd.DataFrame, by_year: pd.DataFrame) -> dict[str, tuple[pd.Series, ...]]:
    """Rows that add up to a total published elsewhere, per trial: the locations, the outcomes, escalated to CP and
    to LAC (they add to the escalated row), the closed outcome and the days-to-close row (the same count), the
    start years (they add to the service's totals)."""
    outcome = summary["measure"] == "outcome"
    trial_id = summary["trial_id"].astype(str)
    return {
        "marts.service_summary": (
            (trial_id + ":" + summary["measure"]).where(summary["measure"].isin(["location", "outcome"])),
            (trial_id + ":escalated").where(outcome & summary["category"].isin(["escalated_cp", "escalated_lac"])),
            (trial_id + ":closed").where((outcome & (summary["category"] == "closed"))
                                         | (summary["measure"] == "days_to_close")),
        ),
        "marts.service_case_length_by_year": (by_year["trial_id"].astype(str),),
    }


# --- reading and writing -------------------------------------------------


def risk_framework(sources: SourcesResource) -> pd.DataFrame:
    return risk.load_risk_framework(sources.reference_file(FRAMEWORK_FILE))


def _restricted_metadata(con: DuckDBPyConnection, table: str, frame: pd.DataFrame, **extra) -> dict:
    """Row count, schema and data_origin; never a preview: these are rows about children."""
    origins = sorted(frame["data_origin"].dropna().unique()) if "data_origin" in frame and len(frame) else []
    return {
        "dagster/row_count": dg.MetadataValue.int(int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])),
        "dagster/column_schema": column_schema(con, table),
        "dagster/table_name": dg.MetadataValue.text(table),
        "data_origin": dg.MetadataValue.text(", ".join(origins) or "none"),
        **extra,
    }


def _restricted(restricted_duckdb: DuckDBResource, table: str, order: str = "") -> pd.DataFrame:
    with restricted_duckdb.get_connection() as con:
        return con.execute(f"SELECT * FROM {table} {order}").df()


def _leas(duckdb: DuckDBResource) -> dict[str, str]:
    """ONS code -> DfE three-digit number (the LEA a return carries), from the authority lookup."""
    with duckdb.get_connection() as con:
        rows = con.execute("SELECT la_code, old_la_code FROM raw.la_lookup WHERE is_authority "
                           "AND NOT is_joint_reporting").fetchall()
    return {code: old for code, old in rows if old}


# --- restricted: census returns ---------------------------------------------

CENSUS_TABLES = {name: f"restricted.census_{name}" for name in ingest.TABLES}
CENSUS_RETURNS = "restricted.census_returns"
CENSUS_KEYS = {name: dg.AssetKey(table.split(".")) for name, table in
               {**CENSUS_TABLES, "returns": CENSUS_RETURNS}.items()}
_CENSUS_DESCRIPTIONS = {
    "returns": "One row per children-in-need census return read: authority, collection year, file, sha256, the DfE "
               "schema that validated it, children and episodes, data_origin.",
    "children": "One row per child per return: child_key (LAchildID hashed with the pseudonymisation key), birth "
                "date, gender, ethnicity, disabilities, the line of the child in the return.",
    "episodes": "One row per episode of need (CINdetails) per return: referral date and source, primary need, "
                "closure date and reason, initial conference date, referral with no further action.",
    "assessments": "One row per assessment per return: start, review and authorisation dates, factors.",
    "cin_plans": "One row per CIN plan per return (returns from 2021-22): start and end dates.",
    "section47": "One row per section 47 enquiry per return: start, target and initial conference dates.",
    "cp_plans": "One row per child protection plan per return: start and end dates, categories of abuse, "
                "previous plans, reviews.",
}


@dg.multi_asset(
    specs=[dg.AssetSpec(key, group_name=GROUP, kinds={"duckdb", "xml"}, deps=[source_key(CASEWORK),
                                                                              dg.AssetKey(["raw", "la_lookup"])],
                        description=_CENSUS_DESCRIPTIONS[name] + " Restricted file only; every return validated "
                        "against DfE's XSD for its year (data/census/) and DfE's rules (core/census/rules.py), "
                        "refused with file, line, child, element and rule otherwise.")
           for name, key in CENSUS_KEYS.items()],
    can_subset=False)
def census_returns(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                   restricted_duckdb: DuckDBResource):
    """Every trial's census returns: generated (SYNTHETIC trials), validated, pseudonymised, stored."""
    configured = list(trials())
    key, key_source = pseudonym_key()
    to_read = ingest.returns_to_read(configured, _leas(duckdb), casework_dir(), census_schemas_dir(),
                                     synthetic_census_dir())
    tables, returns = ingest.read_all(to_read, census_schemas_dir(), pseudonymiser(key))
    with restricted_duckdb.get_connection() as con:
        for name, table in CENSUS_TABLES.items():
            replace_table(con, table, tables[name])
            yield dg.MaterializeResult(asset_key=CENSUS_KEYS[name],
                                       metadata=_restricted_metadata(con, table, tables[name]))
        replace_table(con, CENSUS_RETURNS, returns)
        yield dg.MaterializeResult(asset_key=CENSUS_KEYS["returns"], metadata=_restricted_metadata(
            con, CENSUS_RETURNS, returns, pseudonymisation=dg.MetadataValue.text(key_source),
            key_fingerprint=dg.MetadataValue.text(key_fingerprint(key)),
            returns=dg.MetadataValue.md(returns.drop(columns=["loaded_at"]).to_markdown(index=False))))


# --- restricted: each trial's own files ---------------------------------------

RANDOMISATION_KEY = dg.AssetKey(["restricted", "randomisation"])
TRIAL_CASES_KEY = dg.AssetKey(["restricted", "trial_cases"])
RISK_NOTES_KEY = dg.AssetKey(["restricted", "risk_notes"])
RISK_SCORES_KEY = dg.AssetKey(["restricted", "risk_scores"])
SERVICE_MI_KEY = dg.AssetKey(["restricted", "service_mi"])


def _pseudonym() -> tuple:
    return pseudonymiser(pseudonym_key()[0])


_PROVENANCE = ["data_origin", "source_file", "source_row", "source_sha256", "loaded_at"]
_NUMBERS = {"source_row", "engagement_score", "protective_score", "risk_score", "total_score"}
_DATES = {"start_date", "end_date", "loaded_at", "randomised_on"}


def _empty(columns: list[str]) -> pd.DataFrame:
    """A table with no rows but its columns typed (no trial has this file)."""
    return pd.DataFrame({c: pd.Series(dtype="Int64" if c in _NUMBERS else "datetime64[ns]" if c in _DATES
                                      else "object") for c in columns})


def _read_trial_file(trial: Trial, relative: str, schema: ExtractSchema) -> pd.DataFrame:
    """A trial's CSV, validated (file, row, column on a problem), with its provenance."""
    path = casework_dir() / relative
    frame = read_extract(path, schema)
    origins = set(frame["data_origin"])
    if origins != {trial.data_origin}:
        raise ValueError(f"{path}: data_origin {sorted(origins)}, but trial {trial.trial_id} is {trial.data_origin}")
    frame.insert(0, "trial_id", trial.trial_id)
    frame["source_file"] = str(path)
    frame["source_row"] = np.arange(len(frame), dtype="int64") + 2  # file line; the header is line 1
    frame["source_sha256"] = file_sha256(path)
    frame["loaded_at"] = datetime.now(UTC).replace(tzinfo=None)
    return frame


@dg.asset(key=["restricted", "randomisation"], group_name=GROUP, kinds={"duckdb", "csv"}, deps=[source_key(CASEWORK)],
          description="Each trial's randomisation list, one row per randomised child: trial_id, child_key (the "
                      "LAchildID hashed as in the census tables), arm, randomised_on and the trial's list columns "
                      "(other_cin_in_family, later_received_treatment; NULL where a trial does not record them), "
                      "with source_file, source_row, source_sha256, loaded_at, data_origin. Validated by "
                      "core/casework/schemas.py randomisation_schema (arms and window from data/trials.yaml).")
def restricted_randomisation(context: dg.AssetExecutionContext, restricted_duckdb: DuckDBResource
                             ) -> dg.MaterializeResult:
    hashed = _pseudonym()
    frames = []
    for trial in trials():
        schema = randomisation_schema(trial.arms, trial.randomised_from, trial.randomised_to, trial.list_columns)
        frame = _read_trial_file(trial, trial.randomisation_list, schema)
        frame.insert(1, "child_key", frame.pop("LAchildID").map(hashed))
        for column in LIST_COLUMNS:
            if column not in frame:
                frame[column] = pd.array([pd.NA] * len(frame), dtype="boolean")
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["trial_id", "child_key", "arm", "randomised_on", *LIST_COLUMNS, "data_origin"])
    with restricted_duckdb.get_connection() as con:
        replace_table(con, "restricted.randomisation", frame)
        return dg.MaterializeResult(metadata=_restricted_metadata(con, "restricted.randomisation", frame))


@dg.asset(key=["restricted", "trial_cases"], group_name=GROUP, kinds={"duckdb", "python"},
          deps=[RANDOMISATION_KEY, CENSUS_KEYS["children"], CENSUS_KEYS["episodes"], CENSUS_KEYS["cp_plans"]],
          description="One row per randomised child per trial, from the census returns and the randomisation list "
                      "(core/census/trial.py): the index episode, covariates (female, age and under 11 at referral, "
                      "previous CIN history, disabled, White British, Other White, aged out), the list's columns, "
                      "and the outcomes by the trial's follow-up end by the measure registry's trial definitions "
                      "(closed, rereferred, escalated, case_length_days). Restricted file only.")
def restricted_trial_cases(context: dg.AssetExecutionContext, restricted_duckdb: DuckDBResource
                           ) -> dg.MaterializeResult:
    randomisation = _restricted(restricted_duckdb, "restricted.randomisation", "ORDER BY trial_id, source_row")
    census = {name: _restricted(restricted_duckdb, CENSUS_TABLES[name]) for name in ("children", "episodes",
                                                                                      "cp_plans")}
    frames = []
    for trial in trials():
        listed = randomisation[randomisation["trial_id"] == trial.trial_id]
        mine = {name: frame[frame["authority_code"] == trial.authority_code] for name, frame in census.items()}
        cases = trial_cases(trial, listed, mine["children"], mine["episodes"], mine["cp_plans"])
        cases.insert(0, "trial_id", trial.trial_id)
        frames.append(cases)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["trial_id", "child_key"])
    for column in LIST_COLUMNS:
        if column not in frame:
            frame[column] = pd.array([pd.NA] * len(frame), dtype="Int64")
    with restricted_duckdb.get_connection() as con:
        replace_table(con, "restricted.trial_cases", frame)
        counts = frame.groupby(["trial_id", "arm"]).size().reset_index(name="cases") if len(frame) else frame
        return dg.MaterializeResult(metadata=_restricted_metadata(
            con, "restricted.trial_cases", frame, cases_by_arm=dg.MetadataValue.md(counts.to_markdown(index=False))))


def _risk_schema(trial: Trial, sources: SourcesResource) -> ExtractSchema:
    return risk_notes_schema(list(risk_framework(sources)["factor_code"]), trial.arms,
                             trial.extract("risk_notes").options["time_points"])




@dg.asset(key=["restricted", "risk_notes"], group_name=GROUP, kinds={"duckdb", "csv"}, deps=[source_key(CASEWORK)],
          description="Coded case notes of the trials that have them, one row per trial, case and coding point: "
                      "case_key (the trial case's LAchildID hashed), a 0/1 column per factor of "
                      "data/reference/risk_framework.csv and the parent's and child's engagement; validated by "
                      "core/casework/schemas.py risk_notes_schema (arms and coding points from data/trials.yaml), "
                      "with source_file, source_row, source_sha256, loaded_at, data_origin. Restricted file only.")
def restricted_risk_notes(context: dg.AssetExecutionContext, restricted_duckdb: DuckDBResource,
                          sources: SourcesResource) -> dg.MaterializeResult:
    hashed = _pseudonym()
    frames = []
    for trial in trials():
        if trial.extract("risk_notes") is not None:
            frame = _read_trial_file(trial, trial.extract("risk_notes").file, _risk_schema(trial, sources))
            frame["case_id"] = frame["case_id"].map(hashed)
            frames.append(frame.rename(columns={"case_id": "case_key"}))
    frame = pd.concat(frames, ignore_index=True) if frames else _empty(
        ["trial_id", "case_key", "arm", "time_point", "parent_engagement", "child_engagement", *_PROVENANCE])
    with restricted_duckdb.get_connection() as con:
        replace_table(con, "restricted.risk_notes", frame)
        return dg.MaterializeResult(metadata=_restricted_metadata(con, "restricted.risk_notes", frame))


@dg.asset(key=["restricted", "service_mi"], group_name=GROUP, kinds={"duckdb", "csv"}, deps=[source_key(CASEWORK)],
          description="A programme's management information for the trials that have it, one row per trial and "
                      "family served: start and end dates, location, how the case ended; validated by "
                      "core/casework/schemas.py service_schema (locations and period from data/trials.yaml), with "
                      "source_file, source_row, source_sha256, loaded_at, data_origin. Restricted file only.")
def restricted_service_mi(context: dg.AssetExecutionContext, restricted_duckdb: DuckDBResource
                          ) -> dg.MaterializeResult:
    frames = [_read_trial_file(t, t.extract("service_information").file, trial_marts.service_schema_of(t))
              for t in trials() if t.extract("service_information") is not None]
    frame = pd.concat(frames, ignore_index=True) if frames else _empty(
        ["trial_id", "family_id", "start_date", "end_date", "location", "outcome", *_PROVENANCE])
    with restricted_duckdb.get_connection() as con:
        replace_table(con, "restricted.service_mi", frame)
        return dg.MaterializeResult(metadata=_restricted_metadata(con, "restricted.service_mi", frame))


@dg.asset(key=["restricted", "risk_scores"], group_name=GROUP, kinds={"duckdb", "python"}, deps=[RISK_NOTES_KEY],
          description="Risk score per trial, case and coding point (RR1067 Appendix 5): engagement (parent, child), "
                      "protective and risk factor scores and total_score = their sum (higher = less risk), weights "
                      "from data/reference/risk_framework.csv and risk_engagement_scale.csv; with the source_row of "
                      "the coded note. Restricted file only.")
def restricted_risk_scores(context: dg.AssetExecutionContext, restricted_duckdb: DuckDBResource,
                           sources: SourcesResource) -> dg.MaterializeResult:
    framework = risk_framework(sources)
    scale = risk.load_engagement_scale(sources.reference_file(ENGAGEMENT_FILE))
    notes = _restricted(restricted_duckdb, "restricted.risk_notes", "ORDER BY trial_id, source_row")
    frames = []
    for trial in trials():
        mine = notes[notes["trial_id"] == trial.trial_id].rename(columns={"case_key": "case_id"})
        if not len(mine):
            continue
        schema = _risk_schema(trial, sources)
        typed = validate_extract(mine[[*schema.column_names, "data_origin"]].reset_index(drop=True), schema,
                                 "restricted.risk_notes")
        scores = risk.score_risk_notes(typed, framework, scale)
        scores.insert(0, "trial_id", trial.trial_id)
        scores["source_row"] = mine["source_row"].to_numpy()
        frames.append(scores.rename(columns={"case_id": "case_key"}))
    frame = pd.concat(frames, ignore_index=True) if frames else _empty(
        ["trial_id", "case_key", "arm", "time_point", "engagement_score", "protective_score", "risk_score",
         "total_score", "data_origin", "source_row"])
    with restricted_duckdb.get_connection() as con:
        replace_table(con, "restricted.risk_scores", frame)
        return dg.MaterializeResult(metadata=_restricted_metadata(
            con, "restricted.risk_scores", frame, framework_factors=dg.MetadataValue.int(len(framework)),
            framework_sha256=dg.MetadataValue.text(file_sha256(sources.reference_file(FRAMEWORK_FILE)))))


# --- marts: every trial's, protected together ---------------------------------

_ORIGIN = " Every row carries trial_id, the arms' names and data_origin (SYNTHETIC for the shipped stand-ins)."
_WITHHELD = " Counts of 1 to 5 are withheld (NULL, 'c' in <column>_status), and any count or share from which one "\
            "could be worked back, in this mart or with the others: "
MART_DESCRIPTIONS = {
    "marts.rct_results": "Trial outcomes (closed, re-referred, escalated by the trial's follow-up end, from the census "
                         "returns), one row per trial, analysis (itt; excluding_contaminated), subgroup (all; each "
                         "level of the trial's subgroups, itt) and outcome: logistic regression on treated + the "
                         "trial's covariates, back-transformed for the control group (control_rate_observed, "
                         "control_rate_if_treated with 95% CI, effect_rate_diff, delta-method p_value, stars). An "
                         "outcome with too few events (< 10 in all or < 5 per arm) is status 'too_few_events' with "
                         "Fisher's exact p_value and no model estimate." + _WITHHELD
                         + "n_cases, n_treated, n_control, events_treated, events_control." + _ORIGIN,
    "marts.rct_balance": "Sample description by arm (female, under 11, previous CIN, other CIN in the family, White "
                         "British, Other White, disabled, aged out), one row per trial, analysis and characteristic: "
                         "n and count per arm, shares, and a balance test (chi-square, or Fisher's exact test when an "
                         "expected count is below 5)." + _WITHHELD + "n_treated, n_control, count_treated, "
                         "count_control." + _ORIGIN,
    "marts.rct_minimum_detectable_effects": "Minimum detectable effect of each trial per outcome: at the control "
                                            "group's observed rate and the randomised arm sizes, the treated rates a "
                                            "two-sided two-proportion test detects with 80% power at 5% (Cohen's h)."
                                            + _WITHHELD + "n_treated, n_control." + _ORIGIN,
    "marts.case_length_tobit": "Case length in days (index referral to closure, cases with no escalation and a known "
                               "outcome) on treated + covariates by censored-normal (Tobit) regression, cases open at "
                               "the end of follow-up right-censored: one row per trial and term (const, treated, "
                               "covariates, sigma) with estimate, SE, z, p and 95% CI." + _WITHHELD
                               + "n_cases, n_right_censored, n_left_censored." + _ORIGIN,
    "marts.risk_scores_by_arm": "Mean engagement, protective, risk and total scores per trial, arm and coding point, "
                                "with the SD of the total; higher = less risk." + _WITHHELD + "n_cases; means are kept."
                                + _ORIGIN,
    "marts.risk_score_changes": "Change in total risk score per trial and arm between two coding points, cases scored "
                                "at both: mean from, mean to, mean change (negative = risk rose), SD, paired t p-value "
                                "within the arm and Welch p-value between arms (descriptive: a handful of cases)."
                                + _WITHHELD + "n_cases; means are kept." + _ORIGIN,
    "marts.service_summary": "A programme's families in one long table per trial: location and outcome shares, "
                             "escalated to CP or LAC against the trial's benchmark (exact binomial p, descriptive), and "
                             "mean days to close." + _WITHHELD + "n_families and n_total; within the locations, the "
                             "outcomes, CP and LAC, and the closed outcome with the days-to-close row. Mean days are "
                             "kept." + _ORIGIN,
    "marts.service_case_length_by_year": "A programme's cases by calendar year of start, per trial: started, ended, "
                                         "closed, still open, mean days of ended cases and mean days to close (recent "
                                         "years biased short: their long cases are still open)." + _WITHHELD
                                         + "n_started, n_ended, n_closed, n_open, across years too. Means are kept."
                                         + _ORIGIN,
}
MART_KEYS = {table: dg.AssetKey(table.split(".")) for table in CASEWORK_MARTS}
_KEYS = ["trial_id", "treated_arm", "control_arm"]
_EMPTY_COLUMNS = {
    "marts.risk_scores_by_arm": [*_KEYS, "arm", "time_point", "n_cases", "mean_engagement_score",
                                 "mean_protective_score", "mean_risk_score", "mean_total_score", "sd_total_score",
                                 "data_origin"],
    "marts.risk_score_changes": [*_KEYS, "from_time_point", "to_time_point", "arm", "n_cases", "mean_total_from",
                                 "mean_total_to", "mean_change", "sd_change", "p_value_paired", "p_value_between_arms",
                                 "data_origin"],
    "marts.service_summary": [*_KEYS, "measure", "category", "n_families", "n_total", "share", "mean_days",
                              "benchmark_share", "p_value_vs_benchmark", "data_origin"],
    "marts.service_case_length_by_year": [*_KEYS, "start_year", "n_started", "n_ended", "mean_days_ended", "n_closed",
                                          "mean_days_to_close", "n_open", "data_origin"]}
_TEXT = {"trial_id", "treated_arm", "control_arm", "arm", "time_point", "from_time_point", "to_time_point",
         "measure", "category", "data_origin"}


def _empty_mart(table: str) -> pd.DataFrame:
    """A mart no trial has rows for (no trial has that extract): its columns, typed, and no rows."""
    columns = _EMPTY_COLUMNS.get(table, ["trial_id", "data_origin"])
    return pd.DataFrame({c: pd.Series(dtype="object" if c in _TEXT else "Int64" if c.startswith("n_")
                                      or c == "start_year" else "float64") for c in columns})


def trial_frames(restricted_duckdb: DuckDBResource) -> dict[str, pd.DataFrame]:
    """The restricted tables the marts are built from."""
    return {"cases": _restricted(restricted_duckdb, "restricted.trial_cases"),
            "scores": _restricted(restricted_duckdb, "restricted.risk_scores", "ORDER BY trial_id, source_row"),
            "service": _restricted(restricted_duckdb, "restricted.service_mi", "ORDER BY trial_id, source_row")}


def build_marts(frames: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], dict]:
    """Every trial's marts, unsuppressed, and the members of their counts.  Every other trial's are worked out
    in the build's helper process (the other core) while this process works out the rest
    (`helper_process.call_all`; without one, each here in turn): the same function, the same marts, stacked in
    the trials' order."""
    per_trial = [part for parts in helper_process.call_all([(trial_marts.marts_of_trial, (trial, frames), {})
                                                            for trial in trials()])
                 for part in parts]
    marts, populations = trial_marts.stack(per_trial)
    for table in CASEWORK_MARTS:
        if table not in marts:
            marts[table] = _empty_mart(table)
    return marts, populations


@dg.multi_asset(
    specs=[dg.AssetSpec(key, group_name=GROUP, kinds={"duckdb", "python"},
                        deps=[TRIAL_CASES_KEY, RISK_SCORES_KEY, SERVICE_MI_KEY],
                        description=MART_DESCRIPTIONS[table]) for table, key in MART_KEYS.items()],
    can_subset=False)
def casework_marts(context: dg.AssetExecutionContext, duckdb: DuckDBResource, restricted_duckdb: DuckDBResource):
    """Every case-level mart of every trial, suppressed together, written to the analysts' warehouse."""
    marts, populations = build_marts(trial_frames(restricted_duckdb))
    groupings = {"marts.case_length_tobit": (), **service_groupings(marts["marts.service_summary"],
                                                                     marts["marts.service_case_length_by_year"])}
    published = protected_marts(marts, populations, groupings)
    with duckdb.get_connection() as con:
        for table, frame in published.items():
            counts = PUBLISHED_COUNTS[table]
            withheld = sum(int((frame[f"{c}{STATUS}"] == SUPPRESSED).sum()) for c in counts if f"{c}{STATUS}" in frame)
            replace_table(con, table, frame)
            yield dg.MaterializeResult(asset_key=MART_KEYS[table], metadata=table_metadata(
                con, table,
                data_origin=dg.MetadataValue.text(", ".join(sorted(frame["data_origin"].dropna().unique())) or "none"),
                trials=dg.MetadataValue.text(", ".join(sorted(frame["trial_id"].dropna().astype(str).unique()))),
                suppressed_columns=dg.MetadataValue.text(", ".join(counts)),
                counts_withheld=dg.MetadataValue.int(withheld)))


# --- marts: the census against what DfE published --------------------------------

RECONCILIATION = "marts.census_reconciliation"


@dg.asset(key=["marts", "census_reconciliation"], group_name=GROUP, kinds={"duckdb", "python"},
          deps=[CENSUS_KEYS["episodes"], CENSUS_KEYS["cp_plans"],
                *sql_dependencies("casework/published_authority_counts.sql")],
          description="Each trial authority's totals counted from its census returns by DfE's definitions (the "
                      "measure registry's case-level measures) beside the figure DfE published for that authority "
                      "and year (staging.cin_area_year, the latest release's counts): one row per authority, "
                      "collection_year (of the trial's "
                      "reconcile_years) and measure (referrals, rereferrals, cin_at_31_march, closures, escalations), "
                      "with difference, tolerance (half DfE's rounding unit, or the trial's relative share) and "
                      "within_tolerance (NULL: not comparable, note says why). A census value of 1 to 5 is withheld "
                      "(NULL, 'c' in census_value_status) with its difference. Every row carries data_origin.")
def marts_census_reconciliation(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                                restricted_duckdb: DuckDBResource) -> dg.MaterializeResult:
    episodes = _restricted(restricted_duckdb, CENSUS_TABLES["episodes"])
    plans = _restricted(restricted_duckdb, CENSUS_TABLES["cp_plans"])
    configured = list(trials())
    counted = totals.authority_totals(episodes, plans) if len(episodes) else pd.DataFrame(
        columns=["authority_code", "collection_year", "measure", "census_value", "note"])
    with duckdb.get_connection() as con:
        published = con.execute(sql_text("casework/published_authority_counts.sql")).df()
    units = totals.rounding_units(published)
    published = published.merge(units, on=["collection_year", "measure"], how="left")
    relative = {t.authority_code: t.relative_tolerance for t in configured}
    years = {}
    for t in configured:
        years[t.authority_code] = tuple(sorted(set(years.get(t.authority_code, ())) | set(t.reconcile_years)))
    frame = totals.reconcile(counted, published, relative, years)
    origin = {t.authority_code: t.data_origin for t in configured}
    frame["data_origin"] = frame["authority_code"].map(origin)
    published_frame = withhold_small_counts(frame, ["census_value"])
    published_frame.loc[published_frame["census_value_status"] == SUPPRESSED, "difference"] = np.nan
    with duckdb.get_connection() as con:
        replace_table(con, RECONCILIATION, published_frame)
        within = frame["within_tolerance"]
        return dg.MaterializeResult(metadata=table_metadata(
            con, RECONCILIATION, data_origin=dg.MetadataValue.text(", ".join(sorted(set(origin.values()))) or "none"),
            within_tolerance=dg.MetadataValue.int(int(within.fillna(False).sum())),
            not_within=dg.MetadataValue.int(int((within == False).sum())),  # noqa: E712 - a nullable column
            not_comparable=dg.MetadataValue.int(int(within.isna().sum()))))


def restricted_census_tables(restricted_duckdb: DuckDBResource) -> dict[str, pd.DataFrame]:
    return {name: _restricted(restricted_duckdb, table) for name, table in CENSUS_TABLES.items()}
