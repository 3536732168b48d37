"""Figures (PNG), the evaluation report (HTML) and the data dictionary.

Figures and the report are drawn for the default study (DEFAULT_STUDY_ID in
data/studies.yaml) on the latest data vintage that estimated it. Each figure
asset writes its PNG(s) into outputs_dir()/figures/ and shows them in the
Dagster UI (a markdown image in the materialization's metadata); the report
asset embeds those files in outputs_dir()/evaluation_report.html. Both are
regenerated whenever the marts they read are.

marts.data_dictionary runs after every published table: CREATE OR REPLACE
drops a table's comments, so it writes them again on each refresh, before
the publish step copies the build file.
"""
import base64
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pandas as pd
import yaml
from dagster_duckdb import DuckDBResource

from ...core import figures, report
from ...core.did.config import load_studies
from ...resources import SourcesResource
from ...settings import code_version, outputs_dir, studies_path
from ...warehouse import replace_table, table_metadata

GROUP = "report"
OWNERS = ["team:evaluation"]
DEFAULT_STUDY_ID = "fact22_cheshire_east"
REPORT_FILE = "evaluation_report.html"
FIGURES_DIR = "figures"
DESCRIPTIONS_FILE = "column_descriptions.yaml"


def _mart(name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", name])


# --------------------------------------------------------------------------- the study and its vintage


class Scope:
    """The study the figures and report show, the vintage, and the treated authority's name."""

    def __init__(self, con, study_id: str = DEFAULT_STUDY_ID):
        entries = {e.study.study_id: e for e in load_studies(studies_path())}
        if study_id not in entries:
            raise ValueError(f"study {study_id!r} is not in {studies_path()}; it lists {sorted(entries)}")
        entry = entries[study_id]
        self.study, self.description = entry.study, entry.description
        row = con.execute(
            "SELECT r.vintage FROM marts.did_runs AS r "
            "JOIN (SELECT DISTINCT vintage, vintage_rank FROM marts.cin_rates_vintages) AS v USING (vintage) "
            "WHERE r.study_id = $study_id AND r.status = 'estimated' ORDER BY v.vintage_rank DESC LIMIT 1",
            {"study_id": study_id}).fetchone()
        if row is None:
            raise ValueError(f"no data vintage estimated study {study_id!r}: see marts.did_runs")
        self.vintage = row[0]
        name = con.execute(
            "SELECT arg_max(coalesce(la_name, area_name), collection_year) FROM marts.cin_rates "
            "WHERE coalesce(panel_unit_code, area_code) = $code", {"code": self.study.treated_unit_code}).fetchone()
        self.treated_name = (name[0] if name else None) or self.study.treated_unit_code

    @property
    def params(self) -> dict:
        return {"study_id": self.study.study_id, "vintage": self.vintage}

    def setup(self) -> report.StudySetup:
        s = self.study
        return report.StudySetup(
            study_id=s.study_id, treated_unit_code=s.treated_unit_code, treated_name=self.treated_name,
            first_post_year=s.first_post_year, pre_years=tuple(s.pre_years), post_years=tuple(s.post_years),
            outcomes=tuple(s.outcomes), covariate=s.covariate, description=self.description,
            pretrend_alpha=s.ranking.pretrend_alpha)


def _study_rows(con, table: str, scope: Scope, order: str) -> pd.DataFrame:
    """Rows of a strand-1 mart for the scope's study and vintage (table names are constants of this module)."""
    return con.execute(f"SELECT * FROM {table} WHERE study_id = $study_id AND vintage = $vintage ORDER BY {order}",
                       scope.params).df()


def _rates(con, scope: Scope) -> pd.DataFrame:
    """Every authority and England as the report's vintage has them, keyed by panel unit."""
    return con.execute(
        "SELECT coalesce(panel_unit_code, area_code) AS unit_code, coalesce(la_name, area_name) AS unit_name, "
        "collection_year, closures_per_10k, rereferrals_per_10k, escalations_per_10k, referrals_per_10k, "
        "cin_per_10k_children FROM marts.cin_rates_vintages "
        "WHERE vintage = $vintage AND geographic_level IN ('National', 'Local authority') "
        "ORDER BY unit_code, collection_year", {"vintage": scope.vintage}).df()


def _main_p_values(did: pd.DataFrame) -> dict[str, float]:
    for method in report.MAIN_METHODS:
        rows = did[did["method"] == method]
        if len(rows):
            return dict(zip(rows["outcome"], rows["permutation_p_value"]))
    return {}


# --------------------------------------------------------------------------- drawing each figure


def figure_file(name: str) -> Path:
    return outputs_dir() / FIGURES_DIR / f"{name}.png"


def _draw_outcome_trends(con, scope: Scope) -> list[tuple[str, str, bytes]]:
    rates = _rates(con, scope)
    chosen = _study_rows(con, "marts.comparator_ranking", scope, "outcome")
    chosen = dict(zip(chosen.loc[chosen["selected"], "outcome"], chosen.loc[chosen["selected"], "unit_code"]))
    s = scope.study
    return [(report.outcome_trend_figure(outcome), figures.OUTCOME_LABELS.get(outcome, outcome),
             figures.outcome_trends(rates, outcome, treated_code=s.treated_unit_code,
                                    comparator_code=chosen.get(outcome), first_post_year=s.first_post_year,
                                    study_years=s.study_years))
            for outcome in s.outcomes]


def _draw_cin(con, scope: Scope):
    rates = _rates(con, scope)
    return [(report.FIGURE_CIN, "Children in need at 31 March per 10,000 children: treated authority and England",
             figures.cin_treated_vs_england(rates, treated_code=scope.study.treated_unit_code,
                                            first_post_year=scope.study.first_post_year))]


def _draw_event_study(con, scope: Scope):
    events = _study_rows(con, "marts.did_event_study", scope, "outcome, covariate_adjusted, collection_year")
    return [(report.FIGURE_EVENT_STUDY, "Event study: year-by-year effects with placebo intervals",
             figures.event_study(events, first_post_year=scope.study.first_post_year,
                                 outcomes=scope.study.outcomes))]


def _draw_placebo(con, scope: Scope):
    placebos = _study_rows(con, "marts.did_placebo_space", scope, "outcome, role DESC, unit_code")
    did = _study_rows(con, "marts.did_results", scope, "outcome, method")
    return [(report.FIGURE_PLACEBO, "Placebo-in-space: the treated estimate among placebo authorities",
             figures.placebo_distribution(placebos, p_values=_main_p_values(did),
                                          outcomes=scope.study.outcomes))]


def _draw_synthetic_control(con, scope: Scope):
    paths = _study_rows(con, "marts.synthetic_control_paths", scope, "outcome, collection_year")
    return [(report.FIGURE_SYNTHETIC_CONTROL, "Synthetic control: treated authority and its synthetic control",
             figures.synthetic_control_path(paths, first_post_year=scope.study.first_post_year,
                                            outcomes=scope.study.outcomes))]


def _draw_rct(con, _scope=None):
    results = con.execute("SELECT * FROM marts.rct_results").df()
    return [(report.FIGURE_RCT, "RCT: the control group's observed rate and its rate had it received FACT22",
             figures.rct_probabilities(results))]


def _draw_risk(con, _scope=None):
    by_arm = con.execute("SELECT * FROM marts.risk_scores_by_arm").df()
    return [(report.FIGURE_RISK, "Risk analysis: mean total, protective and risk scores by arm",
             figures.risk_scores(by_arm))]


def _draw_service(con, _scope=None):
    by_year = con.execute("SELECT * FROM marts.service_case_length_by_year ORDER BY start_year").df()
    return [(report.FIGURE_SERVICE, "FACT22 service: average case length by start year",
             figures.service_case_length(by_year))]


# Strand-1 figures show the default study on its latest estimated vintage (Scope);
# casework figures (the last element names their mart) show the one trial and
# carry its data_origin.
STRAND_1 = [_mart("did_runs"), _mart("cin_rates_vintages")]
FIGURES: dict[str, tuple[str, list[dg.AssetKey], Callable, str | None]] = {
    "outcome_trends": (
        "Per outcome, rates per 10,000 residents for the treated authority, its selected comparator, Cheshire West "
        "and Chester and England, with the programme's start (report Figures 7-9).",
        [*STRAND_1, _mart("comparator_ranking")], _draw_outcome_trends, None),
    "cin_treated_vs_england": (
        "Children in need at 31 March per 10,000 children, treated authority vs England (report Figure 14).",
        STRAND_1, _draw_cin, None),
    "event_study": (
        "Event-study coefficients per outcome with placebo-based 95% intervals.",
        [*STRAND_1, _mart("did_event_study")], _draw_event_study, None),
    "placebo_distribution": (
        "Placebo-in-space estimates per outcome with the treated authority's estimate marked.",
        [*STRAND_1, _mart("did_placebo_space"), _mart("did_results")], _draw_placebo, None),
    "synthetic_control_path": (
        "Treated authority and its synthetic control per outcome.",
        [*STRAND_1, _mart("synthetic_control_paths")], _draw_synthetic_control, None),
    "rct_probabilities": (
        "RCT: the control group's observed rate and its rate had it received FACT22, with 95% intervals "
        "(report Figures 2-3). Labelled SYNTHETIC DATA while the inputs are the stand-ins.",
        [_mart("rct_results")], _draw_rct, "rct_results"),
    "risk_scores": (
        "Risk analysis: mean total, protective-factor and risk-factor scores by arm over the three coding points "
        "(report Figures 4-6). Labelled SYNTHETIC DATA while the inputs are the stand-ins.",
        [_mart("risk_scores_by_arm")], _draw_risk, "risk_scores_by_arm"),
    "service_case_length": (
        "FACT22 service: average days to close a case by start year (report Figure 1). Labelled SYNTHETIC DATA "
        "while the inputs are the stand-ins.",
        [_mart("service_case_length_by_year")], _draw_service, "service_case_length_by_year"),
}


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` in one step, so a reader never opens half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _image_markdown(title: str, png: bytes) -> str:
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def _figure_asset(name: str, description: str, deps: list[dg.AssetKey], draw: Callable, casework_mart: str | None):
    @dg.asset(key=["figures", name], group_name=GROUP, owners=OWNERS, kinds={"python", "matplotlib"},
              deps=deps, description=description)
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
        with duckdb.get_connection() as con:
            if casework_mart is None:
                scope = Scope(con)
                metadata: dict = {"study_id": dg.MetadataValue.text(scope.study.study_id),
                                  "vintage": dg.MetadataValue.text(scope.vintage)}
                drawn = draw(con, scope)
            else:
                origins = con.execute(f"SELECT DISTINCT data_origin FROM marts.{casework_mart}").fetchall()
                metadata = {"data_origin": dg.MetadataValue.text(", ".join(sorted(str(o[0]) for o in origins)))}
                drawn = draw(con, None)
        images = []
        for file_name, title, png in drawn:
            path = figure_file(file_name)
            write_atomically(path, png)
            metadata["path" if len(drawn) == 1 else f"path_{file_name}"] = dg.MetadataValue.path(str(path))
            images.append(f"**{title}**\n\n{_image_markdown(title, png)}")
        metadata["figure"] = dg.MetadataValue.md("\n\n".join(images))
        metadata["files"] = dg.MetadataValue.int(len(drawn))
        context.log.info(f"wrote {len(drawn)} figure(s) to {outputs_dir() / FIGURES_DIR}")
        return dg.MaterializeResult(metadata=metadata)

    return _asset


figures_outcome_trends = _figure_asset("outcome_trends", *FIGURES["outcome_trends"])
figures_cin_treated_vs_england = _figure_asset("cin_treated_vs_england", *FIGURES["cin_treated_vs_england"])
figures_event_study = _figure_asset("event_study", *FIGURES["event_study"])
figures_placebo_distribution = _figure_asset("placebo_distribution", *FIGURES["placebo_distribution"])
figures_synthetic_control_path = _figure_asset("synthetic_control_path", *FIGURES["synthetic_control_path"])
figures_rct_probabilities = _figure_asset("rct_probabilities", *FIGURES["rct_probabilities"])
figures_risk_scores = _figure_asset("risk_scores", *FIGURES["risk_scores"])
figures_service_case_length = _figure_asset("service_case_length", *FIGURES["service_case_length"])


# --------------------------------------------------------------------------- the evaluation report

REPORT_MARTS = ["did_results", "did_placebo_time", "synthetic_control_weights", "comparator_ranking", "rct_results",
                "rct_balance", "case_length_tobit", "risk_scores_by_arm", "risk_score_changes", "service_summary",
                "service_case_length_by_year", "cin_rates_vintages", "did_runs"]
# What a complete report shows: checked on every materialization.
REPORT_TABLES = ["study", "comparator_ranking", "did_results", "did_means", "inference", "did_placebo_time",
                 "synthetic_control_weights", "did_results_by_vintage", "rct_results", "rct_balance",
                 "case_length_tobit", "risk_scores_by_arm", "risk_score_changes", "service_summary",
                 "service_case_length_by_year", "vintages", "source_files"]
FIXED_FIGURES = [report.FIGURE_PLACEBO, report.FIGURE_EVENT_STUDY, report.FIGURE_SYNTHETIC_CONTROL,
                 report.FIGURE_CIN, report.FIGURE_RCT, report.FIGURE_RISK, report.FIGURE_SERVICE]
FIGURE_TITLES = {
    report.FIGURE_PLACEBO: "Placebo-in-space: the treated authority's estimate among placebo authorities",
    report.FIGURE_EVENT_STUDY: "Event study: year-by-year effects relative to the last pre-period year",
    report.FIGURE_SYNTHETIC_CONTROL: "Synthetic control: the treated authority and its weighted mix of authorities",
    report.FIGURE_CIN: "Children in need at 31 March per 10,000 children (the report's Figure 14)",
    report.FIGURE_RCT: "RCT: control group observed and had it received FACT22 (the report's Figures 2-3)",
    report.FIGURE_RISK: "Risk: mean total, protective and risk scores by arm (the report's Figures 4-6)",
    report.FIGURE_SERVICE: "Service: average days to close a case by start year (the report's Figure 1)",
}


def report_figure_names(outcomes) -> list[str]:
    return [report.outcome_trend_figure(o) for o in outcomes] + FIXED_FIGURES


def _read_figures(names: list[str]) -> dict[str, report.ReportFigure]:
    missing = [n for n in names if not figure_file(n).exists()]
    if missing:
        raise FileNotFoundError(f"figure file(s) {', '.join(missing)} missing in {outputs_dir() / FIGURES_DIR}: "
                                "materialise the figures/ assets first")
    out = {}
    for name in names:
        outcome = name.removeprefix("outcome_trends_")
        title = FIGURE_TITLES.get(name) or f"{figures.OUTCOME_LABELS.get(outcome, outcome)} (the report's Figures 7-9)"
        out[name] = report.ReportFigure(title=title, png=figure_file(name).read_bytes())
    return out


def report_inputs(con, scope: Scope) -> report.ReportInputs:
    def all_rows(table: str, order: str) -> pd.DataFrame:
        return con.execute(f"SELECT * FROM {table} ORDER BY {order}").df()

    s = scope.study
    treated = con.execute(
        "SELECT collection_year, closures_per_10k, rereferrals_per_10k, escalations_per_10k, referrals_per_10k "
        "FROM marts.cin_rates_vintages WHERE vintage = $vintage AND panel_unit_code = $code ORDER BY collection_year",
        {"vintage": scope.vintage, "code": s.treated_unit_code}).df()
    did = _study_rows(con, "marts.did_results", scope, "outcome, method")
    by_vintage = con.execute(
        "SELECT d.* FROM marts.did_results AS d "
        "JOIN (SELECT DISTINCT vintage, vintage_rank FROM marts.cin_rates_vintages) AS v USING (vintage) "
        "WHERE d.study_id = $study_id ORDER BY d.outcome, v.vintage_rank, d.method",
        {"study_id": s.study_id}).df()
    versions = [code_version(), *did.get("code_version", pd.Series(dtype=str)).dropna().unique()]
    return report.ReportInputs(
        study=scope.setup(), vintage=scope.vintage, treated_rates=treated,
        comparator_ranking=_study_rows(con, "marts.comparator_ranking", scope, "outcome, rank NULLS LAST, unit_code"),
        did_results=did,
        did_placebo_time=_study_rows(con, "marts.did_placebo_time", scope, "outcome, fake_first_post_year, method"),
        synthetic_control_weights=_study_rows(con, "marts.synthetic_control_weights", scope,
                                              "outcome, weight DESC, unit_code"),
        estimates_by_vintage=by_vintage,
        rct_results=all_rows("marts.rct_results", "analysis DESC, outcome"),
        rct_balance=con.execute("SELECT * FROM marts.rct_balance WHERE analysis = 'itt'").df(),
        case_length_tobit=con.execute("SELECT * FROM marts.case_length_tobit").df(),
        risk_scores_by_arm=con.execute("SELECT * FROM marts.risk_scores_by_arm").df(),
        risk_score_changes=con.execute("SELECT * FROM marts.risk_score_changes").df(),
        service_summary=con.execute("SELECT * FROM marts.service_summary").df(),
        service_case_length_by_year=all_rows("marts.service_case_length_by_year", "start_year"),
        source_files=all_rows("raw.source_files", "release_rank, source_file"),
        vintages=con.execute("SELECT vintage, min(collection_year) AS first_year, max(collection_year) AS last_year "
                             "FROM marts.cin_rates_vintages GROUP BY vintage, vintage_rank ORDER BY vintage_rank").df(),
        code_versions=versions,
        figures=_read_figures(report_figure_names(s.outcomes)),
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def report_completeness(html_text: str, figure_names: list[str], synthetic: bool) -> list[str]:
    """What a complete report would show and this one does not."""
    problems = [f"figure {n} not embedded" for n in figure_names
                if f'data-figure="{n}"><img src="data:image/png;base64,' not in html_text]
    problems += [f"table {t} missing" for t in REPORT_TABLES if f'data-table="{t}"' not in html_text]
    if synthetic and 'class="synthetic-banner"' not in html_text:
        problems.append("SYNTHETIC inputs but no SYNTHETIC banner")
    if 'class="missing"' in html_text:
        problems.append("a section says its data are not available")
    return problems


@dg.asset(key=["reports", "evaluation_report"], group_name=GROUP, owners=OWNERS, kinds={"python", "html"},
          deps=[*(dg.AssetKey(["figures", n]) for n in FIGURES), *(_mart(n) for n in REPORT_MARTS),
                dg.AssetKey(["raw", "source_files"])],
          check_specs=[dg.AssetCheckSpec("report_complete", asset=["reports", "evaluation_report"],
                                         description="Every figure is embedded as an image and every table of the "
                                                     "report is present; SYNTHETIC inputs carry the banner.")],
          description="The evaluation report for the default study: one self-contained HTML file (figures "
                      "embedded) with the study set-up, comparator choice, DiD table, inference, estimates per "
                      "vintage, RCT, risk and service results, limitations worked out from the data, and the data "
                      "vintages, source sha256s and code version. Written to outputs/evaluation_report.html.")
def reports_evaluation_report(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        scope = Scope(con)
        inputs = report_inputs(con, scope)
    text = report.render_report(inputs)
    path = outputs_dir() / REPORT_FILE
    write_atomically(path, text.encode("utf-8"))
    names = report_figure_names(scope.study.outcomes)
    synthetic = any(report.is_synthetic(getattr(inputs, n)) for n in
                    ("rct_results", "risk_scores_by_arm", "service_case_length_by_year"))
    problems = report_completeness(text, names, synthetic)
    limits = report.limitations(inputs)
    context.log.info(f"wrote {path} ({len(text) / 1e6:.1f} MB, {len(names)} figures)")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "url": dg.MetadataValue.url(path.resolve().as_uri()),
            "study_id": dg.MetadataValue.text(scope.study.study_id),
            "vintage": dg.MetadataValue.text(scope.vintage),
            "figures": dg.MetadataValue.int(len(names)),
            "size_bytes": dg.MetadataValue.int(len(text.encode("utf-8"))),
            "synthetic_inputs": dg.MetadataValue.bool(synthetic),
            "limitations": dg.MetadataValue.md("\n".join(f"- {line}" for line in limits)),
        },
        check_results=[dg.AssetCheckResult(
            check_name="report_complete", passed=not problems,
            description="; ".join(problems) if problems else f"{len(names)} figures and {len(REPORT_TABLES)} "
                                                              "tables present",
            metadata={"problems": dg.MetadataValue.json(problems)})],
    )


# --------------------------------------------------------------------------- the data dictionary

# Every table the warehouse publishes: the dictionary runs after all of them,
# since rebuilding a table drops its comments. tests/integration/test_report_assets.py
# fails when a table asset is missing here.
DESCRIBED_TABLES = [
    "raw.source_files", "raw.cin_sfr", "raw.cin_ees", "raw.ons_population", "raw.la_lookup", "raw.regions",
    "raw.statistical_neighbours", "raw.deprivation", "reference.boundary_changes", "reference.population_geography",
    "staging.la_reference", "staging.cin_area_year", "staging.cin_area_year_vintages", "staging.population_area_year",
    "marts.cin_rates", "marts.cin_rates_vintages", "marts.revisions",
    "marts.comparator_ranking", "marts.did_results", "marts.did_placebo_space", "marts.did_placebo_time",
    "marts.did_event_study", "marts.synthetic_control_weights", "marts.synthetic_control_paths",
    "marts.synthetic_control_placebos", "marts.did_runs",
    "marts.rct_results", "marts.rct_balance", "marts.rct_minimum_detectable_effects", "marts.case_length_tobit",
    "marts.risk_scores_by_arm", "marts.risk_score_changes", "marts.service_summary",
    "marts.service_case_length_by_year",
]
DICTIONARY = "marts.data_dictionary"


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def published_columns(con) -> pd.DataFrame:
    return con.execute(
        "SELECT schema_name AS table_schema, table_name, column_name, data_type, comment, column_index "
        "FROM duckdb_columns() WHERE database_name = current_database() AND schema_name IN "
        "('raw', 'reference', 'staging', 'marts') ORDER BY schema_name, table_name, column_index").df()


def published_tables(con) -> pd.DataFrame:
    return con.execute(
        "SELECT schema_name AS table_schema, table_name, comment, estimated_size AS row_count FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name IN ('raw', 'reference', 'staging', 'marts') "
        "ORDER BY schema_name, table_name").df()


def apply_comments(con, spec: dict) -> pd.DataFrame:
    """COMMENT ON every published table and described column; the dictionary rows (described or not)."""
    columns = report.describe_columns(spec, published_columns(con))
    for row in published_tables(con).itertuples():
        name = f"{row.table_schema}.{row.table_name}"
        text = report.table_description(spec, name)
        if text:
            con.execute(f"COMMENT ON TABLE {_identifier(row.table_schema)}.{_identifier(row.table_name)} "
                        f"IS {_literal(text)}")
    for row in columns.itertuples():
        if row.description:
            con.execute(f"COMMENT ON COLUMN {_identifier(row.table_schema)}.{_identifier(row.table_name)}."
                        f"{_identifier(row.column_name)} IS {_literal(row.description)}")
    return columns


@dg.asset(key=["marts", "data_dictionary"], group_name=GROUP, owners=OWNERS, kinds={"duckdb", "yaml"},
          deps=[dg.AssetKey(t.split(".")) for t in DESCRIBED_TABLES],
          description="Every column of every published table with its type and description (table_schema, "
                      "table_name, column_name, data_type, description). Writes each description into the "
                      "warehouse as COMMENT ON TABLE / COLUMN, from data/reference/column_descriptions.yaml "
                      "(the check every_column_described lists what it lacks).")
def marts_data_dictionary(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                          sources: SourcesResource) -> dg.MaterializeResult:
    spec = yaml.safe_load(sources.reference_file(DESCRIPTIONS_FILE).read_text(encoding="utf-8")) or {}
    with duckdb.get_connection() as con:
        described = apply_comments(con, spec)
        itself = (described["table_schema"] == "marts") & (described["table_name"] == "data_dictionary")
        described = described[~itself]
        own = pd.DataFrame({"table_schema": "marts", "table_name": "data_dictionary",
                            "column_name": ["table_schema", "table_name", "column_name", "data_type", "description"],
                            "data_type": "VARCHAR"})
        dictionary = pd.concat([described, report.describe_columns(spec, own)], ignore_index=True)
        dictionary = dictionary.sort_values(["table_schema", "table_name"], kind="stable").reset_index(drop=True)
        replace_table(con, DICTIONARY, dictionary)
        apply_comments(con, spec)  # the dictionary's own comments
        coverage = dictionary.assign(described=dictionary["description"].notna()).groupby("table_schema")["described"]
        metadata = table_metadata(
            con, DICTIONARY,
            columns_described=dg.MetadataValue.int(int(dictionary["description"].notna().sum())),
            columns_undescribed=dg.MetadataValue.int(int(dictionary["description"].isna().sum())),
            coverage=dg.MetadataValue.md(coverage.agg(["sum", "count"]).rename(
                columns={"sum": "described", "count": "columns"}).reset_index().to_markdown(index=False)))
    return dg.MaterializeResult(metadata=metadata)
