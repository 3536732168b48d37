"""What the national placebo study reads from the published warehouse (read-only, never the build file)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from fact22_assets.core.calibration.design import Design, designs_of, start_years
from fact22_assets.core.calibration.files import panel_digest
from fact22_assets.core.calibration.placebo_studies import SDID_SAMPLE_PER_OUTCOME, SliceInputs
from fact22_assets.core.did.prepared import PreparedPanel
from fact22_assets.glue.studies import interventions
from fact22_assets.glue.studies import studies as configured_studies
from fact22_assets.glue.tables import sql_text
from fact22_assets.settings import DUCKDB_CONFIG


@dataclass(frozen=True)
class PlaceboStudyData:
    """The latest vintage's panel and the context of the comparator rule, read once per run."""

    vintage: str
    panel: PreparedPanel
    deprivation: pd.DataFrame
    neighbours_by_unit: dict[str, pd.DataFrame]  # neighbour model -> every authority's neighbours
    neighbours: dict[tuple[str, str], pd.DataFrame]  # (model, unit) -> did/neighbours.sql for that treated unit
    entries: tuple
    interventions: tuple
    designs: tuple[Design, ...]
    panel_digest: str  # of did/panel.sql's rows: what the manifest says the study read

    def slices(self, outcome: str, years: list[int] | None = None) -> list[SliceInputs]:
        """Every (design, start year) slice of ``outcome`` the data allow (of ``years`` only, when given).

        Synthetic DiD's exact inference runs for an equal share of SDID_SAMPLE_PER_OUTCOME placebo studies in
        each slice, and always for the configured studies' treated authorities."""
        chosen = [(design, year) for design in self.designs for year in start_years(self.panel, design, outcome)
                  if years is None or year in years]
        per_slice = math.ceil(SDID_SAMPLE_PER_OUTCOME / len(chosen)) if chosen else None
        always = tuple(sorted({e.study.treated_unit_code for e in self.entries}))
        found = []
        for design, year in chosen:
            model = design.neighbour_model

            def neighbours_of(code: str, model: str = model) -> pd.DataFrame | None:
                return self.neighbours.get((model, code))

            found.append(SliceInputs(self.panel, design, year, outcome, self.entries, self.interventions,
                                     self.deprivation, self.neighbours_by_unit[model], neighbours_of,
                                     sdid_sample=per_slice, sdid_always=always))
        return found


def read_published(warehouse: Path) -> PlaceboStudyData:
    """The published warehouse's latest vintage, as every study of it would read it."""
    if not Path(warehouse).is_file():
        raise FileNotFoundError(f"no published warehouse at {warehouse}: run `make warehouse` before `make calibrate`")
    entries, known = configured_studies(), interventions()
    designs = tuple(designs_of(entries))
    con = duckdb.connect(str(warehouse), read_only=True, config=DUCKDB_CONFIG)
    try:
        vintage = con.execute(sql_text("did/vintages.sql")).df()["vintage"].iloc[-1]
        rows = con.execute(sql_text("did/panel.sql"), {"vintage": vintage}).df()
        panel = PreparedPanel(rows)
        deprivation = con.execute("SELECT utla_code AS unit_code, imd_average_score FROM raw.deprivation").df()
        models = sorted({d.neighbour_model for d in designs})
        by_unit = {m: con.execute(sql_text("did/neighbours_by_unit.sql"), {"model": m}).df() for m in models}
        units = sorted(panel.frame["unit_code"].unique())
        query = sql_text("did/neighbours.sql")
        neighbours = {(m, u): con.execute(query, {"model": m, "treated_unit_code": u}).df()
                      for m in models for u in units}
    finally:
        con.close()
    return PlaceboStudyData(str(vintage), panel, deprivation, by_unit, neighbours, tuple(entries),
                            tuple(known), designs, panel_digest(rows))
