"""Checks on the staging layer: one row per area-year, consistent counts,
complete coverage (or each gap explained), population that adds up."""
import dagster as dg
from dagster_duckdb import DuckDBResource

from fact22_assets.core import measures
from fact22_assets.core.validation import Expectation as E
from fact22_assets.glue.checks import check_query, gx_result, rows_result

CIN = dg.AssetKey(["staging", "cin_area_year"])
POPULATION = dg.AssetKey(["staging", "population_area_year"])
MIN_AUTHORITIES_PER_YEAR = 150
# Authorities' populations must add up to England's within this share where
# every authority has an estimate.
POPULATION_TOLERANCE = 0.001
# DfE's totals include estimates for authorities that did not return (e.g.
# Hackney 2021-22): authorities may fall this far short of them.
TOTALS_TOLERANCE = 0.03



@dg.asset_check(asset=CIN, blocking=True,
                description="One row per area and year; counts non-negative; every authority has an ONS code "
                            "and a region; statuses say why a count is missing.")
def cin_area_year_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        frame = con.execute("SELECT * FROM staging.cin_area_year").df()
    las = frame["geographic_level"] == "Local authority"
    expectations = [E("ExpectCompoundColumnsToBeUnique", column_list=["geographic_level", "area_key", "collection_year"]),
                    E("ExpectColumnValuesToNotBeNull", column="area_code"),
                    E("ExpectColumnValuesToNotBeNull", column="area_name")]
    for measure in measures.COUNT_NAMES:
        expectations.append(E("ExpectColumnValuesToBeBetween", column=measure, min_value=0))
        expectations.append(E("ExpectColumnValuesToNotBeNull", column=f"{measure}_status"))
    result = gx_result(frame, expectations, "staging.cin_area_year",
                       ["geographic_level", "area_name", "collection_year", "source_files"])
    if not result.passed:
        return result
    return gx_result(frame[las], [E("ExpectColumnValuesToNotBeNull", column="region_code"),
                                  E("ExpectColumnValuesToMatchRegex", column="old_la_code", regex=r"^\d{3}$")],
                     "staging.cin_area_year (authorities)", ["area_name", "collection_year", "source_files"])


@dg.asset_check(asset=CIN, blocking=True,
                description="Re-referrals within 12 months never exceed referrals in the same area and year.")
def rereferrals_within_referrals(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return rows_result(check_query(duckdb, "rereferrals_exceed_referrals"), "area-years with re-referrals > referrals")


@dg.asset_check(asset=CIN, blocking=True,
                description=f"Every year has England and at least {MIN_AUTHORITIES_PER_YEAR} authorities; every "
                            "authority appears in every year it operated, or its absence is a recorded boundary change.")
def cin_year_coverage(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return rows_result(check_query(duckdb, "cin_coverage_gaps", {"min_authorities": MIN_AUTHORITIES_PER_YEAR}),
                       "unexplained coverage gaps")


@dg.asset_check(asset=CIN, blocking=True,
                description="Every authority row's ONS code was live on 31 March of its year for its DfE number, "
                            "and its published region is the authority's region in the lookup.")
def authority_codes_live(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return rows_result(check_query(duckdb, "authority_codes_not_live"), "authority rows with a code or region "
                                                                        "the lookup does not support")


@dg.asset_check(asset=CIN,
                description="Authorities add up to DfE's published England and regional totals, allowing for "
                            f"rounding to 10 and DfE's estimates for missing returns (shortfall up to "
                            f"{TOTALS_TOLERANCE:.0%}).")
def authorities_add_up_to_published_totals(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    gaps = check_query(duckdb, "authorities_vs_published_totals", {"tolerance": TOTALS_TOLERANCE})
    return rows_result(gaps, "measure-years whose authorities do not add up to the published total",
                       severity=dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=POPULATION, blocking=True,
                description="Authorities' populations add up to England's (within 0.1%) wherever every authority "
                            "has an estimate, and never exceed it (no area counted twice).")
def population_adds_up(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return rows_result(check_query(duckdb, "population_sum_mismatch", {"tolerance": POPULATION_TOLERANCE}),
                       "mid-years whose authorities do not add up to England")


@dg.asset_check(asset=POPULATION, blocking=True,
                description="Every population is positive, one row per area and year, and a missing all-ages "
                            "estimate is a known boundary gap.")
def population_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        frame = con.execute("SELECT p.*, b.change FROM staging.population_area_year p "
                            "LEFT JOIN reference.boundary_changes b USING (old_la_code)").df()
    frame["explained"] = frame["population_all_ages"].notna() | (frame["change"] == "series_ends")
    return gx_result(frame, [
        E("ExpectCompoundColumnsToBeUnique", column_list=["geographic_level", "area_key", "collection_year"]),
        E("ExpectColumnValuesToBeBetween", column="population_all_ages", min_value=1000),
        E("ExpectColumnValuesToBeBetween", column="population_0_17", min_value=100),
        E("ExpectColumnValuesToBeInSet", column="explained", value_set=[True]),
    ], "staging.population_area_year", ["geographic_level", "area_key", "collection_year", "population_all_ages_status"])
