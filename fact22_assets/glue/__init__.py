"""Dagster glue the assets share: DuckDB tables and SQL files, check results
with evidence, write-audit-publish, resources, what a run says about itself.

Sits between the pure core (which knows nothing of Dagster) and the asset
definitions in defs/ and lifecycle/."""
