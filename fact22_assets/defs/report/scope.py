"""What the figures and the report show: one study on its latest estimated vintage.

`Scope` reads the study from data/studies.yaml (through glue.studies), the
vintage from marts.did_runs, the treated authority's name and its nearest
DfE statistical neighbour; the helpers read that study's rows of the marts.
"""
import dagster as dg
import pandas as pd

from fact22_assets.core import measures, report
from fact22_assets.glue.studies import study_entry
from fact22_assets.glue.tables import sql_text

GROUP = "report"
# What analysts open beside the report: the explorer and the figures' data (kept out of the report's graph).
ANALYST_GROUP = "analysts"
DEFAULT_STUDY_ID = "fact22_cheshire_east"


def _mart(name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", name])


class Scope:
    """The study the figures and report show, the vintage, and the treated authority's name."""

    def __init__(self, con, study_id: str = DEFAULT_STUDY_ID):
        entry = study_entry(study_id)
        self.entry, self.study = entry, entry.study
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
        # The treated authority's closest DfE statistical neighbour under the study's model.
        neighbours = con.execute(sql_text("did/neighbours.sql"), {
            "model": entry.neighbour_model, "treated_unit_code": self.study.treated_unit_code}).fetchall()
        self.nearest_neighbour_code = neighbours[0][0] if neighbours else None

    @property
    def params(self) -> dict:
        return {"study_id": self.study.study_id, "vintage": self.vintage}

    def setup(self) -> report.StudySetup:
        return report.StudySetup(self.study, treated_name=self.treated_name, programme=self.entry.programme,
                                 description=self.entry.description)


def _study_rows(con, table: str, scope: Scope, order: str) -> pd.DataFrame:
    """Rows of a strand-1 mart for the scope's study and vintage (table names are constants of this module)."""
    return con.execute(f"SELECT * FROM {table} WHERE study_id = $study_id AND vintage = $vintage ORDER BY {order}",
                       scope.params).df()


def _rates(con, scope: Scope) -> pd.DataFrame:
    """Every authority and England as the report's vintage has them, keyed by panel unit."""
    return con.execute(
        "SELECT coalesce(panel_unit_code, area_code) AS unit_code, coalesce(la_name, area_name) AS unit_name, "
        f"collection_year, {', '.join(measures.RATE_NAMES)} FROM marts.cin_rates_vintages "
        "WHERE vintage = $vintage AND geographic_level IN ('National', 'Local authority') "
        "ORDER BY unit_code, collection_year", {"vintage": scope.vintage}).df()


def _main_p_values(did: pd.DataFrame) -> dict[str, float]:
    for method in report.MAIN_METHODS:
        rows = did[did["method"] == method]
        if len(rows):
            return dict(zip(rows["outcome"], rows["permutation_p_value"]))
    return {}
