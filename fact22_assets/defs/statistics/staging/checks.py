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
# Authorities with an estimate must add up to England less the known gaps
# within this share (they agree exactly in the shipped files; doubling
# Cheshire East's population moves the sum by 0.7%).
POPULATION_TOLERANCE = 0.001
# Where every authority of an area published a count, the authorities fall
# short of DfE's total (rounded to 10) by at most 0.12% in the shipped files
# (North East escalations 2017-18, 5 of 4,180): allow 0.5%.
TOTALS_TOLERANCE = 0.005


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
                            "authority has a row in exactly the years it existed (the lookup's dates, and the first "
                            "and last collection years of reference.boundary_changes): no year missing, none extra.")
def cin_every_authority_in_exactly_its_years(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return rows_result(check_query(duckdb, "cin_coverage_gaps", {"min_authorities": MIN_AUTHORITIES_PER_YEAR}),
                       "unexplained coverage gaps")


@dg.asset_check(asset=CIN, blocking=True,
                description="Every authority row's ONS code was live on 31 March of its year for its DfE number, "
                            "and its published region is the authority's region in the lookup.")
def authority_codes_live(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return rows_result(check_query(duckdb, "authority_codes_not_live"), "authority rows with a code or region "
                                                                        "the lookup does not support")


@dg.asset_check(asset=CIN, blocking=True,
                description="Authorities add up to DfE's published England and regional totals: never above them "
                            "beyond rounding to 10, and within "
                            f"{TOTALS_TOLERANCE:.1%} of them wherever no authority cell of that area, year and "
                            "measure is withheld (a withheld cell is in DfE's total but in no sum of ours).")
def authorities_sum_to_published_totals(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    gaps = check_query(duckdb, "authorities_vs_published_totals", {"tolerance": TOTALS_TOLERANCE})
    return rows_result(gaps, "area-measure-years whose authorities do not add up to the published total")


@dg.asset_check(asset=POPULATION, blocking=True,
                description="In every mid-year, the authorities with an estimate add up to England less the known "
                            "gaps (Dorset county, Poole and Bournemouth before mid-2019, covered by their successors' "
                            f"estimates) within {POPULATION_TOLERANCE:.1%}; any other authority without an estimate "
                            "fails.")
def population_sums_to_england_less_known_gaps(duckdb: DuckDBResource) -> dg.AssetCheckResult:
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
