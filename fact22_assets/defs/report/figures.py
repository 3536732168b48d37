"""Figure assets: each draws PNG(s) into outputs_dir()/figures/ from the marts and
shows them in the Dagster UI (a markdown image in the materialization's metadata).

Strand-1 figures are drawn once per study of data/studies.yaml (see `scope`):
the default study's into figures/, every other's into figures/<study_id>/,
where each study's report reads them.  Casework figures are drawn per study
too, from the trials run in its authority (data/trials.yaml), and carry their
data_origin.
"""
import base64
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core import figures, measures, report
from fact22_assets.core.files import write_atomically
from fact22_assets.defs.report.scope import (
    ANALYST_GROUP,
    DEFAULT_STUDY_ID,
    GROUP,
    Scope,
    _main_p_values,
    _mart,
    _rates,
    _study_rows,
)
from fact22_assets.glue.publishing import outputs_of
from fact22_assets.settings import outputs_dir

FIGURES_DIR = "figures"


def _figures_dir(name: str, outputs: Path | None, study_id: str | None) -> Path:
    """figures/ for the default study, figures/<study_id>/ for another study's."""
    folder = (outputs or outputs_dir()) / FIGURES_DIR
    return folder if study_id in (None, DEFAULT_STUDY_ID) else folder / study_id


def figure_file(name: str, outputs: Path | None = None, study_id: str | None = None) -> Path:
    return _figures_dir(name, outputs, study_id) / f"{name}.png"


def figure_data_file(name: str, outputs: Path | None = None, study_id: str | None = None) -> Path:
    """The figure's own data (panel, series, x, y), beside its PNG: what the report's "show data" lists."""
    return _figures_dir(name, outputs, study_id) / f"{name}.csv"


def _draw_outcome_trends(con, scope: Scope) -> list[tuple[str, str, bytes]]:
    rates = _rates(con, scope)
    chosen = _study_rows(con, "marts.comparator_ranking", scope, "outcome")
    chosen = dict(zip(chosen.loc[chosen["selected"], "outcome"], chosen.loc[chosen["selected"], "unit_code"]))
    s = scope.study
    return [(report.outcome_trend_figure(outcome), measures.title(outcome),
             figures.outcome_trends(rates, outcome, treated_code=s.treated_unit_code,
                                    comparator_code=chosen.get(outcome), first_post_year=s.first_post_year,
                                    neighbour_code=scope.nearest_neighbour_code,
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


def _draw_specification_curve(con, scope: Scope):
    curve = _study_rows(con, "marts.did_comparator_robustness", scope, "outcome, curve_position")
    return [(report.FIGURE_SPECIFICATION_CURVE, "Specification curve: the DiD against every eligible comparator",
             figures.specification_curve(curve, outcomes=scope.study.outcomes))]


def _draw_synthetic_control(con, scope: Scope):
    paths = _study_rows(con, "marts.synthetic_control_paths", scope, "outcome, collection_year")
    return [(report.FIGURE_SYNTHETIC_CONTROL, "Synthetic control: treated authority and its synthetic control",
             figures.synthetic_control_path(paths, first_post_year=scope.study.first_post_year,
                                            outcomes=scope.study.outcomes))]


def _trial_rows(con, study, table: str, order: str = "trial_id") -> pd.DataFrame:
    """A casework mart's rows of the trials run in the study's authority (data/trials.yaml)."""
    from fact22_assets.defs.report.assets import trial_ids

    return con.execute(f"SELECT * FROM {table} WHERE list_contains($ids, trial_id) ORDER BY {order}",
                       {"ids": trial_ids(study.treated_unit_code)}).df()


def _draw_rct(con, study):
    results = _trial_rows(con, study, "marts.rct_results", "trial_id, analysis DESC, subgroup, outcome")
    results = results[results["subgroup"] == "all"]
    if results.empty:
        return []
    return [(report.FIGURE_RCT, "Trial: the control group's observed rate and its rate had it been treated",
             figures.rct_probabilities(results))]


def _draw_risk(con, study):
    by_arm = _trial_rows(con, study, "marts.risk_scores_by_arm")
    if by_arm.empty:
        return []
    return [(report.FIGURE_RISK, "Risk analysis: mean total, protective and risk scores by arm",
             figures.risk_scores(by_arm))]


def _draw_service(con, study):
    by_year = _trial_rows(con, study, "marts.service_case_length_by_year", "trial_id, start_year")
    if by_year.empty:
        return []
    return [(report.FIGURE_SERVICE, "Service: average case length by start year",
             figures.service_case_length(by_year))]


# Strand-1 figures show each study on its latest estimated vintage (Scope);
# casework figures (the last element names their mart) show, per study, the
# trials run in its authority, and carry their data_origin.
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
    "specification_curve": (
        "The report's DiD against every eligible comparator, ordered by estimate, per outcome, with the chosen "
        "comparator's estimate and the median marked.",
        [*STRAND_1, _mart("did_comparator_robustness")], _draw_specification_curve, None),
    "synthetic_control_path": (
        "Treated authority and its synthetic control per outcome.",
        [*STRAND_1, _mart("synthetic_control_paths")], _draw_synthetic_control, None),
    "rct_probabilities": (
        "Per study, the trials run in its authority (data/trials.yaml): the control group's observed rate and its "
        "rate had it been treated, with 95% intervals (RR1067 Figures 2-3). Labelled SYNTHETIC DATA while the "
        "inputs are the stand-ins.",
        [_mart("rct_results")], _draw_rct, "rct_results"),
    "risk_scores": (
        "Per study, the trials run in its authority with coded case notes: mean total, protective-factor and "
        "risk-factor scores by arm over the coding points (RR1067 Figures 4-6). Labelled SYNTHETIC DATA while the "
        "inputs are the stand-ins.",
        [_mart("risk_scores_by_arm")], _draw_risk, "risk_scores_by_arm"),
    "service_case_length": (
        "Per study, the trials run in its authority with service information: average days to close a case by "
        "start year (RR1067 Figure 1). Labelled SYNTHETIC DATA while the inputs are the stand-ins.",
        [_mart("service_case_length_by_year")], _draw_service, "service_case_length_by_year"),
}


def _image_markdown(title: str, png: bytes) -> str:
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def _figure_asset(name: str, description: str, deps: list[dg.AssetKey], draw: Callable, casework_mart: str | None):
    @dg.asset(key=["figures", name], group_name=GROUP, kinds={"python", "matplotlib"},
              deps=deps, description=description)
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
        from fact22_assets.glue.studies import studies

        others = []  # (study_id, drawn) of every study but the default one
        with duckdb.get_connection() as con:
            if casework_mart is None:
                scope = Scope(con)
                metadata: dict = {"study_id": dg.MetadataValue.text(scope.study.study_id),
                                  "vintage": dg.MetadataValue.text(scope.vintage)}
                drawn = draw(con, scope)
                others = [(entry.study.study_id, draw(con, Scope(con, entry.study.study_id)))
                          for entry in studies() if entry.study.study_id != DEFAULT_STUDY_ID]
            else:
                # Casework: per study, the trials run in its authority; no data vintage is involved, so a change
                # to the published statistics does not redraw them.
                origins = con.execute(f"SELECT DISTINCT data_origin FROM marts.{casework_mart}").fetchall()
                metadata = {"data_origin": dg.MetadataValue.text(", ".join(sorted(str(o[0]) for o in origins)))}
                entries = {entry.study.study_id: entry.study for entry in studies()}
                drawn = draw(con, entries[DEFAULT_STUDY_ID]) if DEFAULT_STUDY_ID in entries else []
                others = [(study_id, draw(con, study)) for study_id, study in entries.items()
                          if study_id != DEFAULT_STUDY_ID]
        outputs = outputs_of(duckdb)
        images = []
        for study_id, each in [(None, drawn), *others]:
            for file_name, title, png in each:
                path = figure_file(file_name, outputs, study_id)
                write_atomically(path, png)
                data = getattr(png, "data", None)
                if data is not None:
                    write_atomically(figure_data_file(file_name, outputs, study_id),
                                     data.to_csv(index=False).encode("utf-8"))
                if study_id is None:  # the UI shows the default study's
                    metadata["path" if len(drawn) == 1 else f"path_{file_name}"] = dg.MetadataValue.path(str(path))
                    images.append(f"**{title}**\n\n{_image_markdown(title, png)}")
        metadata["figure"] = dg.MetadataValue.md("\n\n".join(images))
        metadata["files"] = dg.MetadataValue.int(len(drawn))
        if others:
            metadata["other_studies"] = dg.MetadataValue.md("\n".join(
                f"- `{study_id}`: {len(each)} figure(s) in `{outputs / FIGURES_DIR / study_id}`" for study_id, each in others))
        context.log.info(f"wrote {len(drawn) + sum(len(each) for _, each in others)} figure(s) to "
                         f"{outputs / FIGURES_DIR}")
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
figures_specification_curve = _figure_asset("specification_curve", *FIGURES["specification_curve"])


def _figure_asset(stem: str) -> str | None:
    """The figure asset that writes the file ``stem`` (one asset may write a file per outcome)."""
    return next((name for name in FIGURES if stem == name or stem.startswith(f"{name}_")), None)


@dg.asset(key=["marts", "figure_data"], group_name=ANALYST_GROUP, kinds={"duckdb", "csv"},
          deps=[dg.AssetKey(["figures", name]) for name in FIGURES],
          description="The data behind every figure, one row per plotted point: figure, panel, series, x, y "
                      "(read back from what each figure drew, so the numbers are the chart's own), and data_origin "
                      "(SYNTHETIC for figures of the stand-ins). The report's 'show data' tables and CSVs are these rows.")
def marts_figure_data(duckdb: DuckDBResource) -> dg.MaterializeResult:
    import pandas as pd

    from fact22_assets.glue.tables import replace_table, table_metadata

    frames = []
    # This run's figures, and the published ones of figure assets it did not run (a partial refresh).
    drawn = sorted((outputs_of(duckdb) / FIGURES_DIR).glob("*.csv"))
    redrawn = {_figure_asset(p.stem) for p in drawn}
    kept = [p for p in (outputs_dir() / FIGURES_DIR).glob("*.csv") if _figure_asset(p.stem) not in redrawn | {None}]
    for path in sorted([*drawn, *kept], key=lambda p: p.name):
        frame = pd.read_csv(path, dtype={"panel": str, "series": str, "x": str}, keep_default_na=False,
                            na_values={"y": [""]})
        if "data_origin" not in frame:  # a figure drawn before figures carried their origin
            frame["data_origin"] = "not synthetic"
        frames.append(frame.assign(figure=path.stem)[["figure", "panel", "series", "x", "y", "data_origin"]])
    data = pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame({"figure": [], "panel": [], "series": [], "x": [], "y": [], "data_origin": []})
    with duckdb.get_connection() as con:
        replace_table(con, "marts.figure_data", data)
        return dg.MaterializeResult(metadata=table_metadata(
            con, "marts.figure_data", figures=dg.MetadataValue.int(int(data["figure"].nunique()))))
