"""What the figures and the report show: one study on its latest estimated vintage.

`Scope` reads the study from data/studies.yaml (through glue.studies), the
vintage from marts.did_runs, the treated authority's name and its nearest
DfE statistical neighbour.  Every query the figures and the report run is a
file of sql/report/ (`report_rows`), so their assets' dependencies are read
from the SQL (`report_dependencies`), as every SQL asset's are.
"""
import re

import dagster as dg
import pandas as pd

from fact22_assets.core import report
from fact22_assets.glue.studies import study_entry
from fact22_assets.glue.tables import sql_dependencies, sql_text

GROUP = "report"
# What analysts open beside the report: the explorer and the figures' data (kept out of the report's graph).
ANALYST_GROUP = "analysts"
DEFAULT_STUDY_ID = "fact22_cheshire_east"
_PARAMETER = re.compile(r"\$([a-z_]+)")
# The queries every study's scope runs (files of sql/, without .sql).
SCOPE_SQL = ("report/scope_vintage", "report/treated_name", "did/neighbours")


def _mart(name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", name])


def _run(con, path: str, params: dict) -> pd.DataFrame:
    text = sql_text(f"{path}.sql")
    used = set(_PARAMETER.findall(text))
    return con.execute(text, {k: v for k, v in params.items() if k in used} or None).df()


def report_rows(con, name: str, scope: "Scope | None" = None) -> pd.DataFrame:
    """The rows of sql/report/<name>.sql, its parameters from the scope (study, vintage, treated authority)."""
    return _run(con, f"report/{name}", scope.params if scope is not None else {})


def trial_ids(treated_unit_code: str) -> list[str]:
    """The trials of data/trials.yaml run in the authority: a study's report shows their casework."""
    from fact22_assets.glue.trials import trials

    return [t.trial_id for t in trials() if t.authority_code == treated_unit_code]


def trial_report_rows(con, name: str, treated_unit_code: str) -> pd.DataFrame:
    """The rows of sql/report/<name>.sql for the trials run in the authority (no data vintage involved)."""
    return _run(con, f"report/{name}", {"trial_ids": trial_ids(treated_unit_code)})


def report_dependencies(names) -> list[dg.AssetKey]:
    """The tables the queries read (``names``: files of sql/report/, or paths under sql/), from the SQL itself."""
    paths = [n if "/" in n else f"report/{n}" for n in names]
    keys = {key for path in paths for key in sql_dependencies(f"{path}.sql")}
    return sorted(keys, key=lambda k: k.to_user_string())


class Scope:
    """The study the figures and report show, the vintage, and the treated authority's name."""

    def __init__(self, con, study_id: str = DEFAULT_STUDY_ID):
        entry = study_entry(study_id)
        self.entry, self.study = entry, entry.study
        found = _run(con, "report/scope_vintage", {"study_id": study_id})
        if found.empty:
            raise ValueError(f"no data vintage estimated study {study_id!r}: see marts.did_runs")
        self.vintage = found["vintage"].iloc[0]
        name = _run(con, "report/treated_name", {"treated_unit_code": self.study.treated_unit_code})
        self.treated_name = (name["treated_name"].iloc[0] if len(name) else None) or self.study.treated_unit_code
        # The treated authority's closest DfE statistical neighbour under the study's model.
        neighbours = _run(con, "did/neighbours", {"model": entry.neighbour_model,
                                                  "treated_unit_code": self.study.treated_unit_code})
        self.nearest_neighbour_code = neighbours["unit_code"].iloc[0] if len(neighbours) else None

    @property
    def params(self) -> dict:
        # the design names the study's placebo-study calibration (core/calibration/design.py)
        from fact22_assets.core.calibration.design import design_of

        return {"study_id": self.study.study_id, "vintage": self.vintage,
                "treated_unit_code": self.study.treated_unit_code, "first_post_year": self.study.first_post_year,
                "design": design_of(self.entry).label, "trial_ids": trial_ids(self.study.treated_unit_code)}

    def setup(self) -> report.StudySetup:
        return report.StudySetup(self.study, treated_name=self.treated_name, programme=self.entry.programme,
                                 description=self.entry.description)


def _main_p_values(did: pd.DataFrame) -> dict[str, float]:
    for method in report.MAIN_METHODS:
        rows = did[did["method"] == method]
        if len(rows):
            return dict(zip(rows["outcome"], rows["permutation_p_value"]))
    return {}
