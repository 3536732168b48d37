"""Staging layer: typed, harmonised, one row per area and year."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from ...warehouse import run_sql_transform, table_metadata

GROUP = "staging"
OWNERS = ["team:data-engineering"]


def _transform(context: dg.AssetExecutionContext, duckdb: DuckDBResource, sql_file: str) -> dg.MaterializeResult:
    table = ".".join(context.asset_key.path)
    with duckdb.get_connection() as con:
        run_sql_transform(con, table, sql_file)
        return dg.MaterializeResult(metadata=table_metadata(con, table))


@dg.asset(key=["staging", "la_reference"], group_name=GROUP, kinds={"duckdb", "sql"}, owners=OWNERS,
          deps=[dg.AssetKey(["raw", "la_lookup"]), dg.AssetKey(["raw", "regions"])],
          description="Every DfE authority number with each ONS code it has carried, dates of operation and region.")
def staging_la_reference(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    return _transform(context, duckdb, "staging/la_reference.sql")


@dg.asset(key=["staging", "cin_area_year_vintages"], group_name=GROUP, kinds={"duckdb", "sql"}, owners=OWNERS,
          deps=[dg.AssetKey(["raw", "cin_sfr"]), dg.AssetKey(["raw", "cin_ees"]), dg.AssetKey(["raw", "source_files"]),
                dg.AssetKey(["raw", "regions"]), dg.AssetKey(["reference", "boundary_changes"]), staging_la_reference],
          description="Children-in-need counts per data vintage (a CIN release), area (authority, region, England) "
                      "and collection year: referrals, re-referrals, CIN at 31 March, closures (episodes ended), "
                      "escalations (CP plans started), each with its publication status; within a vintage the "
                      "latest release up to it wins; panel unit and boundary status.")
def staging_cin_area_year_vintages(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    return _transform(context, duckdb, "staging/cin_area_year_vintages.sql")


@dg.asset(key=["staging", "cin_area_year"], group_name=GROUP, kinds={"duckdb", "sql"}, owners=OWNERS,
          deps=[staging_cin_area_year_vintages],
          description="The current vintage of staging.cin_area_year_vintages: one row per area and collection year.")
def staging_cin_area_year(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    return _transform(context, duckdb, "staging/cin_area_year.sql")


@dg.asset(key=["staging", "population_area_year"], group_name=GROUP, kinds={"duckdb", "sql"}, owners=OWNERS,
          deps=[staging_cin_area_year_vintages, dg.AssetKey(["raw", "ons_population"]), dg.AssetKey(["raw", "cin_sfr"]),
                dg.AssetKey(["reference", "population_geography"]), staging_la_reference],
          description="Population (all ages and 0-17) of every area and collection year, from the mid-year "
                      "estimate before the year ends, with the ONS areas and file it came from.")
def staging_population_area_year(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    return _transform(context, duckdb, "staging/population_area_year.sql")
