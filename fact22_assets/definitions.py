"""The one Definitions object of the code location."""
from __future__ import annotations

import warnings

import dagster as dg
from dagster_duckdb import DuckDBResource

from . import defs as defs_package
from .publishing import BuildDuckDBResource
from .resources import SourcesResource
from .settings import accepted_dir, build_path, data_dir, landing_dir, restricted_path, warehouse_path


@dg.definitions
def defs() -> dg.Definitions:
    warehouse, restricted = warehouse_path(), restricted_path()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    restricted.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Loading a defs/ package is marked "preview"; the stages are plain modules.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.load_definitions_from_package_module(
            defs_package,
            resources={
                # Runs write the build file; the publish step swaps it in for analysts.
                "duckdb": BuildDuckDBResource(database=str(build_path()), published=str(warehouse)),
                # Case-level data about children: a separate file, never the analysts' one.
                "restricted_duckdb": DuckDBResource(database=str(restricted)),
                "sources": SourcesResource(data_dir=str(data_dir()), accepted_dir=str(accepted_dir()),
                                           landing_dir=str(landing_dir())),
            },
            # One process writes the DuckDB file: DuckDB allows a single writer.
            executor=dg.in_process_executor,
        )
