"""The authority explorer asset: one self-contained HTML page beside the report (no network, no charting
library: core/explorer.py draws an SVG chart in the page)."""
from datetime import UTC, datetime

import dagster as dg
from dagster_duckdb import DuckDBResource

from fact22_assets.core.explorer import explorer_data, explorer_html
from fact22_assets.core.files import write_atomically
from fact22_assets.defs.report.scope import ANALYST_GROUP
from fact22_assets.glue.publishing import outputs_of, published_location
from fact22_assets.glue.tables import read_frame

EXPLORER_FILE = "authority_explorer.html"
_COLUMNS = ("la_name, old_la_code, region_code, region_name, collection_year, measure, measure_label, unit, polarity, "
            "value, value_basis, england_value, region_value, national_rank, ranked_authorities, quartile_band")


@dg.asset(key=["reports", "authority_explorer"], group_name=ANALYST_GROUP, kinds={"html"},
          deps=[dg.AssetKey(["marts", "la_benchmarks"]), dg.AssetKey(["marts", "statistical_neighbours"])],
          description="Authority explorer: one self-contained HTML page (outputs/authority_explorer.html, no network "
                      "needed) where you pick an authority and a measure and see its series beside each of its DfE "
                      "statistical neighbours, their average, its region and England (DfE's published figures where "
                      "DfE printed one), LAIT's rank and band, the change of neighbour model in 2022-23, the data "
                      "table and a CSV download. Built from marts.la_benchmarks.")
def reports_authority_explorer(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        benchmarks = read_frame(con, f"SELECT {_COLUMNS} FROM marts.la_benchmarks")
        neighbours = read_frame(con, "SELECT model, old_la_code, neighbour_rank, neighbour_old_la_code "
                                     "FROM marts.statistical_neighbours")
    data = explorer_data(benchmarks, neighbours)
    page = explorer_html(data, built=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    path = outputs_of(duckdb) / EXPLORER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, page.encode("utf-8"))
    context.log.info(f"wrote {path} ({len(page) / 1e6:.1f} MB)")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(published_location(duckdb, path)[0])),
        "open": dg.MetadataValue.url(published_location(duckdb, path)[1]),
        "authorities": dg.MetadataValue.int(len(data["authorities"])),
        "measures": dg.MetadataValue.int(len(data["measures"])),
        "size_mb": dg.MetadataValue.float(round(len(page) / 1e6, 2)),
    })
