"""An asset per SQL file: ``sql/<schema>/<table>.sql`` builds the table
``<schema>.<table>``, the asset key is the table, and its upstream tables are
read from the SQL itself (`tables.sql_dependencies`)."""
import hashlib
from collections.abc import Callable

import dagster as dg
from dagster_duckdb import DuckDBResource

from fact22_assets.glue.tables import run_sql_transform, sql_dependencies, sql_text, table_metadata


def sql_table_asset(table: str, group: str, extra_metadata: Callable[[object], dict] | None = None,
                    checks: tuple = ()) -> dg.AssetsDefinition:
    """The asset that rebuilds ``table`` from its SQL file in one transaction;
    ``extra_metadata(con)`` adds to the row count, preview and schema; ``checks`` (glue.checks.InlineCheck)
    are evaluated on the same connection.  Its description is the table's, in
    data/reference/column_descriptions.yaml (applied in definitions.py)."""
    schema, name = table.split(".")
    sql_file = f"{schema}/{name}.sql"

    # The SQL's own digest as the code version: the UI marks the table stale when its SQL changes.
    @dg.asset(key=[schema, name], group_name=group, kinds={"duckdb", "sql"},
              deps=sql_dependencies(sql_file), check_specs=[spec for check in checks for spec in check.check_specs],
              code_version=hashlib.sha256(sql_text(sql_file).encode()).hexdigest()[:16])
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
        with duckdb.get_connection() as con:
            run_sql_transform(con, table, sql_file)
            extra = extra_metadata(con) if extra_metadata else {}
            return dg.MaterializeResult(metadata=table_metadata(con, table, **extra),
                                        check_results=[check.result(con) for check in checks])

    return _asset
