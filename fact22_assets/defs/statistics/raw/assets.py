"""Raw layer: every catalogued file, as published, with its provenance."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core import cin_parsers, population_parsers, reference_parsers
from fact22_assets.core.catalogue import Source, source_files_frame, verify_source, with_provenance
from fact22_assets.core.source_versions import CATALOGUED, REFERENCE, SEED_FILES
from fact22_assets.glue.resources import SourcesResource
from fact22_assets.glue.sources import source_key
from fact22_assets.glue.tables import replace_table, table_metadata

GROUP = "ingest"


def _load_sources(context: dg.AssetExecutionContext, sources: list[Source], parse) -> pd.DataFrame:
    """Verify, parse and stamp each file, logging progress as it goes."""
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    frames = []
    for number, source in enumerate(sources, start=1):
        verify_source(source)
        frame = parse(source)
        context.log.info(f"[{number}/{len(sources)}] {source.relative_path}: {len(frame)} rows")
        frames.append(with_provenance(frame, source, loaded_at))
    return pd.concat(frames, ignore_index=True)


def _status_counts(frame: pd.DataFrame) -> dg.MetadataValue:
    counts = frame.groupby(["source_id", "value_status"]).size().unstack(fill_value=0)
    return dg.MetadataValue.md(counts.reset_index().to_markdown(index=False))


def _write(context, duckdb: DuckDBResource, frame: pd.DataFrame, **extra) -> dg.MaterializeResult:
    table = ".".join(context.asset_key.path)
    with duckdb.get_connection() as con:
        replace_table(con, table, frame)
        return dg.MaterializeResult(metadata=table_metadata(con, table, **extra))


@dg.asset(key=["raw", "source_files"], group_name=GROUP, kinds={"duckdb"}, deps=[source_key(n) for n in CATALOGUED],
          description="The sources catalogue (data/sources.yaml) as loaded: every published file, its "
                      "publication, release rank and sha256, verified against the bytes on disk.")
def raw_source_files(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                     sources: SourcesResource) -> dg.MaterializeResult:
    catalogue, candidates = sources.full_catalogue()
    for source in catalogue.sources:
        verify_source(source)
    landing = {s.source_id for s in candidates}
    if landing:
        context.log.info(f"landing folder holds {len(landing)} new file(s): {', '.join(sorted(landing))}")
    frame = pd.DataFrame(source_files_frame(catalogue))
    frame["origin"] = ["landing" if i in landing else ("shipped" if not i.startswith("landed_") else "accepted")
                       for i in frame["source_id"]]
    return _write(context, duckdb, frame, landing_files=dg.MetadataValue.int(len(landing)))


@dg.asset(key=["raw", "cin_sfr"], group_name=GROUP, deps=[source_key("cin_sfr")], kinds={"duckdb", "csv"},
          description="DfE children-in-need statistical first release underlying data (2009-10 to 2012-13), "
                      "one row per area, year and measure, every cell as published with its file row and column.")
def raw_cin_sfr(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                sources: SourcesResource) -> dg.MaterializeResult:
    frame = _load_sources(context, sources.catalogue().of_family(*CATALOGUED["cin_sfr"]), cin_parsers.parse_sfr)
    return _write(context, duckdb, frame, value_status=_status_counts(frame))


@dg.asset(key=["raw", "cin_ees"], group_name=GROUP, deps=[source_key("cin_ees")], kinds={"duckdb", "csv"},
          description="DfE children-in-need Explore Education Statistics files, every release kept "
                      "(one row per release, area, year and measure), with file row and column.")
def raw_cin_ees(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                sources: SourcesResource) -> dg.MaterializeResult:
    frame = _load_sources(context, sources.catalogue().of_family(*CATALOGUED["cin_ees"]), cin_parsers.parse_ees)
    return _write(context, duckdb, frame, value_status=_status_counts(frame))


@dg.asset(key=["raw", "ons_population"], group_name=GROUP, deps=[source_key("ons_population")], kinds={"duckdb", "excel", "csv"},
          description="ONS mid-year population estimates: all ages (MYE4 workbooks, the mid-2024 MYE2 CSV) "
                      "and children aged 0-17 (DfE's file), one row per area, mid-year and age group.")
def raw_ons_population(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                       sources: SourcesResource) -> dg.MaterializeResult:
    parsers = population_parsers.PARSERS
    chosen = sources.catalogue().of_family(*CATALOGUED["ons_population"])
    frame = _load_sources(context, chosen, lambda source: parsers[source.family](source))
    return _write(context, duckdb, frame, value_status=_status_counts(frame))


def _reference_asset(key: str, parse, description: str):
    @dg.asset(key=["raw", key], group_name=GROUP, kinds={"duckdb", "csv"}, deps=[source_key(key)],
              description=description)
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
               sources: SourcesResource) -> dg.MaterializeResult:
        frame = _load_sources(context, sources.catalogue().of_family(*CATALOGUED[key]), parse)
        return _write(context, duckdb, frame)

    return _asset


raw_la_lookup = _reference_asset(
    "la_lookup", reference_parsers.parse_las,
    "DfE's list of children's-services authorities: DfE number, ONS code, name, region, dates of operation.")
raw_regions = _reference_asset("regions", reference_parsers.parse_regions,
                               "English regions (and Inner/Outer London) with their ONS codes.")
raw_statistical_neighbours = _reference_asset(
    "statistical_neighbours", reference_parsers.parse_statistical_neighbours,
    "DfE children's-services statistical neighbours (2021 and 2025 models), one row per authority and rank.")
raw_deprivation = _reference_asset(
    "deprivation", reference_parsers.parse_deprivation,
    "English Indices of Deprivation 2019, upper-tier authority average score and its rank.")


def _seed_asset(key: str, description: str):
    @dg.asset(key=["reference", key], group_name=GROUP, kinds={"duckdb", "csv"}, deps=[source_key(REFERENCE)],
              description=description)
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
               sources: SourcesResource) -> dg.MaterializeResult:
        frame = pd.read_csv(sources.reference_file(SEED_FILES[key]), dtype=str, keep_default_na=False)
        frame = frame.replace({"": None})
        for column in ("first_collection_year", "last_collection_year"):
            if column in frame:
                frame[column] = pd.to_numeric(frame[column]).astype("Int64")
        return _write(context, duckdb, frame)

    return _asset


reference_boundary_changes = _seed_asset(
    "boundary_changes",
    "Project-curated: every boundary change of a children's-services authority since 2009, with the "
    "collection years its series ends or starts (data/reference/boundary_changes.csv).")
reference_population_geography = _seed_asset(
    "population_geography",
    "Project-curated: authorities whose all-ages population is built from other ONS areas "
    "(data/reference/population_geography.csv).")
