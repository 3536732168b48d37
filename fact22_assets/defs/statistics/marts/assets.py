"""Marts: rates per 10,000 that analysts and the estimates read (one SQL file each)."""
import dagster as dg

from fact22_assets.glue.sql_assets import sql_table_asset

GROUP = "rates"


def _vintages(con) -> dict:
    vintages = [r[0] for r in con.execute("SELECT DISTINCT vintage FROM marts.cin_rates_vintages ORDER BY 1").fetchall()]
    return {"vintages": dg.MetadataValue.text(", ".join(vintages))}


def _revision_kinds(con) -> dict:
    kinds = con.execute("SELECT kind, count(*) FROM marts.revisions GROUP BY 1 ORDER BY 1").fetchall()
    return {k.replace(" ", "_"): dg.MetadataValue.int(n) for k, n in kinds}


def _years(con) -> dict:
    first, last = con.execute(
        "SELECT min(collection_year_label), max(collection_year_label) FROM marts.cin_rates").fetchone()
    return {"first_year": dg.MetadataValue.text(first), "last_year": dg.MetadataValue.text(last)}


marts_cin_rates_vintages = sql_table_asset(
    "marts.cin_rates_vintages",
    "marts.cin_rates for every data vintage (each children-in-need release), so that estimates can be recomputed "
    "as the data stood when each release came out.", GROUP, _vintages)
marts_revisions = sql_table_asset(
    "marts.revisions",
    "Every published value a later release changed (number or symbol): area, year, measure, old and new value, "
    "the two releases, and where the new value was printed.", GROUP, _revision_kinds)
marts_cin_rates = sql_table_asset(
    "marts.cin_rates",
    "Every rate of the measure registry (closures, re-referrals, escalations and referrals per 10,000 residents "
    "and per 10,000 children; children in need per 10,000 children) for every authority, region and England, "
    "2009-10 onwards: the current vintage.", GROUP, _years)
