"""The one Definitions object of the code location.

The strands in defs/ are loaded as a package; the lifecycle steps
(dictionary, publication, refresh) are built from the table assets found
there, and owners are applied once per schema, so a new asset needs no
edit here.
"""
from __future__ import annotations

import warnings

import dagster as dg
from dagster_duckdb import DuckDBResource

from fact22_assets import defs as defs_package
from fact22_assets.glue.publication_status import serves_latest_build
from fact22_assets.glue.publishing import BuildDuckDBResource
from fact22_assets.glue.resources import SourcesResource
from fact22_assets.lifecycle import refresh
from fact22_assets.lifecycle.dictionary import DESCRIBED_SCHEMAS, DICTIONARY, dictionary_definitions
from fact22_assets.lifecycle.publication import publication_definitions
from fact22_assets.settings import DUCKDB_CONFIG, accepted_dir, build_path, data_dir, landing_dir, restricted_path, warehouse_path

# Who answers for each schema's assets (the first part of every asset key).
OWNERS = {
    "raw": "team:data-engineering", "reference": "team:data-engineering", "staging": "team:data-engineering",
    "meta": "team:data-engineering",
    "marts": "team:evaluation", "restricted": "team:evaluation", "figures": "team:evaluation",
    "reports": "team:evaluation",
}


def _asset_keys(definitions: dg.Definitions) -> list[dg.AssetKey]:
    keys = []
    for item in definitions.assets or []:
        keys += list(item.keys) if isinstance(item, dg.AssetsDefinition) else [item.key]
    return sorted(keys, key=lambda k: k.to_user_string())


def _with_owner(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec.replace_attributes(owners=[OWNERS[spec.key.path[0]]])


@dg.definitions
def defs() -> dg.Definitions:
    warehouse, restricted = warehouse_path(), restricted_path()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    restricted.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Loading a defs/ package is marked "preview"; the stages are plain modules.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        strands = dg.load_definitions_from_package_module(defs_package)
    tables = [k for k in _asset_keys(strands) if k.path[0] in DESCRIBED_SCHEMAS]
    dictionary = dictionary_definitions(tables)
    combined = dg.Definitions.merge(
        strands,
        dictionary,
        publication_definitions([*tables, dg.AssetKey(DICTIONARY.split("."))]),
        dg.Definitions(
            jobs=[refresh.refresh], schedules=[refresh.annual_refresh],
            asset_checks=[serves_latest_build],  # the UI says when the published data are older than an attempt
            sensors=[refresh.landing_sensor, refresh.refuse_landed_files],
            resources={
                # Runs write the build file; the publish step swaps it in for analysts.
                "duckdb": BuildDuckDBResource(database=str(build_path()), published=str(warehouse),
                                              connection_config=DUCKDB_CONFIG),
                # Case-level data about children: a separate file, never the analysts' one.
                "restricted_duckdb": DuckDBResource(database=str(restricted), connection_config=DUCKDB_CONFIG),
                "sources": SourcesResource(data_dir=str(data_dir()), accepted_dir=str(accepted_dir()),
                                           landing_dir=str(landing_dir())),
            },
            # One process writes the DuckDB file: DuckDB allows a single writer.
            executor=dg.in_process_executor,
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # mapping specs is "preview"; plain attributes here
        return combined.map_asset_specs(func=_with_owner)
