"""The evaluation report asset: one self-contained HTML file for the scope's study.

It embeds the figure files the figure assets wrote (outputs_dir()/figures/, and
figures/<study_id>/ for a study other than the default one) and is
regenerated whenever the marts it reads are.
"""
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core import helper_process, measures, report
from fact22_assets.core.files import write_atomically
from fact22_assets.defs.report.figures import FIGURES, figure_data_file, figure_file, read_figure_data
from fact22_assets.defs.report.scope import (
    DEFAULT_STUDY_ID,
    GROUP,
    SCOPE_SQL,
    Scope,
    report_dependencies,
    report_rows,
)
from fact22_assets.glue.publishing import outputs_of, published_location
from fact22_assets.settings import code_version

REPORT_FILE = "evaluation_report.html"


# What a complete report shows: checked on every materialization.
REPORT_TABLES = ["first_screen", "robustness", "whole_pool", "comparator_stability", "study", "comparator_ranking", "did_results",
                 "did_means",
                 "inference", "did_placebo_time", "synthetic_control_weights", "did_results_by_vintage", "rct_results",
                 "rct_balance", "case_length_tobit", "risk_scores_by_arm", "risk_score_changes", "service_summary",
                 "service_case_length_by_year", "vintages", "source_files"]
# In the order the report shows them: the specification curve leads, the outcome trends follow, then these.
FIXED_FIGURES = [report.FIGURE_PLACEBO, report.FIGURE_EVENT_STUDY,
                 report.FIGURE_SYNTHETIC_CONTROL, report.FIGURE_CIN, report.FIGURE_RCT, report.FIGURE_RISK, report.FIGURE_SERVICE]
# The casework parts of a report, what each shows, and which trial files it needs (data/trials.yaml).
CASEWORK_PARTS = {"rct": ([report.FIGURE_RCT], ["rct_results", "rct_balance", "case_length_tobit"]),
                  "risk": ([report.FIGURE_RISK], ["risk_scores_by_arm", "risk_score_changes"]),
                  "service": ([report.FIGURE_SERVICE], ["service_summary", "service_case_length_by_year"])}
ALL_PARTS = tuple(CASEWORK_PARTS)


def casework_parts(treated_unit_code: str) -> tuple[str, ...]:
    """What the trials run in a study's authority let its report show: the trial (rct), and its coded risk notes
    and service information where a trial has them."""
    from fact22_assets.glue.trials import trials

    here = [t for t in trials() if t.authority_code == treated_unit_code]
    parts = ["rct"] if here else []
    if any(t.extract("risk_notes") for t in here):
        parts.append("risk")
    if any(t.extract("service_information") for t in here):
        parts.append("service")
    return tuple(parts)


def report_tables(parts: tuple[str, ...] = ALL_PARTS) -> list[str]:
    """The tables a complete report shows, given its casework parts."""
    left_out = {t for part, (_, tables) in CASEWORK_PARTS.items() if part not in parts for t in tables}
    return [t for t in REPORT_TABLES if t not in left_out]


FIGURE_TITLES = {
    report.FIGURE_SPECIFICATION_CURVE: "Specification curve: the report's DiD against every eligible comparator",
    report.FIGURE_PLACEBO: "Placebo-in-space: the treated authority's estimate among placebo authorities",
    report.FIGURE_EVENT_STUDY: "Event study: year-by-year effects relative to the last pre-period year",
    report.FIGURE_SYNTHETIC_CONTROL: "Synthetic control: the treated authority and its weighted mix of authorities",
    report.FIGURE_CIN: f"{measures.title('cin_per_10k_children')} (the report's Figure 14)",
    report.FIGURE_RCT: "Trial: control group observed and had it been treated (RR1067's Figures 2-3)",
    report.FIGURE_RISK: "Risk: mean total, protective and risk scores by arm (the report's Figures 4-6)",
    report.FIGURE_SERVICE: "Service: average days to close a case by start year (the report's Figure 1)",
}


def report_figure_names(outcomes, parts: tuple[str, ...] = ALL_PARTS) -> list[str]:
    left_out = {f for part, (figures, _) in CASEWORK_PARTS.items() if part not in parts for f in figures}
    return [report.FIGURE_SPECIFICATION_CURVE, *(report.outcome_trend_figure(o) for o in outcomes),
            *(f for f in FIXED_FIGURES if f not in left_out)]


def _read_figures(names: list[str], outputs: Path | None = None, study_id: str | None = None
                  ) -> dict[str, report.ReportFigure]:
    """The study's figures as the figure assets wrote them (each drawn once, in the figure assets); a
    figure this run did not redraw (a refresh of what depends on changed sources only) is the published one."""
    where = {n: outputs if outputs is None or figure_file(n, outputs, study_id).exists() else None
             for n in names}
    missing = [n for n in names if not figure_file(n, where[n], study_id).exists()]
    if missing:
        raise FileNotFoundError(f"figure file(s) {', '.join(str(figure_file(n, outputs, study_id)) for n in missing)} "
                                "missing: materialise the figures/ assets first")
    out = {}
    for name in names:
        outcome = name.removeprefix("outcome_trends_")
        title = FIGURE_TITLES.get(name) or f"{measures.title(outcome)} (the report's Figures 7-9)"
        data_file = figure_data_file(name, where[name], study_id)
        data = read_figure_data(data_file) if data_file.exists() else None
        out[name] = report.ReportFigure(title=title, png=figure_file(name, where[name], study_id).read_bytes(),
                                        data=data)
    return out


def report_file(study_id: str) -> str:
    """The default study's report keeps its name; every other study's carries its id."""
    return REPORT_FILE if study_id == DEFAULT_STUDY_ID else f"evaluation_report_{study_id}.html"


# The queries of the report (files of sql/report/): its dependencies are read from them.
REPORT_SQL = ("treated_rates", "did_results", "estimates_by_vintage", "comparator_ranking", "did_placebo_time",
              "synthetic_control_weights", "did_comparator_robustness_summary", "did_comparator_stability",
              "synthetic_control_identification", "reference_pairs", "did_inference", "rct_results", "rct_balance",
              "case_length_tobit", "risk_scores_by_arm", "risk_score_changes", "service_summary",
              "service_case_length_by_year", "source_files", "vintages", "estimator_calibration", "calibration_runs",
              "detectable_effects", "did_dilution", "placebo_spread")


def report_inputs(con, scope: Scope, figures: dict[str, report.ReportFigure] | None = None,
                  outputs: Path | None = None) -> report.ReportInputs:
    s = scope.study

    def rows(name: str) -> pd.DataFrame:
        return report_rows(con, name, scope)

    did = rows("did_results")
    versions = [code_version(), *did.get("code_version", pd.Series(dtype=str)).dropna().unique()]
    return report.ReportInputs(
        study=scope.setup(), vintage=scope.vintage, treated_rates=rows("treated_rates"),
        comparator_ranking=rows("comparator_ranking"), did_results=did, did_placebo_time=rows("did_placebo_time"),
        synthetic_control_weights=rows("synthetic_control_weights"), estimates_by_vintage=rows("estimates_by_vintage"),
        robustness_summary=rows("did_comparator_robustness_summary"),
        comparator_stability=rows("did_comparator_stability"),
        synthetic_control_identification=rows("synthetic_control_identification"),
        reference_pairs=rows("reference_pairs"), inference_summary=rows("did_inference"),
        rct_results=rows("rct_results"), rct_balance=rows("rct_balance"), case_length_tobit=rows("case_length_tobit"),
        risk_scores_by_arm=rows("risk_scores_by_arm"), risk_score_changes=rows("risk_score_changes"),
        service_summary=rows("service_summary"), service_case_length_by_year=rows("service_case_length_by_year"),
        source_files=rows("source_files"), vintages=rows("vintages"),
        calibration=rows("estimator_calibration"), calibration_runs=rows("calibration_runs"),
        detectable_effects=rows("detectable_effects"), dilution=rows("did_dilution"),
        placebo_spread=rows("placebo_spread"),
        code_versions=versions,
        figures=figures if figures is not None else _read_figures(
            report_figure_names(s.outcomes, casework_parts(s.treated_unit_code)), outputs, s.study_id),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def report_completeness(html_text: str, figure_names: list[str], synthetic: bool,
                        parts: tuple[str, ...] = ALL_PARTS) -> list[str]:
    """What a complete report would show and this one does not."""
    problems = [f"figure {n} not embedded" for n in figure_names
                if f'data-figure="{n}"><img src="data:image/png;base64,' not in html_text]
    problems += [f"table {t} missing" for t in report_tables(parts) if f'data-table="{t}"' not in html_text]
    if synthetic and 'class="synthetic-banner"' not in html_text:
        problems.append("SYNTHETIC inputs but no SYNTHETIC banner")
    if 'class="missing"' in html_text:
        problems.append("a section says its data are not available")
    return problems


@dg.asset(key=["reports", "evaluation_report"], group_name=GROUP, kinds={"python", "html"},
          deps=[*(dg.AssetKey(["figures", n]) for n in FIGURES), *report_dependencies([*SCOPE_SQL, *REPORT_SQL])],
          check_specs=[dg.AssetCheckSpec("report_complete", asset=["reports", "evaluation_report"], blocking=True,
                                         description="Every figure is embedded as an image and every table of the "
                                                     "report is present; SYNTHETIC inputs carry the banner. An "
                                                     "incomplete report is never published.")],
          description="The evaluation report for every study in data/studies.yaml: one self-contained HTML file each (figures "
                      "embedded) with the study set-up, comparator choice, DiD table, inference, estimates per "
                      "vintage, RCT, risk and service results, limitations worked out from the data, and the data "
                      "vintages, source sha256s and code version. Written to outputs/evaluation_report.html (the "
                      "default study) and outputs/evaluation_report_<study_id>.html.")
def reports_evaluation_report(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    from fact22_assets.glue.studies import studies

    written, problems_by_study = {}, {}
    with duckdb.get_connection() as con:
        scope = Scope(con)
        inputs = report_inputs(con, scope, outputs=outputs_of(duckdb))
        others = []
        for entry in studies():
            study_id = entry.study.study_id
            if study_id == DEFAULT_STUDY_ID:
                continue
            other = Scope(con, study_id)
            others.append((other, report_inputs(con, other, outputs=outputs_of(duckdb))))
    # Every other report is rendered in the build's helper process (the other core) while this one renders the
    # rest, the default study's first (helper_process.call_all); without a helper, each here in turn.  The
    # same function, the same HTML.
    every = [(scope, inputs), *others]
    texts = helper_process.call_all([(report.render_report, (each_inputs,), {}) for _, each_inputs in every])
    for (each_scope, each_inputs), text in zip(every, texts):
        path = outputs_of(duckdb) / report_file(each_scope.study.study_id)
        write_atomically(path, text.encode("utf-8"))
        synthetic = any(report.is_synthetic(getattr(each_inputs, n)) for n in
                        ("rct_results", "risk_scores_by_arm", "service_case_length_by_year"))
        parts = casework_parts(each_scope.study.treated_unit_code)
        found = report_completeness(text, report_figure_names(each_scope.study.outcomes, parts), synthetic, parts)
        if found:
            problems_by_study[each_scope.study.study_id] = found
        written[each_scope.study.study_id] = path
        context.log.info(f"wrote {path} ({len(text) / 1e6:.1f} MB)")
        if each_scope is scope:
            main_text, main_synthetic = text, synthetic
    path = written[scope.study.study_id]
    names = report_figure_names(scope.study.outcomes, casework_parts(scope.study.treated_unit_code))
    problems = [f"{study}: {p}" if study != scope.study.study_id else p
                for study, found in problems_by_study.items() for p in found]
    limits = report.limitations(inputs)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(published_location(duckdb, path)[0])),
            "url": dg.MetadataValue.url(published_location(duckdb, path)[1]),
            "study_id": dg.MetadataValue.text(scope.study.study_id),
            "reports": dg.MetadataValue.md("\n".join(f"- `{study}`: [{p.name}]({published_location(duckdb, p)[1]})"
                                                for study, p in written.items())),
            "vintage": dg.MetadataValue.text(scope.vintage),
            "figures": dg.MetadataValue.int(len(names)),
            "size_bytes": dg.MetadataValue.int(len(main_text.encode("utf-8"))),
            "synthetic_inputs": dg.MetadataValue.bool(main_synthetic),
            "limitations": dg.MetadataValue.md("\n".join(f"- {line}" for line in limits)),
        },
        check_results=[dg.AssetCheckResult(
            check_name="report_complete", passed=not problems,
            description="; ".join(problems) if problems else f"{len(names)} figures and {len(REPORT_TABLES)} "
                                                              "tables present",
            metadata={"problems": dg.MetadataValue.json(problems)})],
    )
