"""Marts: rates per 10,000 that analysts and the estimates read."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from ...warehouse import run_sql_transform, table_metadata

GROUP = "rates"


OWNERS = ["team:evaluation"]


@dg.asset(key=["marts", "cin_rates_vintages"], group_name=GROUP, kinds={"duckdb", "sql"}, owners=OWNERS,
          deps=[dg.AssetKey(["staging", "cin_area_year_vintages"]), dg.AssetKey(["staging", "population_area_year"])],
          description="marts.cin_rates for every data vintage (each children-in-need release), so that estimates "
                      "can be recomputed as the data stood when each release came out.")
def marts_cin_rates_vintages(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        run_sql_transform(con, "marts.cin_rates_vintages", "marts/cin_rates_vintages.sql")
        vintages = [r[0] for r in con.execute(
            "SELECT DISTINCT vintage FROM marts.cin_rates_vintages ORDER BY 1").fetchall()]
        return dg.MaterializeResult(metadata=table_metadata(
            con, "marts.cin_rates_vintages", vintages=dg.MetadataValue.text(", ".join(vintages))))


@dg.asset(key=["marts", "revisions"], group_name=GROUP, kinds={"duckdb", "sql"}, owners=OWNERS,
          deps=[dg.AssetKey(["raw", "cin_sfr"]), dg.AssetKey(["raw", "cin_ees"]), dg.AssetKey(["raw", "source_files"])],
          description="Every published value a later release changed (number or symbol): area, year, measure, "
                      "old and new value, the two releases, and where the new value was printed.")
def marts_revisions(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        run_sql_transform(con, "marts.revisions", "marts/revisions.sql")
        kinds = con.execute("SELECT kind, count(*) FROM marts.revisions GROUP BY 1 ORDER BY 1").fetchall()
        return dg.MaterializeResult(metadata=table_metadata(
            con, "marts.revisions", **{k.replace(" ", "_"): dg.MetadataValue.int(n) for k, n in kinds}))


@dg.asset(key=["marts", "cin_rates"], group_name=GROUP, kinds={"duckdb", "sql"}, owners=OWNERS,
          deps=[marts_cin_rates_vintages],
          description="Closures, re-referrals, escalations and referrals per 10,000 residents (all ages) and per "
                      "10,000 children, and children in need per 10,000 children, for every authority, region and "
                      "England, 2009-10 onwards: the current vintage.")
def marts_cin_rates(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        run_sql_transform(con, "marts.cin_rates", "marts/cin_rates.sql")
        years = con.execute(
            "SELECT min(collection_year_label), max(collection_year_label) FROM marts.cin_rates").fetchone()
        return dg.MaterializeResult(metadata=table_metadata(
            con, "marts.cin_rates", first_year=dg.MetadataValue.text(years[0]),
            last_year=dg.MetadataValue.text(years[1])))
