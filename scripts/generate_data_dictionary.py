"""Render docs/data_dictionary.md from the comments in a built warehouse.

    .venv/bin/python scripts/generate_data_dictionary.py [--warehouse PATH] [--output PATH]

The warehouse (default: FACT22_WAREHOUSE, else warehouse/fact22.duckdb) is
opened read-only; its table and column comments are the ones the
marts.data_dictionary asset wrote from data/reference/column_descriptions.yaml.
Run it after `make warehouse` and commit the result.
"""
import argparse
import sys
from pathlib import Path

import duckdb

from fact22_assets.core.dictionary import data_dictionary_markdown
from fact22_assets.settings import REPO_ROOT, warehouse_path

SCHEMAS = ("raw", "reference", "staging", "marts")


def read_dictionary(con: duckdb.DuckDBPyConnection):
    tables = con.execute(
        "SELECT schema_name AS table_schema, table_name, comment AS description FROM duckdb_tables() "
        "WHERE database_name = current_database() AND list_contains($schemas, schema_name) "
        "ORDER BY schema_name, table_name", {"schemas": list(SCHEMAS)}).df()
    columns = con.execute(
        "SELECT schema_name AS table_schema, table_name, column_name, data_type, comment AS description "
        "FROM duckdb_columns() WHERE database_name = current_database() AND list_contains($schemas, schema_name) "
        "ORDER BY schema_name, table_name, column_index", {"schemas": list(SCHEMAS)}).df()
    return tables, columns


def render(warehouse: Path) -> str:
    """docs/data_dictionary.md as the warehouse's comments give it."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables, columns = read_dictionary(con)
    finally:
        con.close()
    return data_dictionary_markdown(tables, columns)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=None, help="DuckDB file (default: the configured warehouse)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "data_dictionary.md")
    args = parser.parse_args(argv)
    warehouse = args.warehouse or warehouse_path()
    if not warehouse.exists():
        print(f"no warehouse at {warehouse}: run `make warehouse` first", file=sys.stderr)
        return 1
    text = render(warehouse)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: {text.count(chr(10) + '## ')} tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
