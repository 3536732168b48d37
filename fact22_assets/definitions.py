"""The one Definitions object of the code location.

The strands in defs/ are loaded as a package; the lifecycle steps
(dictionary, publication, refresh) are built from the table assets found
there, and owners are applied once per schema, so a new asset needs no
edit here.
"""
from __future__ import annotations

import warnings

from fact22_assets.core.long_lived import long_lived

# Dagster's modules and ours last as long as the process: made without collector pauses (core/long_lived.py).
with long_lived():
    import dagster as dg

    from fact22_assets import defs as defs_package
    from fact22_assets.core.dictionary import table_description
    from fact22_assets.glue.publication_status import serves_latest_build
    from fact22_assets.glue.publishing import BuildDuckDBResource, RestrictedDuckDBResource
    from fact22_assets.glue.resources import SourcesResource
    from fact22_assets.glue.sources import observed_sources
    from fact22_assets.glue.tables import description_spec, table_name
    from fact22_assets.lifecycle import refresh
    from fact22_assets.lifecycle.dictionary import DESCRIBED_SCHEMAS, DICTIONARY, dictionary_definitions
    from fact22_assets.lifecycle.publication import publication_definitions
    from fact22_assets.settings import (
        DUCKDB_CONFIG,
        accepted_dir,
        build_root,
        data_dir,
        landing_dir,
        lock_path,
        lock_wait_seconds,
        restricted_group_read,
        restricted_path,
        warehouse_path,
    )

# Who answers for each schema's assets (the first part of every asset key).
OWNERS = {
    "raw": "team:data-engineering", "reference": "team:data-engineering", "staging": "team:data-engineering",
    "meta": "team:data-engineering",
    "marts": "team:evaluation", "restricted": "team:evaluation", "figures": "team:evaluation",
    "reports": "team:evaluation", "calibration": "team:evaluation",
}


# Asset groups whose files (not tables) are published with the build.
PUBLISHED_FILES = {"figures", "reports"}


def _asset_keys(definitions: dg.Definitions) -> list[dg.AssetKey]:
    keys = []
    for item in definitions.assets or []:
        keys += list(item.keys) if isinstance(item, dg.AssetsDefinition) else [item.key]
    return sorted(keys, key=lambda k: k.to_user_string())


def _blocking_checks(definitions: dg.Definitions) -> list[dg.AssetCheckKey]:
    """Every blocking check of the graph: the publish step's audit requires each to have passed in its run."""
    specs = []
    for item in [*(definitions.assets or []), *(definitions.asset_checks or [])]:
        specs += list(getattr(item, "check_specs", []) or [])
    return sorted({s.key for s in specs if s.blocking}, key=lambda k: (k.asset_key.to_user_string(), k.name))


def _with_policy(spec: dg.AssetSpec, descriptions: dict) -> dg.AssetSpec:
    """Its schema's owner, and for a table the one description it has everywhere: the data dictionary's
    (data/reference/column_descriptions.yaml), which is also its COMMENT ON TABLE."""
    text = table_description(descriptions, table_name(spec.key)) if spec.key.path[0] in DESCRIBED_SCHEMAS else None
    return spec.replace_attributes(owners=[OWNERS[spec.key.path[0]]], description=text or spec.description)


@dg.definitions
def defs() -> dg.Definitions:
    with long_lived():  # the definitions last as long as the process that loads them
        return _definitions()


def _definitions() -> dg.Definitions:
    warehouse, restricted = warehouse_path(), restricted_path()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    # Case-level data about children: owner-only (README: granting a group).
    restricted.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Loading a defs/ package is marked "preview"; the stages are plain modules.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        strands = dg.load_definitions_from_package_module(defs_package)
    keys = _asset_keys(strands)
    tables = [k for k in keys if k.path[0] in DESCRIBED_SCHEMAS]
    # Figures and the report are published with the build that drew them, so the publish step waits for them.
    outputs = [k for k in keys if k.path[0] in PUBLISHED_FILES]
    dictionary = dictionary_definitions(tables)
    blocking = _blocking_checks(dg.Definitions.merge(strands, dictionary))
    whole: list[dg.Definitions] = []  # the finished Definitions, for the publish step's audit of a run's selection
    combined = dg.Definitions.merge(
        strands,
        dictionary,
        publication_definitions([*tables, *outputs, dg.AssetKey(DICTIONARY.split("."))], blocking,
                                lambda: whole[0].resolve_asset_graph()),
        dg.Definitions(
            jobs=[refresh.refresh], schedules=[refresh.annual_refresh],
            asset_checks=[serves_latest_build],  # the UI says when the published data are older than an attempt
            sensors=[refresh.landing_sensor, refresh.conclude_failed_refresh],
            resources={
                # Runs write the build file; the publish step swaps it in for analysts.
                "duckdb": BuildDuckDBResource(database=str(build_root() / warehouse.name), published=str(warehouse),
                                              build_root=str(build_root()), lock_path=str(lock_path()),
                                              lock_wait_seconds=lock_wait_seconds(), connection_config=DUCKDB_CONFIG),
                # Case-level data about children: a separate file, never the analysts' one.
                "restricted_duckdb": RestrictedDuckDBResource(database=str(restricted), group_read=restricted_group_read(),
                                                              connection_config=DUCKDB_CONFIG),
                # Landed files are read through each run's own copies, under its build folder.
                "sources": SourcesResource(data_dir=str(data_dir()), accepted_dir=str(accepted_dir()),
                                           landing_dir=str(landing_dir()), build_root=str(build_root())),
            },
            # One process writes the DuckDB file: DuckDB allows a single writer.
            executor=dg.in_process_executor,
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # mapping specs is "preview"; plain attributes here
        descriptions = description_spec()
        owned = combined.map_asset_specs(func=lambda spec: _with_policy(spec, descriptions))
    # The files a refresh reads, observed first by every refresh (glue/sources.py).
    whole.append(dg.Definitions.merge(owned, dg.Definitions(assets=observed_sources())))
    return whole[0]
