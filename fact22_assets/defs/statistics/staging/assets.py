"""Staging layer: typed, harmonised, one row per area and year (one SQL file each)."""
from fact22_assets.glue.sql_assets import sql_table_asset

GROUP = "staging"

staging_la_reference = sql_table_asset(
    "staging.la_reference",
    "Every DfE authority number with each ONS code it has carried, dates of operation and region.", GROUP)
staging_cin_area_year_vintages = sql_table_asset(
    "staging.cin_area_year_vintages",
    "Children-in-need counts per data vintage (a CIN release), area (authority, region, England) and collection "
    "year: every count of the measure registry (referrals, re-referrals, CIN at 31 March, closures, escalations), "
    "each with its publication status; within a vintage the latest release up to it wins; panel unit and "
    "boundary status.", GROUP)
staging_cin_area_year = sql_table_asset(
    "staging.cin_area_year",
    "The current vintage of staging.cin_area_year_vintages: one row per area and collection year.", GROUP)
staging_population_area_year = sql_table_asset(
    "staging.population_area_year",
    "Population (all ages and 0-17) of every area and collection year, from the mid-year estimate before the "
    "year ends, with the ONS areas and file it came from.", GROUP)
