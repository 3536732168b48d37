"""Compare every table of two warehouse files, cell by cell.

``python scripts/compare_warehouses.py BEFORE.duckdb AFTER.duckdb`` prints one
line per table (identical, or what differs) and exits non-zero when any
table differs.  Columns that record when or by which commit a build ran
(load times, publication times, run ids, code versions) are left out: they
differ between any two builds.  A refactor that must not change results is
checked with it: build before, build after, compare.
"""
from __future__ import annotations

import sys

import duckdb

VOLATILE = {"loaded_at", "published_at", "run_id", "code_version", "generated_at"}


def tables(con) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}


def compare(before: str, after: str) -> list[str]:
    con = duckdb.connect()
    con.execute("ATTACH ? AS before_db (READ_ONLY)", [before])
    con.execute("ATTACH ? AS after_db (READ_ONLY)", [after])
    listed = {}
    for alias in ("before_db", "after_db"):
        listed[alias] = {f"{s}.{t}" for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?", [alias]).fetchall()}
    problems = [f"{t}: only in {before}" for t in sorted(listed["before_db"] - listed["after_db"])]
    problems += [f"{t}: only in {after}" for t in sorted(listed["after_db"] - listed["before_db"])]
    for table in sorted(listed["before_db"] & listed["after_db"]):
        schema, name = table.split(".")
        cols = {}
        for alias in ("before_db", "after_db"):
            cols[alias] = [r[0] for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
                "AND table_name = ? ORDER BY column_index", [alias, schema, name]).fetchall()]
        if cols["before_db"] != cols["after_db"]:
            problems.append(f"{table}: columns differ: {cols['before_db']} vs {cols['after_db']}")
            continue
        kept = ", ".join(f'"{c}"' for c in cols["before_db"] if c not in VOLATILE)
        diff = con.execute(
            f"SELECT (SELECT count(*) FROM (SELECT {kept} FROM before_db.{table} EXCEPT ALL "
            f"SELECT {kept} FROM after_db.{table})), (SELECT count(*) FROM (SELECT {kept} FROM after_db.{table} "
            f"EXCEPT ALL SELECT {kept} FROM before_db.{table}))").fetchone()
        if diff != (0, 0):
            problems.append(f"{table}: {diff[0]} row(s) only before, {diff[1]} only after")
        else:
            print(f"identical  {table}")
    return problems


if __name__ == "__main__":
    found = compare(sys.argv[1], sys.argv[2])
    for line in found:
        print(f"DIFFERENT  {line}")
    sys.exit(1 if found else 0)
