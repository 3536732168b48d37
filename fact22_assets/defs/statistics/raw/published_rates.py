"""DfE's own published rates, percentages and 0-17 denominators, kept apart from the counts.

The same files as raw.cin_sfr and raw.cin_ees (and two files read for nothing else: the 2022 release's d1
and its population file), the columns ``published_columns:`` in data/sources.yaml names; the rates check
of marts.cin_rates compares the warehouse's figures with them.
"""
import dagster as dg
from dagster_duckdb import DuckDBResource

from fact22_assets.core import cin_parsers
from fact22_assets.core.source_versions import CATALOGUED
from fact22_assets.defs.statistics.raw.assets import GROUP, _load_sources, _status_counts, _write
from fact22_assets.defs.statistics.raw.checks import _check_cells
from fact22_assets.glue.resources import SourcesResource
from fact22_assets.glue.sources import source_key

_READS = ("cin_sfr", "cin_ees", "cin_published_rates")


@dg.asset(key=["raw", "cin_published_rates"], group_name=GROUP, kinds={"duckdb", "csv"},
          deps=[source_key(name) for name in _READS])
def raw_cin_published_rates(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                            sources: SourcesResource) -> dg.MaterializeResult:
    families = [family for name in _READS for family in CATALOGUED[name]]
    printing = [s for s in sources.catalogue().of_family(*families) if s.published_columns]
    frame = _load_sources(context, printing, cin_parsers.parse_published)
    return _write(context, duckdb, frame, value_status=_status_counts(frame))


@dg.asset_check(asset=dg.AssetKey(["raw", "cin_published_rates"]), blocking=True,
                additional_deps=[dg.AssetKey(["raw", "la_lookup"])],
                description="Every published rate, percentage and denominator is a number or a symbol the release "
                            "documents, never negative; one row per file, area, year and figure; every authority "
                            "code known.")
def raw_cin_published_rates_cells_valid(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    return _check_cells(duckdb, "raw.cin_published_rates")
