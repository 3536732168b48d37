"""Dilution: what each study's programme, at its reach, could change in the treated authority's rate."""
import dagster as dg
from dagster_duckdb import DuckDBResource

from fact22_assets.core.calibration.power import DILUTION_COLUMNS, dilution
from fact22_assets.core.source_versions import STUDIES
from fact22_assets.glue.sources import source_key
from fact22_assets.glue.studies import studies as configured_studies
from fact22_assets.glue.tables import replace_table, table_metadata


@dg.asset(key=["marts", "did_dilution"], group_name="did", kinds={"duckdb", "python"},
          deps=[dg.AssetKey(["marts", "cin_rates_vintages"]), source_key(STUDIES)],
          description="Per study with a reach (data/studies.yaml), data vintage and outcome: the families served a "
                      "year, the largest effect per family thought plausible, and the change in the treated "
                      "authority's rate they imply (reach x effect / population x 10,000), beside the most any "
                      "such programme could change it (every family served, one event each).")
def did_dilution(duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        populations = con.execute(
            "SELECT vintage, panel_unit_code AS unit_code, collection_year, "
            "sum(population_all_ages) AS population_all_ages, sum(population_0_17) AS population_0_17 "
            "FROM marts.cin_rates_vintages WHERE geographic_level = 'Local authority' "
            "GROUP BY ALL").df()
        table = dilution(configured_studies(), populations)
        replace_table(con, "marts.did_dilution", table[DILUTION_COLUMNS])
        return dg.MaterializeResult(metadata=table_metadata(con, "marts.did_dilution"))
