"""Compare every table of two warehouse files, cell by cell.

``python scripts/compare_warehouses.py BEFORE.duckdb AFTER.duckdb [--tolerance 1e-9]``
prints one line per table (identical, or what differs) and exits non-zero
when any table differs.  With ``--tolerance``, a table that is not
identical is compared again row by row (both sides ordered by every
column, numbers rounded to 6 significant figures for the ordering only):
numbers equal within the tolerance (absolute or relative) count as equal,
and the columns that still differ are named.  Columns that record when or by which commit a build ran
(load times, publication times, run ids, code versions) are left out: they
differ between any two builds.  A refactor that must not change results is
checked with it: build before, build after, compare.
"""
from __future__ import annotations

import argparse
import sys

import duckdb
import numpy as np
import pandas as pd

VOLATILE = {"loaded_at", "published_at", "run_id", "code_version", "generated_at"}


def tables(con) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}


def compare(before: str, after: str, tolerance: float | None = None) -> list[str]:
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
        if diff == (0, 0):
            print(f"identical  {table}")
            continue
        if tolerance is not None:
            frames = [con.execute(f"SELECT {kept} FROM {alias}.{table}").df() for alias in ("before_db", "after_db")]
            columns = close_except(*frames, tolerance)
            if columns == []:
                print(f"within {tolerance:g}  {table}")
                continue
            if columns is not None:
                problems.append(f"{table}: differs beyond {tolerance:g} in column(s) {', '.join(columns)}")
                continue
        problems.append(f"{table}: {diff[0]} row(s) only before, {diff[1]} only after")
    return problems


def close_except(before: pd.DataFrame, after: pd.DataFrame, tolerance: float) -> list[str] | None:
    """The columns that differ beyond `tolerance` once both sides are put in the same row order;
    None when the row counts differ."""
    if len(before) != len(after):
        return None

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        keys = frame.apply(lambda c: c.map(lambda v: f"{v:.6g}" if isinstance(v, float) else str(v)))
        return frame.iloc[np.lexsort([keys[c].to_numpy() for c in reversed(keys.columns)])].reset_index(drop=True)

    before, after = ordered(before), ordered(after)
    differing = []
    for column in before.columns:
        a, b = before[column], after[column]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            same = np.isclose(x, y, rtol=tolerance, atol=tolerance) | (np.isnan(x) & np.isnan(y))
        else:
            same = (a.astype(str) == b.astype(str)).to_numpy()
        if not same.all():
            differing.append(column)
    return differing


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--tolerance", type=float, default=None)
    args = parser.parse_args()
    found = compare(args.before, args.after, args.tolerance)
    for line in found:
        print(f"DIFFERENT  {line}")
    sys.exit(1 if found else 0)
