"""Checks on the rates mart: unique, complete, plausible."""
import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core import measures
from fact22_assets.core.validation import Expectation as E
from fact22_assets.glue.checks import InlineCheck, check_query, gx_result, rows_of, rows_result

RATES = dg.AssetKey(["marts", "cin_rates"])
MIN_AUTHORITIES_PER_YEAR = 150


@dg.asset_check(asset=RATES, blocking=True,
                description="One row per area and year; every rate 0 or within its plausible (low, high) bounds from "
                            "the measure registry, set from the values on record: a rate per 1,000 or per 100,000 "
                            "fails.")
def cin_rates_unique_and_within_bounds(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        frame = con.execute("SELECT * FROM marts.cin_rates").df()
    expectations = [E("ExpectCompoundColumnsToBeUnique", column_list=["geographic_level", "area_code", "collection_year"])]
    for rate in measures.RATES:  # plausible bounds from the measure registry
        low, high = rate.bounds
        # A true zero (no events in a small authority) is plausible; anything else must be within the bounds.
        frame[f"{rate.name}_unless_zero"] = frame[rate.name].where(frame[rate.name] != 0)
        expectations.append(E("ExpectColumnValuesToBeBetween", column=f"{rate.name}_unless_zero",
                              min_value=low, max_value=high))
    return gx_result(frame, expectations, "marts.cin_rates",
                     ["geographic_level", "area_name", "collection_year_label", "population_all_ages"])


@dg.asset_check(asset=RATES, blocking=True,
                description=f"From 2010-11 on, every year has England's evaluation outcome rates and at least "
                            f"{MIN_AUTHORITIES_PER_YEAR} authorities, and every missing rate inherits a reason "
                            "(a suppressed or unpublished count, or no population estimate).")
def cin_rates_coverage(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    gaps = check_query(duckdb, "rates_coverage_gaps", {"min_authorities": MIN_AUTHORITIES_PER_YEAR})
    return rows_result(gaps, "unexplained gaps in the rates")


@dg.asset_check(asset=dg.AssetKey(["marts", "revisions"]),
                description="Where two Explore Education Statistics releases publish the same authority, year and "
                            "measure, they agree (a revision is reported, not an error).")
def releases_agree_on_overlap(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    differences = check_query(duckdb, "ees_release_differences")
    # A later release may re-suppress a cell or print '..' as 'x': a change of
    # symbol is reported in metadata; only a changed number fails the check.
    revised = differences[differences["kind"] == "revised value"]
    result = rows_result(revised, "values revised between releases", severity=dg.AssetCheckSeverity.WARN)
    return dg.AssetCheckResult(
        passed=result.passed, severity=result.severity, description=result.description,
        metadata={**result.metadata, "status_changes": int((differences["kind"] == "status changed").sum()),
                  "all_differences": dg.MetadataValue.md(differences.head(50).to_markdown(index=False))},
    )


def _published_mismatches(con) -> dg.AssetCheckResult:
    found = rows_of(con, "published_figures_mismatch")
    declared = found[found["declared"].notna()]
    result = rows_result(found[found["declared"].isna()].drop(columns="declared"),
                         "authority figures differing from DfE's published ones beyond rounding")
    return dg.AssetCheckResult(
        passed=result.passed, severity=result.severity, description=result.description,
        metadata={**result.metadata, "declared_differences": dg.MetadataValue.md(
            declared.to_markdown(index=False) if len(declared) else "none")})


cin_rates_match_dfe_published = InlineCheck(
    RATES, "cin_rates_match_dfe_published",
    "Every authority's rate and re-referral percentage that DfE printed (the figure shown in *_published) "
    "follows, within DfE's rounding, from the warehouse's counts on DfE's own denominator of the day; each cell "
    "outside is named by file, row and column, unless data/sources.yaml declares it as DfE's file disagreeing "
    "with itself.", _published_mismatches)


def _recomputed_rates_sql() -> str:
    """Rows of marts.cin_rates_vintages whose rate or percentage is not its count over its denominator
    (written from the registry's definitions, independently of the mart's SQL)."""
    wrong = [f"abs({r.name} - 10000.0 * {r.count} / {r.denominator}) > 1e-9" for r in measures.RATES]
    wrong += [f"abs({p.name} - 100.0 * {p.numerator} / {p.denominator}) > 1e-9" for p in measures.PERCENTAGES]
    return ("SELECT vintage, area_name AS area, collection_year, 'a rate is not its count over its denominator' "
            "AS problem FROM marts.cin_rates_vintages WHERE " + " OR ".join(f"coalesce({w}, false)" for w in wrong))


cin_rates_vintages_consistent = InlineCheck(
    dg.AssetKey(["marts", "cin_rates_vintages"]), "cin_rates_vintages_consistent",
    "One row per vintage, area and year; every rate and percentage is its count over its denominator; no "
    "vintage shows a DfE figure that no release up to it printed.",
    lambda con: rows_result(pd.concat([rows_of(con, "cin_rates_vintages_inconsistent"),
                                       con.execute(_recomputed_rates_sql()).df()], ignore_index=True),
                            "inconsistencies in the rates by vintage"))
