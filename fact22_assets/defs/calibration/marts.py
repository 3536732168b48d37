"""The calibration marts: the national placebo study's files loaded into the warehouse by every refresh.

They read the calibration folder (the source ``calibration``), never run
the study: with no files yet they are published empty and the report says
calibration has not been run.
"""
import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core.calibration.files import read_results
from fact22_assets.core.calibration.marts import (
    CALIBRATION_RUN_COLUMNS,
    CALIBRATION_STUDY_COLUMNS,
    DETECTABLE_EFFECT_COLUMNS,
    calibration_runs,
    calibration_studies,
    detectable_effects,
)
from fact22_assets.core.calibration.rates import CALIBRATION_COLUMNS, estimator_calibration
from fact22_assets.core.source_versions import CALIBRATION
from fact22_assets.glue.sources import source_key
from fact22_assets.glue.tables import replace_table, table_metadata
from fact22_assets.settings import calibration_dir

GROUP = "calibration_marts"
TABLES = {
    "calibration_runs": "What the calibration in the warehouse was computed from: per outcome, the data vintage, "
                        "code version, date, design, start years, number of studies, seed and cost.",
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


def calibration_tables() -> dict[str, pd.DataFrame]:
    """The four marts from the calibration folder (empty tables with their columns when there is nothing)."""
    studies, manifests = read_results(calibration_dir())
    placebo = calibration_studies(studies)
    return {"calibration_runs": calibration_runs(manifests), "calibration_studies": placebo,
            "estimator_calibration": estimator_calibration(placebo), "detectable_effects": detectable_effects(studies)}


@dg.multi_asset(
    specs=[dg.AssetSpec(["marts", name], group_name=GROUP, kinds={"duckdb", "python"}, description=text,
                        deps=[source_key(CALIBRATION)]) for name, text in TABLES.items()],
    can_subset=False,
)
def calibration_marts(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Load the latest calibration (or publish the marts empty when none has been run)."""
    tables = calibration_tables()
    if tables["calibration_runs"].empty:
        context.log.info(f"no calibration in {calibration_dir()}: the calibration marts are published empty "
                         "(`make calibrate` runs the national placebo study)")
    with duckdb.get_connection() as con:
        for name, frame in tables.items():
            table = f"marts.{name}"
            replace_table(con, table, frame[COLUMNS[name]])
            yield dg.MaterializeResult(asset_key=["marts", name], metadata=table_metadata(con, table))
