"""Marts: rates per 10,000 that analysts and the estimates read (one SQL file each)."""
import dagster as dg

from fact22_assets.defs.statistics.marts.checks import cin_rates_match_dfe_published, cin_rates_vintages_consistent
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


# Each table's description is in data/reference/column_descriptions.yaml.
marts_cin_rates_vintages = sql_table_asset("marts.cin_rates_vintages", GROUP, _vintages,
                                           checks=(cin_rates_vintages_consistent,))
marts_revisions = sql_table_asset("marts.revisions", GROUP, _revision_kinds)
marts_cin_rates = sql_table_asset("marts.cin_rates", GROUP, _years, checks=(cin_rates_match_dfe_published,))
