"""Benchmark marts (core/lait.py does the arithmetic); their descriptions are in
data/reference/column_descriptions.yaml, like every table's."""
import dagster as dg
from dagster_duckdb import DuckDBResource

from fact22_assets.core import lait
from fact22_assets.defs.lait.checks import (
    la_benchmarks_follow_lait,
    la_benchmarks_wide_agrees_with_long,
    statistical_neighbours_consistent,
)
from fact22_assets.glue.tables import read_frame, replace_table, table_metadata

GROUP = "lait"
RATES = dg.AssetKey(["marts", "cin_rates"])
NEIGHBOURS = dg.AssetKey(["raw", "statistical_neighbours"])
_NEIGHBOUR_COLUMNS = "model, old_la_code, neighbour_rank, neighbour_old_la_code, closeness"


def _neighbours(con):
    return read_frame(con, f"SELECT {_NEIGHBOUR_COLUMNS} FROM raw.statistical_neighbours")


@dg.asset(key=["marts", "la_benchmarks"], group_name=GROUP, kinds={"duckdb", "pandas"},
          deps=[RATES, NEIGHBOURS, dg.AssetKey(["marts", "statistical_neighbours"])],
          check_specs=la_benchmarks_follow_lait.check_specs)
def marts_la_benchmarks(duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        frame = lait.la_benchmarks(read_frame(con, "SELECT * FROM marts.cin_rates"), _neighbours(con))
        replace_table(con, "marts.la_benchmarks", frame)
        return dg.MaterializeResult(metadata=table_metadata(
            con, "marts.la_benchmarks", measures=dg.MetadataValue.int(len(lait.MEASURE_NAMES)),
            authorities=dg.MetadataValue.int(int(frame["old_la_code"].nunique()))),
            check_results=[la_benchmarks_follow_lait.result(con)])


@dg.asset(key=["marts", "la_benchmarks_wide"], group_name=GROUP, kinds={"duckdb", "pandas"},
          deps=[dg.AssetKey(["marts", "la_benchmarks"])], check_specs=la_benchmarks_wide_agrees_with_long.check_specs)
def marts_la_benchmarks_wide(duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        frame = lait.la_benchmarks_wide(read_frame(con, "SELECT * FROM marts.la_benchmarks"))
        replace_table(con, "marts.la_benchmarks_wide", frame)
        return dg.MaterializeResult(metadata=table_metadata(con, "marts.la_benchmarks_wide"),
                                    check_results=[la_benchmarks_wide_agrees_with_long.result(con)])


@dg.asset(key=["marts", "statistical_neighbours"], group_name=GROUP, kinds={"duckdb", "pandas"},
          deps=[NEIGHBOURS, dg.AssetKey(["staging", "la_reference"])],
          check_specs=statistical_neighbours_consistent.check_specs)
def marts_statistical_neighbours(duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        names = read_frame(con, "SELECT old_la_code, arg_max(la_name, coalesce(valid_to, DATE '9999-12-31')) "
                                "AS la_name, arg_max(la_code, coalesce(valid_to, DATE '9999-12-31')) AS area_code "
                                "FROM staging.la_reference GROUP BY old_la_code")
        frame = lait.neighbour_table(_neighbours(con), names)
        replace_table(con, "marts.statistical_neighbours", frame)
        return dg.MaterializeResult(metadata=table_metadata(con, "marts.statistical_neighbours"),
                                    check_results=[statistical_neighbours_consistent.result(con)])
