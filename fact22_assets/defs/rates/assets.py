"""Marts: rates per 10,000 that analysts and the estimates read."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from ...warehouse import run_sql_transform, table_metadata

GROUP = "rates"


@dg.asset(key=["marts", "cin_rates"], group_name=GROUP, kinds={"duckdb", "sql"}, owners=["team:evaluation"],
          deps=[dg.AssetKey(["staging", "cin_area_year"]), dg.AssetKey(["staging", "population_area_year"])],
          description="Closures, re-referrals, escalations and referrals per 10,000 residents (all ages) and per "
                      "10,000 children, and children in need per 10,000 children, for every authority, region and "
                      "England, 2009-10 onwards.")
def marts_cin_rates(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        run_sql_transform(con, "marts.cin_rates", "marts/cin_rates.sql")
        years = con.execute(
            "SELECT min(collection_year_label), max(collection_year_label) FROM marts.cin_rates").fetchone()
        return dg.MaterializeResult(metadata=table_metadata(
            con, "marts.cin_rates", first_year=dg.MetadataValue.text(years[0]),
            last_year=dg.MetadataValue.text(years[1])))
