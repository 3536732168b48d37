"""The authority explorer asset: one self-contained HTML page beside the report
(plotly.js embedded from the pinned `plotly` package; opens without a network)."""
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from fact22_assets.core.explorer import explorer_data, explorer_html
from fact22_assets.core.files import write_atomically
from fact22_assets.defs.report.scope import ANALYST_GROUP
from fact22_assets.glue.publishing import outputs_of, published_location
from fact22_assets.glue.tables import read_frame

EXPLORER_FILE = "authority_explorer.html"


def plotly_js() -> str:
    """plotly.js as the installed `plotly` package ships it (no CDN)."""
    import plotly  # imported when the page is written, not when the definitions load

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")


@dg.asset(key=["reports", "authority_explorer"], group_name=ANALYST_GROUP, kinds={"html", "plotly"},
          deps=[dg.AssetKey(["marts", "la_benchmarks"])],
          description="Authority explorer: one self-contained HTML page (outputs/authority_explorer.html, no network "
                      "needed) where you pick an authority and a measure and see its series against its statistical "
                      "neighbours' average, its region and England, its rank and band, the data table beside the chart "
                      "and a CSV download. Built from marts.la_benchmarks.")
def reports_authority_explorer(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        benchmarks = read_frame(con, "SELECT * FROM marts.la_benchmarks")
    data = explorer_data(benchmarks)
    page = explorer_html(data, plotly_js(), built=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
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
