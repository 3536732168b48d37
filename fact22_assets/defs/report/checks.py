"""Checks on what people read: every published column is described."""
import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from ...check_results import rows_result
from .assets import published_columns, published_tables

DICTIONARY = dg.AssetKey(["marts", "data_dictionary"])


@dg.asset_check(asset=DICTIONARY, blocking=False,
                description="Every table and every column in the raw, reference, staging and marts schemas carries a "
                            "non-empty comment (its description). Reported, not blocking: a new column without a "
                            "description in data/reference/column_descriptions.yaml is listed here.")
def every_column_described(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        columns, tables = published_columns(con), published_tables(con)
    blank_columns = columns[columns["comment"].fillna("").str.strip() == ""]
    blank_tables = tables[tables["comment"].fillna("").str.strip() == ""].assign(column_name="(table)")
    where = ["table_schema", "table_name", "column_name"]
    offending = pd.concat([blank_tables[where], blank_columns[where]], ignore_index=True)
    result = rows_result(offending, "tables or columns without a description", severity=dg.AssetCheckSeverity.WARN)
    coverage = columns.assign(described=columns["comment"].fillna("").str.strip() != "") \
        .groupby("table_schema")["described"].agg(["sum", "count"]).reset_index()
    return dg.AssetCheckResult(
        passed=result.passed, severity=result.severity, description=result.description,
        metadata={**result.metadata, "columns_checked": len(columns), "tables_checked": len(tables),
                  "coverage_by_schema": dg.MetadataValue.md(
                      coverage.rename(columns={"sum": "described", "count": "columns"}).to_markdown(index=False))},
    )
