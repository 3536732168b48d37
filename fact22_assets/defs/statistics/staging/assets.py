"""Staging layer: typed, harmonised, one row per area and year (one SQL file each; each table's description
is in data/reference/column_descriptions.yaml)."""
from fact22_assets.glue.sql_assets import sql_table_asset

GROUP = "staging"

staging_la_reference = sql_table_asset("staging.la_reference", GROUP)
staging_cin_area_year_vintages = sql_table_asset("staging.cin_area_year_vintages", GROUP)
staging_cin_area_year = sql_table_asset("staging.cin_area_year", GROUP)
staging_population_area_year = sql_table_asset("staging.population_area_year", GROUP)
