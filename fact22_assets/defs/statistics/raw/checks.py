"""Checks on the raw layer: every cell readable, no duplicates, codes known."""
import dagster as dg
from dagster_duckdb import DuckDBResource

from fact22_assets.core.validation import Expectation as E
from fact22_assets.glue.checks import check_query, gx_result, rows_result

CELL_LOCATOR = ["source_file", "source_row", "source_column", "area_name", "collection_year", "value_text", "problem"]


def _cells_suite(known_codes: list[str]) -> list[E]:
    return [
        E("ExpectColumnValuesToNotBeInSet", column="value_status", value_set=["invalid"]),
        E("ExpectColumnValuesToBeBetween", column="value", min_value=0),
        E("ExpectCompoundColumnsToBeUnique",
          column_list=["source_id", "geographic_level", "area_key", "collection_year", "measure"]),
        E("ExpectColumnValuesToBeInSet", column="old_la_code", value_set=known_codes),
        E("ExpectColumnValuesToBeInSet", column="geographic_level",
          value_set=["National", "Regional", "Local authority"]),
        E("ExpectColumnValuesToNotBeNull", column="collection_year"),
    ]


def _check_cells(duckdb: DuckDBResource, table: str) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        frame = con.execute(
            f"SELECT *, coalesce(old_la_code, area_code) AS area_key FROM {table}").df()
        known = [r[0] for r in con.execute("SELECT DISTINCT old_la_code FROM raw.la_lookup").fetchall()]
    return gx_result(frame, _cells_suite(known), table, CELL_LOCATOR)


@dg.asset_check(asset=dg.AssetKey(["raw", "cin_sfr"]), blocking=True,
                additional_deps=[dg.AssetKey(["raw", "la_lookup"])],
                description="Every cell is a number or a symbol the release documents; no negative counts; "
                            "one row per source, area, year and measure; every authority code known.")
def raw_cin_sfr_cells_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return _check_cells(duckdb, "raw.cin_sfr")


@dg.asset_check(asset=dg.AssetKey(["raw", "cin_ees"]), blocking=True,
                additional_deps=[dg.AssetKey(["raw", "la_lookup"])],
                description="Every cell is a number or a symbol the release documents; no negative counts; "
                            "one row per source, area, year and measure; every authority code known.")
def raw_cin_ees_cells_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return _check_cells(duckdb, "raw.cin_ees")


def _codes_known(duckdb: DuckDBResource, table: str) -> dg.AssetCheckResult:
    # Here, not only in staging: staging joins every file of a release, so a bad code there fails them all.
    return rows_result(check_query(duckdb, "unknown_authority_codes", {"table": table}),
                       "authority code(s) the lookup does not know for their DfE number")


_CODES_KNOWN = ("Every authority row's ONS code (the file's new_la_code) is a code the authority lookup knows for "
                "its DfE number; a failure names the file, its first row with the code, the column and the code.")


@dg.asset_check(asset=dg.AssetKey(["raw", "cin_sfr"]), blocking=True,
                additional_deps=[dg.AssetKey(["raw", "la_lookup"])], description=_CODES_KNOWN)
def raw_cin_sfr_authority_codes_known(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return _codes_known(duckdb, "raw.cin_sfr")


@dg.asset_check(asset=dg.AssetKey(["raw", "cin_ees"]), blocking=True,
                additional_deps=[dg.AssetKey(["raw", "la_lookup"])], description=_CODES_KNOWN)
def raw_cin_ees_authority_codes_known(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return _codes_known(duckdb, "raw.cin_ees")


@dg.asset_check(asset=dg.AssetKey(["raw", "ons_population"]), blocking=True,
                description="Every estimate readable and positive; one row per file, area, mid-year and age group.")
def raw_ons_population_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        frame = con.execute("SELECT * FROM raw.ons_population").df()
    return gx_result(frame, [
        E("ExpectColumnValuesToNotBeInSet", column="value_status", value_set=["invalid"]),
        E("ExpectColumnValuesToBeBetween", column="population", min_value=1),
        E("ExpectCompoundColumnsToBeUnique", column_list=["source_id", "area_code", "old_la_code", "mid_year", "age_group"]),
        E("ExpectColumnValuesToNotBeNull", column="area_code"),
    ], "raw.ons_population", ["source_file", "source_row", "source_column", "area_code", "area_name", "value_text", "problem"])


@dg.asset_check(asset=dg.AssetKey(["raw", "la_lookup"]), blocking=True,
                description="Each authority's ONS code appears once per DfE number, with a name and a region "
                            "(joint-reporting rows and placeholders such as BFPO aside).")
def raw_la_lookup_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        frame = con.execute("SELECT * FROM raw.la_lookup WHERE is_authority AND NOT is_joint_reporting").df()
    return gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["la_code", "old_la_code"]),
        E("ExpectColumnValuesToNotBeNull", column="la_name"),
        E("ExpectColumnValuesToMatchRegex", column="region_code", regex=r"^E1[23]\d{6}$"),
        E("ExpectTableRowCountToBeBetween", min_value=150),
    ], "raw.la_lookup", ["source_row", "la_code", "la_name", "old_la_code"])
