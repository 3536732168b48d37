"""Small helpers the assets share for reading and writing DuckDB."""
from __future__ import annotations

import re

import dagster as dg
import duckdb
import pandas as pd

from fact22_assets.core.dictionary import column_description, load_spec, table_description
from fact22_assets.core.measures import render_sql
from fact22_assets.settings import SQL_DIR, data_dir

DESCRIPTIONS_FILE = "column_descriptions.yaml"

_TABLE = re.compile(r"^(raw|reference|staging|marts|restricted|meta)\.[a-z_][a-z0-9_]*$")
PREVIEW_ROWS = 10


def table_name(key: dg.AssetKey) -> str:
    """The DuckDB table an asset writes is its key: ["raw", "cin_sfr"] -> raw.cin_sfr."""
    name = ".".join(key.path)
    if not _TABLE.match(name):
        raise ValueError(f"asset key {key.to_user_string()} is not a schema.table name")
    return name


def sql_text(relative: str) -> str:
    """A file of sql/, its measure columns filled in from the measure registry."""
    return render_sql((SQL_DIR / relative).read_text(encoding="utf-8"))


_READS = re.compile(r"\b(raw|reference|staging|marts)\.([a-z_][a-z0-9_]*)\b")
_COMMENT = re.compile(r"--[^\n]*")
_CREATES = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+([a-z_]+\.[a-z_][a-z0-9_]*)", re.IGNORECASE)


def sql_dependencies(relative: str) -> list[dg.AssetKey]:
    """The tables a SQL file reads, as asset keys: lineage comes from the SQL
    itself (as dbt's ref() does), never from a hand-kept list that drifts."""
    text = _COMMENT.sub("", sql_text(relative))
    created = set(_CREATES.findall(text))
    tables = {f"{schema}.{name}" for schema, name in _READS.findall(text)} - created
    return [dg.AssetKey(t.split(".")) for t in sorted(tables)]


def run_sql_file(con: duckdb.DuckDBPyConnection, relative: str, params: dict | list | None = None) -> None:
    """Run one file from sql/ (a single statement, values bound as parameters)."""
    con.execute(sql_text(relative), params or None)


def ensure_schema(con: duckdb.DuckDBPyConnection, table: str) -> None:
    schema = table.split(".")[0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Swap a table's contents for ``frame`` in one transaction: a reader sees
    the old rows or the new, never a half-written table."""
    if not _TABLE.match(table):
        raise ValueError(f"{table!r} is not a schema.table name")
    ensure_schema(con, table)
    con.register("incoming_frame", frame)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM incoming_frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("incoming_frame")


def run_sql_transform(con: duckdb.DuckDBPyConnection, table: str, relative: str, params=None) -> None:
    """Rebuild ``table`` from its SQL file in one transaction."""
    ensure_schema(con, table)
    try:
        con.execute("BEGIN TRANSACTION")
        run_sql_file(con, relative, params)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def read_frame(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> pd.DataFrame:
    return con.execute(sql, params or None).df()


_SPECS: dict[tuple[str, int], dict] = {}


def description_spec() -> dict:
    """The data dictionary's descriptions (core.dictionary.load_spec), read once per version of the file."""
    path = data_dir() / "reference" / DESCRIPTIONS_FILE
    if not path.exists():
        return {}
    stamp = (str(path), path.stat().st_mtime_ns)
    if stamp not in _SPECS:
        _SPECS.clear()
        _SPECS[stamp] = load_spec(path)
    return _SPECS[stamp]


def column_schema(con: duckdb.DuckDBPyConnection, table: str, spec: dict | None = None) -> dg.TableSchema:
    """The table's columns with their types and their data-dictionary descriptions (shown in the UI)."""
    spec = description_spec() if spec is None else spec
    described = con.execute(f"DESCRIBE {table}").fetchall()
    return dg.TableSchema(columns=[dg.TableColumn(name=c[0], type=str(c[1]),
                                                  description=column_description(spec, table, c[0]))
                                   for c in described])


def table_metadata(con: duckdb.DuckDBPyConnection, table: str, **extra) -> dict:
    """Row count, a markdown preview, the table name and the column schema with descriptions for the UI."""
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    preview = con.execute(f"SELECT * FROM {table} LIMIT {PREVIEW_ROWS}").df()
    spec = description_spec()
    schema = column_schema(con, table, spec)
    about = table_description(spec, table)
    if about:
        extra = {"table_description": dg.MetadataValue.text(about), **extra}
    return {
        "dagster/row_count": dg.MetadataValue.int(int(rows)),
        "dagster/column_schema": schema,
        "dagster/table_name": dg.MetadataValue.text(table),
        "preview": dg.MetadataValue.md(preview.head(PREVIEW_ROWS).to_markdown(index=False)),
        **extra,
    }
