"""The calibration marts: the national placebo study's files loaded into the warehouse by every refresh.

They read the calibration folder (the source ``calibration``), never run
the study: with no files yet they are published empty and the report says
calibration has not been run.
"""
import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core.calibration.design import designs_of
from fact22_assets.core.calibration.files import calibration_code, panel_digest, read_results
from fact22_assets.core.calibration.marts import (
    CALIBRATION_RUN_COLUMNS,
    CALIBRATION_STUDY_COLUMNS,
    COMPUTED,
    DETECTABLE_EFFECT_COLUMNS,
    SHIPPED,
    CurrentState,
    calibration_runs,
    calibration_studies,
    detectable_effects,
)
from fact22_assets.core.calibration.rates import CALIBRATION_COLUMNS, estimator_calibration
from fact22_assets.core.source_versions import CALIBRATION, STUDIES
from fact22_assets.glue.freshness import calibration_source_dir
from fact22_assets.glue.sources import source_key
from fact22_assets.glue.studies import studies as configured_studies
from fact22_assets.glue.tables import replace_table, sql_dependencies, sql_text, table_metadata
from fact22_assets.settings import REPO_ROOT, calibration_dir

GROUP = "calibration_marts"
TABLES = {
    "calibration_runs": "What the calibration in the warehouse was computed from: per outcome, the data vintage, "
                        "code version, date, design, start years, number of studies, seed and cost; whether it was "
                        "computed here (make calibrate) or shipped with the repository, and whether it is stale "
                        "(other estimator code, vintage, figures or design than the warehouse's now) and why.",
    "calibration_studies": "The national placebo study: one row per placebo study (an authority that ran no listed "
                           "programme, at a start year), estimator method and outcome, with its estimate and every "
                           "p-value the method publishes, each computed as a study computes it.",
    "estimator_calibration": "How often each p-value rejects in the placebo studies (no programme ran): per design, "
                             "method, outcome, alpha (0.05, 0.10) and p-value kind, the rejection rate with an exact "
                             "binomial 95% interval, and whether the p-value is calibrated (the interval reaches "
                             "alpha or lies below it).",
    "detectable_effects": "What each design can detect: for every authority, outcome, method and start year, the "
                          "minimum detectable effect at 80% power and 5% two-sided from that design's own placebo "
                          "estimates (from their quantiles; the 2.8-standard-deviation shortcut beside it).",
}
COLUMNS = {"calibration_runs": CALIBRATION_RUN_COLUMNS, "calibration_studies": CALIBRATION_STUDY_COLUMNS,
           "estimator_calibration": CALIBRATION_COLUMNS, "detectable_effects": DETECTABLE_EFFECT_COLUMNS}


# What the staleness check reads from the warehouse being built: the latest vintage and its panel.
CURRENT_DATA = ("did/vintages.sql", "did/panel.sql")


def current_state(con=None) -> CurrentState:
    """What a current calibration must have been computed from; without a warehouse connection, the code and
    designs only."""
    designs = tuple(sorted({d.label for d in designs_of(configured_studies())}))
    vintage = panel = None
    if con is not None:
        vintages = con.execute(sql_text("did/vintages.sql")).df()["vintage"]
        if len(vintages):
            vintage = str(vintages.iloc[-1])
            panel = panel_digest(con.execute(sql_text("did/panel.sql"), {"vintage": vintage}).df())
    return CurrentState(calibration_code(REPO_ROOT), vintage, panel, designs)


def calibration_tables(current: CurrentState | None = None) -> dict[str, pd.DataFrame]:
    """The four marts from the calibration folder the refresh reads (empty tables with their columns when there
    is nothing)."""
    folder = calibration_source_dir()
    studies, manifests = read_results(folder)
    placebo = calibration_studies(studies)
    origin = COMPUTED if folder == calibration_dir() else SHIPPED
    runs = calibration_runs(manifests, origin, current or current_state())
    return {"calibration_runs": runs, "calibration_studies": placebo,
            "estimator_calibration": estimator_calibration(placebo), "detectable_effects": detectable_effects(studies)}


@dg.multi_asset(
    specs=[dg.AssetSpec(["marts", name], group_name=GROUP, kinds={"duckdb", "python"}, description=text,
                        deps=[source_key(CALIBRATION), source_key(STUDIES),
                              *{k for f in CURRENT_DATA for k in sql_dependencies(f)}])
           for name, text in TABLES.items()],
    can_subset=False,
)
def calibration_marts(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Load the latest calibration (or publish the marts empty when none has been run)."""
    with duckdb.get_connection() as con:
        tables = calibration_tables(current_state(con))
        runs = tables["calibration_runs"]
        if runs.empty:
            context.log.info(f"no calibration in {calibration_dir()} nor shipped: the calibration marts are published "
                             "empty (`make calibrate` runs the national placebo study)")
        elif runs["stale"].any():
            context.log.warning("the calibration is stale: " + " | ".join(
                f"{r.outcome}: {r.stale_reasons}" for r in runs[runs["stale"]].itertuples()))
        for name, frame in tables.items():
            table = f"marts.{name}"
            replace_table(con, table, frame[COLUMNS[name]])
            yield dg.MaterializeResult(asset_key=["marts", name], metadata=table_metadata(con, table))
