"""DfE's own published rates, percentages and 0-17 denominators, kept apart from the counts.

The same files as raw.cin_sfr and raw.cin_ees (and two files read for nothing else: the 2022 release's d1
and its population file), the columns ``published_columns:`` in data/sources.yaml names; the rates check
of marts.cin_rates compares the warehouse's figures with them.
"""
import dagster as dg
from dagster_duckdb import DuckDBResource

from fact22_assets.core import cin_parsers
from fact22_assets.core.source_versions import CATALOGUED
from fact22_assets.defs.statistics.raw.assets import GROUP, _load_sources, _status_counts
from fact22_assets.defs.statistics.raw.checks import CELL_LOCATOR, _cells_suite
from fact22_assets.glue.checks import InlineCheck, gx_result
from fact22_assets.glue.resources import SourcesResource
from fact22_assets.glue.sources import source_key
from fact22_assets.glue.tables import replace_table, table_metadata

_READS = ("cin_sfr", "cin_ees", "cin_published_rates")


def check_cells(con, table: str) -> dg.AssetCheckResult:
    """The raw layer's cell suite (defs/statistics/raw/checks.py) on an open connection."""
    frame = con.execute(f"SELECT *, coalesce(old_la_code, area_code) AS area_key FROM {table}").df()
    known = [r[0] for r in con.execute("SELECT DISTINCT old_la_code FROM raw.la_lookup").fetchall()]
    return gx_result(frame, _cells_suite(known), table, CELL_LOCATOR)


raw_cin_published_rates_cells_valid = InlineCheck(
    dg.AssetKey(["raw", "cin_published_rates"]), "raw_cin_published_rates_cells_valid",
    "Every published rate, percentage and denominator is a number or a symbol the release documents, never "
    "negative; one row per file, area, year and figure; every authority code known.",
    lambda con: check_cells(con, "raw.cin_published_rates"))


@dg.asset(key=["raw", "cin_published_rates"], group_name=GROUP, kinds={"duckdb", "csv"},
          deps=[*(source_key(name) for name in _READS), dg.AssetKey(["raw", "la_lookup"])],
          check_specs=raw_cin_published_rates_cells_valid.check_specs)
def raw_cin_published_rates(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                            sources: SourcesResource) -> dg.MaterializeResult:
    families = [family for name in _READS for family in CATALOGUED[name]]
    printing = [s for s in sources.catalogue().of_family(*families) if s.published_columns]
    frame = _load_sources(context, printing, cin_parsers.parse_published)
    with duckdb.get_connection() as con:
        replace_table(con, "raw.cin_published_rates", frame)
        return dg.MaterializeResult(
            metadata=table_metadata(con, "raw.cin_published_rates", value_status=_status_counts(frame)),
            check_results=[raw_cin_published_rates_cells_valid.result(con)])
