"""Checks of the benchmark marts: each recomputes an invariant from the mart itself (or its inputs) in SQL,
independently of core/lait.py, and names the rows that break it."""
import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core import lait
from fact22_assets.glue.checks import check_query, rows_result

LA_BENCHMARKS = dg.AssetKey(["marts", "la_benchmarks"])
WIDE = dg.AssetKey(["marts", "la_benchmarks_wide"])
NEIGHBOURS = dg.AssetKey(["marts", "statistical_neighbours"])


@dg.asset_check(asset=LA_BENCHMARKS, blocking=True,
                description="LAIT's conventions hold on every row: ranked_authorities counts the authorities with a "
                            "value; the thresholds are their quartiles; each band follows from the value, thresholds "
                            "and polarity (\"Not applicable\" without one), each rank from the values (1 = best, "
                            "ties the lowest rank); the value is DfE's published figure where there is one; the "
                            "neighbours' average is the mean of their values; each measure carries the registry's "
                            "polarity.")
def la_benchmarks_follow_lait(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    found = check_query(duckdb, "la_benchmarks_inconsistent")
    with duckdb.get_connection() as con:
        polarities = con.execute("SELECT DISTINCT measure, polarity FROM marts.la_benchmarks").df()
    expected = {m.name: m.polarity for m in lait.MEASURES}
    wrong = polarities[polarities["measure"].map(expected) != polarities["polarity"]]
    if len(wrong):
        found = pd.concat([found, wrong.assign(problem="polarity is not the measure registry's")], ignore_index=True)
    return rows_result(found, "rows breaking LAIT's conventions")


def _wide_differences_sql() -> str:
    """Cells of the wide mart that differ from the long one (or rows it lacks or adds)."""
    parts = []
    for measure in lait.MEASURE_NAMES:  # registry names: identifiers, never user input
        differs = " OR ".join(f"w.{measure}{suffix} IS DISTINCT FROM l.{column}"
                              for suffix, column in lait.WIDE_PARTS.items())
        parts.append(f"SELECT coalesce(w.la_name, l.la_name) AS la_name, coalesce(w.collection_year, "
                     f"l.collection_year) AS collection_year, '{measure}' AS measure FROM marts.la_benchmarks_wide w "
                     f"FULL JOIN (SELECT * FROM marts.la_benchmarks WHERE measure = '{measure}') l "
                     f"USING (old_la_code, collection_year) WHERE w.la_name IS NULL OR l.la_name IS NULL OR {differs}")
    return " UNION ALL ".join(parts) + " ORDER BY 1, 2, 3"


@dg.asset_check(asset=WIDE, blocking=True, additional_deps=[LA_BENCHMARKS],
                description="One row per authority and year of marts.la_benchmarks, and every cell (value, basis, "
                            "England, region, neighbours' average, rank, band of each measure) equal to the long "
                            "table's.")
def la_benchmarks_wide_agrees_with_long(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        found = con.execute(_wide_differences_sql()).df()
    return rows_result(found, "cells of the wide table that differ from marts.la_benchmarks")


@dg.asset_check(asset=NEIGHBOURS, blocking=True,
                additional_deps=[dg.AssetKey(["raw", "statistical_neighbours"]), LA_BENCHMARKS],
                description="Each authority's neighbours are DfE's (the same pairs as raw.statistical_neighbours), "
                            "ranked 1, 2, ... without gaps, named, never the authority itself; the models' years do "
                            "not overlap; marts.la_benchmarks uses the model in force in each year.")
def statistical_neighbours_consistent(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return rows_result(check_query(duckdb, "statistical_neighbours_inconsistent"),
                       "problems with the statistical neighbours")
