"""Checks of the benchmark marts, evaluated inside each mart's materialization (glue.checks.InlineCheck):
each recomputes an invariant from the mart itself (or its inputs) in SQL, independently of core/lait.py,
and names the rows that break it."""
import dagster as dg
import pandas as pd

from fact22_assets.core import lait
from fact22_assets.glue.checks import InlineCheck, rows_of, rows_result

LA_BENCHMARKS = dg.AssetKey(["marts", "la_benchmarks"])
WIDE = dg.AssetKey(["marts", "la_benchmarks_wide"])
NEIGHBOURS = dg.AssetKey(["marts", "statistical_neighbours"])


def _lait_problems(con) -> dg.AssetCheckResult:
    found = rows_of(con, "la_benchmarks_inconsistent")
    polarities = con.execute("SELECT DISTINCT measure, polarity FROM marts.la_benchmarks").df()
    expected = {m.name: m.polarity for m in lait.MEASURES}
    wrong = polarities[polarities["measure"].map(expected) != polarities["polarity"]]
    if len(wrong):
        found = pd.concat([found, wrong.assign(problem="polarity is not the measure registry's")], ignore_index=True)
    return rows_result(found, "rows breaking LAIT's conventions")


la_benchmarks_follow_lait = InlineCheck(
    LA_BENCHMARKS, "la_benchmarks_follow_lait",
    "LAIT's conventions hold on every row: ranked_authorities counts the authorities with a value; the thresholds "
    "are their quartiles; each band follows from the value, thresholds and polarity (\"Not applicable\" without "
    "one), each rank from the values (1 = best, ties the lowest rank); the value is DfE's published figure where "
    "there is one; the neighbours' average is the mean of their values; each year uses the neighbour model in "
    "force; each measure carries the registry's polarity.", _lait_problems)


def _wide_differences_sql() -> str:
    """Cells of the wide mart that differ from the long one (or rows it lacks or adds)."""
    parts = []
    for measure in lait.MEASURE_NAMES:  # registry names: identifiers, never user input
        differs = " OR ".join(f"w.{measure}{suffix} IS DISTINCT FROM l.{column}"
                              for suffix, column in lait.WIDE_PARTS.items())
        parts.append(f"SELECT coalesce(w.la_name, l.la_name) AS la_name, coalesce(w.collection_year, "
                     f"l.collection_year) AS collection_year, '{measure}' AS measure FROM marts.la_benchmarks_wide w "
                     f"FULL JOIN (SELECT * FROM marts.la_benchmarks WHERE measure = '{measure}') l "
                     f"USING (old_la_code, collection_year) WHERE w.la_name IS NULL OR l.la_name IS NULL OR {differs}")
    return " UNION ALL ".join(parts) + " ORDER BY 1, 2, 3"


la_benchmarks_wide_agrees_with_long = InlineCheck(
    WIDE, "la_benchmarks_wide_agrees_with_long",
    "One row per authority and year of marts.la_benchmarks, and every cell (value, basis, England, region, "
    "neighbours' average, rank, band of each measure) equal to the long table's.",
    lambda con: rows_result(con.execute(_wide_differences_sql()).df(),
                            "cells of the wide table that differ from marts.la_benchmarks"))

statistical_neighbours_consistent = InlineCheck(
    NEIGHBOURS, "statistical_neighbours_consistent",
    "Each authority's neighbours are DfE's (the same pairs as raw.statistical_neighbours), ranked 1, 2, ... "
    "without gaps, named, never the authority itself; the models' years do not overlap.",
    lambda con: rows_result(rows_of(con, "statistical_neighbours_inconsistent"),
                            "problems with the statistical neighbours"))
