"""The evaluation report asset: one self-contained HTML file for the scope's study.

It embeds the figure files the figure assets wrote (outputs_dir()/figures/)
and is regenerated whenever the marts it reads are.
"""
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core import measures, report
from fact22_assets.core.files import write_atomically
from fact22_assets.defs.report.figures import FIGURES, FIGURES_DIR, figure_file
from fact22_assets.defs.report.scope import GROUP, Scope, _mart, _study_rows
from fact22_assets.glue.publishing import outputs_of
from fact22_assets.settings import code_version, outputs_dir

REPORT_FILE = "evaluation_report.html"


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


def _read_figures(names: list[str], outputs: Path | None = None) -> dict[str, report.ReportFigure]:
    missing = [n for n in names if not figure_file(n, outputs).exists()]
    if missing:
        raise FileNotFoundError(f"figure file(s) {', '.join(missing)} missing in {outputs or outputs_dir()}/"
                                f"{FIGURES_DIR}: "
                                "materialise the figures/ assets first")
    out = {}
    for name in names:
        outcome = name.removeprefix("outcome_trends_")
        title = FIGURE_TITLES.get(name) or f"{measures.title(outcome)} (the report's Figures 7-9)"
        out[name] = report.ReportFigure(title=title, png=figure_file(name, outputs).read_bytes())
    return out


def report_inputs(con, scope: Scope, outputs: Path | None = None) -> report.ReportInputs:
    def all_rows(table: str, order: str) -> pd.DataFrame:
        return con.execute(f"SELECT * FROM {table} ORDER BY {order}").df()

    s = scope.study
    treated = con.execute(
        f"SELECT collection_year, {', '.join(measures.RATE_NAMES)} "
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
        figures=_read_figures(report_figure_names(s.outcomes), outputs),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
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


@dg.asset(key=["reports", "evaluation_report"], group_name=GROUP, kinds={"python", "html"},
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
        inputs = report_inputs(con, scope, outputs_of(duckdb))
    text = report.render_report(inputs)
    path = outputs_of(duckdb) / REPORT_FILE
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
