"""Figure assets: each draws PNG(s) into outputs_dir()/figures/ from the marts and
shows them in the Dagster UI (a markdown image in the materialization's metadata).

Strand-1 figures are drawn once per study of data/studies.yaml (see `scope`):
the default study's into figures/, every other's into figures/<study_id>/,
where each study's report reads them.  Casework figures are drawn per study
too, from the trials run in its authority (data/trials.yaml), and carry their
data_origin.
"""
import base64
import hashlib
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core import figures, helper_process, measures, report, result_store
from fact22_assets.core.files import write_atomically
from fact22_assets.core.presentation import PUBLIC_ORIGIN
from fact22_assets.defs.report.scope import (
    ANALYST_GROUP,
    DEFAULT_STUDY_ID,
    GROUP,
    SCOPE_SQL,
    Scope,
    _main_p_values,
    _mart,
    report_dependencies,
    report_rows,
    trial_report_rows,
)
from fact22_assets.glue.checks import InlineCheck, rows_result
from fact22_assets.glue.publishing import BuildDuckDBResource, outputs_of, published_location
from fact22_assets.settings import outputs_dir

FIGURES_DIR = "figures"


def _figures_dir(name: str, outputs: Path | None, study_id: str | None) -> Path:
    """figures/ for the default study, figures/<study_id>/ for another study's."""
    folder = (outputs or outputs_dir()) / FIGURES_DIR
    return folder if study_id in (None, DEFAULT_STUDY_ID) else folder / study_id


def figure_file(name: str, outputs: Path | None = None, study_id: str | None = None) -> Path:
    return _figures_dir(name, outputs, study_id) / f"{name}.png"


def figure_data_file(name: str, outputs: Path | None = None, study_id: str | None = None) -> Path:
    """The figure's own data (`FIGURE_DATA_COLUMNS`), beside its PNG: what the report's "show data" lists."""
    return _figures_dir(name, outputs, study_id) / f"{name}.csv"


# Every chart CSV and marts.figure_data: one row per plotted number, readable without the chart.
FIGURE_DATA_COLUMNS = ["study_id", "figure", *figures.DATA_COLUMNS, "data_origin"]
FIGURE_DATA_TYPES = {"study_id": str, "figure": str, "panel": str, "outcome": str, "series": str, "statistic": str,
                     "x": float, "x_label": str, "x_axis": str, "value": float, "unit": str, "data_origin": str}


def labelled_figure_data(data, study_id: str | None, figure: str, origin: str):
    """A figure's data with what it belongs to: its study (a casework figure shows the trials run in the
    study's authority), the figure's file name and where its numbers come from."""
    return data.assign(study_id=study_id, figure=figure, data_origin=origin)[FIGURE_DATA_COLUMNS]


def read_figure_data(path: Path):
    """A chart CSV as written: text columns with None for blanks, x and value as numbers."""

    frame = pd.read_csv(path, dtype=FIGURE_DATA_TYPES, keep_default_na=False,
                        na_values={c: [""] for c in FIGURE_DATA_COLUMNS})
    for column, kind in FIGURE_DATA_TYPES.items():
        if kind is str:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame[FIGURE_DATA_COLUMNS]


class _Drawing:
    """A figure to draw: drawn when asked for, or with the rest of its asset's figures (`_Drawings.draw_all`)."""

    def __init__(self, function: Callable, args: tuple, kwargs: dict):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.drawn = None

    def png(self) -> bytes:
        if self.drawn is None:
            self.drawn = self.function(*self.args, **self.kwargs)
        return self.drawn


# Bump when what a kept drawing holds changes shape.
KEPT_FORMAT = "figure-1"
# What draws and encodes a figure besides the package's code (a new version may move a pixel).
DRAWING_LIBRARIES = ("matplotlib", "pillow", "numpy", "pandas")


class KeptDrawings:
    """Drawings kept from earlier builds (core/result_store.py), by the digest of the code, the drawing
    libraries and the call: a figure whose numbers, wording and code are unchanged (a corrected population
    leaves most studies' figures as they were) is taken from the store, byte for byte, instead of drawn."""

    def __init__(self, store: result_store.ResultStore, code: str):
        self.store = store
        self.prefix = "\n\0".join([KEPT_FORMAT, code, result_store.library_versions(DRAWING_LIBRARIES)])

    def key(self, content: str) -> str:
        return hashlib.sha256(f"{self.prefix}\n\0{content}".encode()).hexdigest()


class _Drawings:
    """The drawings of one figure asset, one per distinct content: the figure functions are pure, so two
    studies that draw the same numbers the same way (the casework figures of studies sharing a trial, a
    study that differs from another only in its comparators) share one drawing instead of drawing it twice.
    Content is the function and its arguments, pickled (frames included): equal bytes, equal figure."""

    def __init__(self):
        self.by_content: dict[str, _Drawing] = {}

    def get(self, function: Callable, args: tuple, kwargs: dict) -> _Drawing:
        content = result_store.call_digest(function, args, kwargs)
        if content not in self.by_content:
            self.by_content[content] = _Drawing(function, args, kwargs)
        return self.by_content[content]

    def draw_all(self, kept: KeptDrawings | None = None) -> tuple[int, int]:
        """Every drawing not drawn yet: from ``kept`` where it holds it, else drawn, every other one in the
        build's helper process (the other core) while this process draws the rest
        (`helper_process.call_all`), and then kept.  ``kept`` ends holding this asset's drawings only.
        (reused, drawn)."""
        waiting = {content: drawing for content, drawing in self.by_content.items() if drawing.drawn is None}
        keys = {content: kept.key(content) for content in self.by_content} if kept is not None else {}
        for content, drawing in waiting.items():
            if kept is not None:
                drawing.drawn = kept.store.get(keys[content])
        to_draw = [(content, drawing) for content, drawing in waiting.items() if drawing.drawn is None]
        pngs = helper_process.call_all([(d.function, d.args, d.kwargs) for _, d in to_draw])
        for (content, drawing), png in zip(to_draw, pngs):
            drawing.drawn = png
            if kept is not None:
                kept.store.put(keys[content], png)
        if kept is not None:
            kept.store.keep_only(keys.values())
        return len(waiting) - len(to_draw), len(to_draw)

    def forget(self) -> None:
        self.by_content.clear()


_drawings = _Drawings()


# Columns that say which code produced a row: a new commit changes them on every row, and no figure shows them.
# They are left out of a drawing's call, so a commit that moves no number redraws nothing (the code that draws is
# in the kept drawings' key already: `KeptDrawings`).
NOT_DRAWN_COLUMNS = ("code_version",)


def _as_drawn(value):
    if isinstance(value, pd.DataFrame):
        present = [column for column in NOT_DRAWN_COLUMNS if column in value.columns]
        return value.drop(columns=present) if present else value
    return value


def _drawing(function: Callable, *args, **kwargs) -> _Drawing:
    return _drawings.get(function, tuple(_as_drawn(a) for a in args), {k: _as_drawn(v) for k, v in kwargs.items()})


def _plotted(rates: pd.DataFrame, measure: str, *codes: str | None) -> pd.DataFrame:
    """The rows and columns of ``rates`` a trend figure reads: the authorities it plots, one measure.  What it
    is drawn from is then what it shows, so a kept drawing (`KeptDrawings`) is reused unless one of them moved
    (a corrected population elsewhere leaves it as it was)."""
    columns = ["unit_code", "unit_name", "collection_year", measure]
    columns += ["data_origin"] if "data_origin" in rates else []  # a stand-in is labelled as such (figures.py)
    return rates.loc[rates["unit_code"].isin([code for code in codes if code is not None]), columns]


def _draw_outcome_trends(con, scope: Scope) -> list[tuple[str, str, bytes]]:
    rates = report_rows(con, "rates", scope)
    chosen = report_rows(con, "comparator_ranking", scope)
    chosen = dict(zip(chosen.loc[chosen["selected"], "outcome"], chosen.loc[chosen["selected"], "unit_code"]))
    s = scope.study
    plotted = {outcome: _plotted(rates, outcome, s.treated_unit_code, chosen.get(outcome),
                                 scope.nearest_neighbour_code, figures.ENGLAND_CODE) for outcome in s.outcomes}
    return [(report.outcome_trend_figure(outcome), measures.title(outcome),
             _drawing(figures.outcome_trends, plotted[outcome], outcome, treated_code=s.treated_unit_code,
                                    comparator_code=chosen.get(outcome), first_post_year=s.first_post_year,
                                    neighbour_code=scope.nearest_neighbour_code,
                                    study_years=s.study_years))
            for outcome in s.outcomes]


def _draw_cin(con, scope: Scope):
    measure = "cin_per_10k_children"
    rates = _plotted(report_rows(con, "rates", scope), measure, scope.study.treated_unit_code, figures.ENGLAND_CODE)
    return [(report.FIGURE_CIN, "Children in need at 31 March per 10,000 children: treated authority and England",
             _drawing(figures.cin_treated_vs_england, rates, measure=measure,
                      treated_code=scope.study.treated_unit_code, first_post_year=scope.study.first_post_year))]


def _draw_event_study(con, scope: Scope):
    events = report_rows(con, "did_event_study", scope)
    return [(report.FIGURE_EVENT_STUDY, "Event study: year-by-year effects with placebo intervals",
             _drawing(figures.event_study, events, first_post_year=scope.study.first_post_year,
                                 outcomes=scope.study.outcomes))]


def _draw_placebo(con, scope: Scope):
    placebos = report_rows(con, "did_placebo_space", scope)
    did = report_rows(con, "did_results", scope)
    return [(report.FIGURE_PLACEBO, "Placebo-in-space: the treated estimate among placebo authorities",
             _drawing(figures.placebo_distribution, placebos, p_values=_main_p_values(did),
                                          outcomes=scope.study.outcomes))]


def _draw_specification_curve(con, scope: Scope):
    curve = report_rows(con, "did_comparator_robustness", scope)
    return [(report.FIGURE_SPECIFICATION_CURVE, "Specification curve: the DiD against every eligible comparator",
             _drawing(figures.specification_curve, curve, outcomes=scope.study.outcomes))]


def _draw_synthetic_control(con, scope: Scope):
    paths = report_rows(con, "synthetic_control_paths", scope)
    return [(report.FIGURE_SYNTHETIC_CONTROL, "Synthetic control: treated authority and its synthetic control",
             _drawing(figures.synthetic_control_path, paths, first_post_year=scope.study.first_post_year,
                                            outcomes=scope.study.outcomes))]


def _draw_rct(con, study):
    results = trial_report_rows(con, "rct_results", study.treated_unit_code)
    results = results[results["subgroup"] == "all"]
    if results.empty:
        return []
    return [(report.FIGURE_RCT, "Trial: the control group's observed rate and its rate had it been treated",
             _drawing(figures.rct_probabilities, results))]


def _draw_risk(con, study):
    by_arm = trial_report_rows(con, "risk_scores_by_arm", study.treated_unit_code)
    if by_arm.empty:
        return []
    return [(report.FIGURE_RISK, "Risk analysis: mean total, protective and risk scores by arm",
             _drawing(figures.risk_scores, by_arm))]


def _draw_service(con, study):
    by_year = trial_report_rows(con, "service_case_length_by_year", study.treated_unit_code)
    if by_year.empty:
        return []
    return [(report.FIGURE_SERVICE, "Service: average case length by start year",
             _drawing(figures.service_case_length, by_year))]


# Strand-1 figures show each study on its latest estimated vintage (Scope); casework figures (the last element
# names their mart) show, per study, the trials run in its authority (data/trials.yaml), and carry their
# data_origin.  The second element names the queries (files of sql/report/) each draws from: its dependencies
# are read from them.
FIGURES: dict[str, tuple[str, tuple[str, ...], Callable, str | None]] = {
    "outcome_trends": (
        "Per outcome, its rate for the treated authority, its selected comparator, its nearest DfE statistical "
        "neighbour and England, with the programme's start (report Figures 7-9).",
        (*SCOPE_SQL, "rates", "comparator_ranking"), _draw_outcome_trends, None),
    "cin_treated_vs_england": (
        "Children in need at 31 March per 10,000 children, treated authority vs England (report Figure 14).",
        (*SCOPE_SQL, "rates"), _draw_cin, None),
    "event_study": (
        "Event-study coefficients per outcome with placebo-based 95% intervals.",
        (*SCOPE_SQL, "did_event_study"), _draw_event_study, None),
    "placebo_distribution": (
        "Placebo-in-space estimates per outcome with the treated authority's estimate marked.",
        (*SCOPE_SQL, "did_placebo_space", "did_results"), _draw_placebo, None),
    "specification_curve": (
        "The report's DiD against every eligible comparator, ordered by estimate, per outcome, with the chosen "
        "comparator's estimate and the median marked.",
        (*SCOPE_SQL, "did_comparator_robustness"), _draw_specification_curve, None),
    "synthetic_control_path": (
        "Treated authority and its synthetic control per outcome.",
        (*SCOPE_SQL, "synthetic_control_paths"), _draw_synthetic_control, None),
    "rct_probabilities": (
        "Per study, the trials run in its authority (data/trials.yaml): the control group's observed rate and its "
        "rate had it been treated, with 95% intervals (RR1067 Figures 2-3). Labelled SYNTHETIC DATA while the "
        "inputs are the stand-ins.",
        ("rct_results",), _draw_rct, "rct_results"),
    "risk_scores": (
        "Per study, the trials run in its authority with coded case notes: mean total, protective-factor and "
        "risk-factor scores by arm over the coding points (RR1067 Figures 4-6). Labelled SYNTHETIC DATA while the "
        "inputs are the stand-ins.",
        ("risk_scores_by_arm",), _draw_risk, "risk_scores_by_arm"),
    "service_case_length": (
        "Per study, the trials run in its authority with service information: average days to close a case by "
        "start year (RR1067 Figure 1). Labelled SYNTHETIC DATA while the inputs are the stand-ins.",
        ("service_case_length_by_year",), _draw_service, "service_case_length_by_year"),
}


def _image_markdown(title: str, png: bytes) -> str:
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def _kept_drawings(duckdb: DuckDBResource, name: str) -> KeptDrawings | None:
    """In a build, the figure asset's kept drawings (``cache/figures/<name>/`` in the warehouse folder)."""
    if not isinstance(duckdb, BuildDuckDBResource):
        return None
    store, code = duckdb.kept_results(f"figures/{name}")
    return KeptDrawings(store, code)


def _figure_asset(name: str, description: str, queries: tuple[str, ...], draw: Callable,
                  casework_mart: str | None):
    @dg.asset(key=["figures", name], group_name=GROUP, kinds={"python", "matplotlib"},
              deps=report_dependencies(queries), description=description)
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
        from fact22_assets.glue.studies import studies

        _drawings.forget()  # shared within this asset's studies only: nothing is kept from one run to the next
        others = []  # (study_id, drawn) of every study but the default one
        default_study = None
        with duckdb.get_connection() as con:
            if casework_mart is None:
                scope = Scope(con)
                metadata: dict = {"study_id": dg.MetadataValue.text(scope.study.study_id),
                                  "vintage": dg.MetadataValue.text(scope.vintage)}
                drawn = draw(con, scope)
                default_study, origin = scope.study.study_id, PUBLIC_ORIGIN
                others = [(entry.study.study_id, draw(con, Scope(con, entry.study.study_id)))
                          for entry in studies() if entry.study.study_id != DEFAULT_STUDY_ID]
            else:
                # Casework: per study, the trials run in its authority; no data vintage is involved, so a change
                # to the published statistics does not redraw them.
                origins = con.execute(f"SELECT DISTINCT data_origin FROM marts.{casework_mart}").fetchall()
                origin = ", ".join(sorted(str(o[0]) for o in origins))
                metadata = {"data_origin": dg.MetadataValue.text(origin)}
                entries = {entry.study.study_id: entry.study for entry in studies()}
                default_study = DEFAULT_STUDY_ID
                drawn = draw(con, entries[DEFAULT_STUDY_ID]) if DEFAULT_STUDY_ID in entries else []
                others = [(study_id, draw(con, study)) for study_id, study in entries.items()
                          if study_id != DEFAULT_STUDY_ID]
        outputs = outputs_of(duckdb)
        reused, redrawn = _drawings.draw_all(_kept_drawings(duckdb, name))
        images = []
        for study_id, each in [(None, drawn), *others]:
            for file_name, title, drawing in each:
                png = drawing.png()
                path = figure_file(file_name, outputs, study_id)
                write_atomically(path, png)
                data = getattr(png, "data", None)
                if data is not None:
                    labelled = labelled_figure_data(data, study_id or default_study, file_name, origin)
                    write_atomically(figure_data_file(file_name, outputs, study_id),
                                     labelled.to_csv(index=False).encode("utf-8"))
                if study_id is None:  # the UI shows the default study's
                    published, url = published_location(duckdb, path)
                    metadata["path" if len(drawn) == 1 else f"path_{file_name}"] = dg.MetadataValue.path(str(published))
                    metadata["url" if len(drawn) == 1 else f"url_{file_name}"] = dg.MetadataValue.url(url)
                    images.append(f"**{title}**\n\n{_image_markdown(title, png)}")
        metadata["figure"] = dg.MetadataValue.md("\n\n".join(images))
        metadata["files"] = dg.MetadataValue.int(len(drawn))
        metadata["drawings_drawn"] = dg.MetadataValue.int(redrawn)
        metadata["drawings_kept"] = dg.MetadataValue.int(reused)
        if others:
            metadata["other_studies"] = dg.MetadataValue.md("\n".join(
                f"- `{study_id}`: {len(each)} figure(s) in [{FIGURES_DIR}/{study_id}/]"
                f"({published_location(duckdb, outputs / FIGURES_DIR / study_id)[1]}/)" for study_id, each in others))
        context.log.info(f"wrote {len(drawn) + sum(len(each) for _, each in others)} figure(s) to "
                         f"{outputs / FIGURES_DIR}: {redrawn} drawn, {reused} kept from an earlier build "
                         "(their numbers, wording and code unchanged)")
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


def _figure_data_problems_sql() -> str:
    """Rows of marts.figure_data that cannot be read on their own or that lose their origin: no figure, series
    or statistic; an x without its label; a study figure without its study (or a casework one with one); an
    origin other than the public statistics' for a strand-1 figure, or than its casework mart's for a casework
    one (stand-ins must say SYNTHETIC on every row); a figure asset with no rows."""
    casework = {stem: mart for stem, (_, _, _, mart) in FIGURES.items() if mart}  # registry names, not input
    origin_of = " ".join(f"WHEN '{stem}' THEN (SELECT string_agg(DISTINCT data_origin, ', ' ORDER BY data_origin) "
                         f"FROM marts.{mart})" for stem, mart in casework.items())
    names = ", ".join(f"('{stem}')" for stem in FIGURES)
    return f"""
        WITH rows AS (
            SELECT *, CASE WHEN figure IN ({', '.join(f"'{s}'" for s in casework)}) THEN figure END AS casework,
                   CASE figure {origin_of} END AS casework_origin
            FROM marts.figure_data
        )
        SELECT figure, study_id, series, statistic, x, 'figure, series or statistic missing' AS problem FROM rows
        WHERE figure IS NULL OR series IS NULL OR statistic IS NULL
        UNION ALL
        SELECT figure, study_id, series, statistic, x, 'x without its label' FROM rows
        WHERE x IS NOT NULL AND x_label IS NULL
        UNION ALL
        SELECT figure, study_id, series, statistic, x, 'a figure without its study' FROM rows
        WHERE study_id IS NULL
        UNION ALL
        SELECT figure, study_id, series, statistic, x, 'data_origin ' || coalesce(data_origin, 'NULL')
               || ' should be ' || coalesce(casework_origin, '{PUBLIC_ORIGIN}') FROM rows
        WHERE data_origin IS DISTINCT FROM coalesce(casework_origin, '{PUBLIC_ORIGIN}')
        UNION ALL
        SELECT stem, NULL, NULL, NULL, NULL, 'no rows for this figure asset' FROM (VALUES {names}) AS f(stem)
        WHERE NOT EXISTS (SELECT 1 FROM rows WHERE rows.figure = f.stem OR rows.figure LIKE f.stem || '\\_%' ESCAPE '\\')
        ORDER BY 1, 2, 3, 4, 5"""


figure_data_self_describing = InlineCheck(
    dg.AssetKey(["marts", "figure_data"]), "figure_data_self_describing",
    "Every row can be read without its chart (figure, series, statistic, an x with its label, its study) and "
    "says where its number comes from: PUBLIC for the public statistics, the casework "
    "mart's own data_origin for the casework figures (SYNTHETIC on every stand-in row); every figure asset has "
    "rows.",
    lambda con: rows_result(con.execute(_figure_data_problems_sql()).df(),
                            "rows of marts.figure_data that cannot be read on their own"))


@dg.asset(key=["marts", "figure_data"], group_name=ANALYST_GROUP, kinds={"duckdb", "csv"},
          deps=[*(dg.AssetKey(["figures", name]) for name in FIGURES),
                *(_mart(mart) for (_, _, _, mart) in FIGURES.values() if mart)],
          check_specs=figure_data_self_describing.check_specs)
def marts_figure_data(duckdb: DuckDBResource) -> dg.MaterializeResult:

    from fact22_assets.glue.tables import replace_table, table_metadata

    frames = []
    # This run's figures (every study's), and the published ones of figure assets it did not run (a partial
    # refresh).
    drawn = sorted((outputs_of(duckdb) / FIGURES_DIR).rglob("*.csv"))
    redrawn = {_figure_asset(p.stem) for p in drawn}
    kept = [p for p in (outputs_dir() / FIGURES_DIR).rglob("*.csv") if _figure_asset(p.stem) not in redrawn | {None}]
    for path in sorted([*drawn, *kept], key=lambda p: (p.parent.name, p.name)):
        frames.append(read_figure_data(path))
    data = pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame({c: pd.Series(dtype=t) for c, t in FIGURE_DATA_TYPES.items()})
    with duckdb.get_connection() as con:
        replace_table(con, "marts.figure_data", data)
        return dg.MaterializeResult(metadata=table_metadata(
            con, "marts.figure_data", figures=dg.MetadataValue.int(int(data["figure"].nunique()))),
            check_results=[figure_data_self_describing.result(con)])
