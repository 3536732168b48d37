"""Tier 1: the code location loads and the asset graph is what we expect."""
import dagster as dg

from fact22_assets.definitions import defs
from fact22_assets.defs.casework.assets import PUBLISHED_COUNTS

BACKBONE = {
    "raw/source_files": "ingest", "raw/cin_sfr": "ingest", "raw/cin_ees": "ingest", "raw/ons_population": "ingest",
    "raw/la_lookup": "ingest", "raw/regions": "ingest", "raw/statistical_neighbours": "ingest",
    "raw/deprivation": "ingest", "reference/boundary_changes": "ingest", "reference/population_geography": "ingest",
    "staging/la_reference": "staging", "staging/cin_area_year": "staging", "staging/population_area_year": "staging",
    "staging/cin_area_year_vintages": "staging", "marts/cin_rates": "rates", "marts/cin_rates_vintages": "rates",
    "marts/revisions": "rates",
}


def _graph():
    return defs().resolve_asset_graph()


def test_backbone_assets_and_groups():
    graph = _graph()
    keys = {k.to_user_string(): k for k in graph.get_all_asset_keys()}
    for key, group in BACKBONE.items():
        assert key in keys, key
        assert graph.get(keys[key]).group_name == group, key


TABLE_SCHEMAS = {"raw", "reference", "staging", "marts", "restricted", "meta"}
FILE_KINDS = {"figures", "reports", "calibration"}  # assets that write files beside the warehouse, not tables


def test_every_asset_key_is_a_schema_and_table():
    for key in _graph().get_all_asset_keys():
        assert len(key.path) == 2 and key.path[0] in TABLE_SCHEMAS | FILE_KINDS | {"sources"}, key


def test_every_raw_and_casework_extract_reads_an_observed_source():
    """Each reader of files has its source upstream, so the UI shows what is stale and why."""
    graph = _graph()
    readers = [k for k in graph.get_all_asset_keys() if k.path[0] in ("raw", "reference")
               or k.path[1] in ("randomisation", "risk_notes", "service_mi") or k.path[1].startswith("census_")
               and k.path[0] == "restricted"]
    for key in readers:
        assert any(p.path[0] == "sources" for p in graph.get(key).parent_keys), key
    assert dg.AssetKey(["sources", "studies"]) in graph.get(dg.AssetKey(["marts", "did_results"])).parent_keys
    assert not graph.get(dg.AssetKey(["sources", "cin_ees"])).is_materializable


def test_every_mart_is_published():
    graph = _graph()
    publication = dg.AssetKey(["meta", "publication"])
    ancestors, frontier = set(), [publication]
    while frontier:
        for parent in graph.get(frontier.pop()).parent_keys:
            if parent not in ancestors:
                ancestors.add(parent)
                frontier.append(parent)
    marts = {k for k in graph.get_all_asset_keys() if k.path[0] == "marts"}
    assert marts <= ancestors, sorted(k.to_user_string() for k in marts - ancestors)


def test_rates_depend_on_raw_files_through_staging():
    graph = _graph()
    ancestors, frontier = set(), [dg.AssetKey(["marts", "cin_rates"])]
    while frontier:
        for parent in graph.get(frontier.pop()).parent_keys:
            if parent not in ancestors:
                ancestors.add(parent)
                frontier.append(parent)
    names = {k.to_user_string() for k in ancestors}
    assert {"raw/cin_sfr", "raw/cin_ees", "raw/ons_population", "staging/cin_area_year_vintages",
            "staging/population_area_year", "marts/cin_rates_vintages"} <= names


BLOCKING = {
    "raw_cin_sfr_cells_valid", "raw_cin_ees_cells_valid", "raw_ons_population_valid", "raw_la_lookup_valid",
    "cin_area_year_valid", "rereferrals_within_referrals", "cin_every_authority_in_exactly_its_years",
    "population_sums_to_england_less_known_gaps", "authorities_sum_to_published_totals",
    "population_valid", "cin_rates_unique_and_within_bounds", "cin_rates_coverage", "authority_codes_live",
    # DfE's own figures, the benchmark, figure-data and rates-by-vintage marts, the dictionary and the report
    "raw_cin_published_rates_cells_valid", "cin_rates_match_dfe_published", "cin_rates_vintages_consistent",
    "la_benchmarks_follow_lait", "la_benchmarks_wide_agrees_with_long", "statistical_neighbours_consistent",
    "figure_data_self_describing", "every_column_described", "report_complete",
}


def test_checks_that_guard_estimates_are_blocking():
    graph = _graph()
    specs = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys}
    for name in BLOCKING:
        assert name in specs, name
        assert specs[name].blocking, name
    assert all(specs[f"{t.split('.')[1]}_no_count_1_to_5_recoverable"].blocking for t in PUBLISHED_COUNTS)
    # A revision between releases is reported, not a reason to stop.
    assert not specs["releases_agree_on_overlap"].blocking


def test_refresh_job_schedule_and_sensors():
    definitions = defs()
    assert {s.name for s in definitions.sensors} >= {"landing_sensor", "conclude_failed_refresh"}
    schedule = next(s for s in definitions.schedules if s.name == "annual_refresh")
    assert schedule.job_name == "refresh"
    assert list(schedule.cron_schedule) == ["0 6 15 7 *", "0 6 15 11 *"]
    assert definitions.resolve_job_def("refresh") is not None


def test_owners_are_one_per_schema():
    from fact22_assets.definitions import OWNERS

    graph = _graph()
    for key in graph.get_all_asset_keys():
        if key.path[0] != "sources":  # the files a refresh reads, not the project's tables
            assert graph.get(key).owners == [OWNERS[key.path[0]]], key


def test_sql_assets_take_their_upstream_tables_from_their_sql():
    """Lineage comes from each SQL file (a hand-kept list had once left out a table the SQL read)."""
    from fact22_assets.glue.tables import sql_dependencies

    graph = _graph()
    for table in ("staging.la_reference", "staging.cin_area_year_vintages", "staging.cin_area_year",
                  "staging.population_area_year", "marts.cin_rates_vintages", "marts.cin_rates", "marts.revisions"):
        key = dg.AssetKey(table.split("."))
        schema, name = table.split(".")
        assert set(graph.get(key).parent_keys) == set(sql_dependencies(f"{schema}/{name}.sql")), table
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey(["staging", "population_area_year"])).parent_keys}
    assert "raw/ons_population" in parents
    # Release ranks come with each family's rows: a population file alone leaves the CIN staging untouched.
    assert "raw/source_files" not in parents


def test_publication_and_dictionary_follow_every_table_without_a_list():
    graph = _graph()
    tables = {k for k in graph.get_all_asset_keys() if k.path[0] in {"raw", "reference", "staging", "marts"}}
    dictionary = dg.AssetKey(["marts", "data_dictionary"])
    publication = set(graph.get(dg.AssetKey(["meta", "publication"])).parent_keys)
    assert tables <= publication
    assert tables - {dictionary} <= set(graph.get(dictionary).parent_keys)


def test_sql_assets_carry_their_sql_digest_as_code_version():
    import hashlib

    from fact22_assets.glue.sql_assets import sql_table_asset
    from fact22_assets.glue.tables import sql_text

    asset = sql_table_asset("staging.cin_area_year", "staging")
    expected = hashlib.sha256(sql_text("staging/cin_area_year.sql").encode()).hexdigest()[:16]
    assert asset.code_versions_by_key[dg.AssetKey(["staging", "cin_area_year"])] == expected
