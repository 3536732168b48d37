"""One description per table: data/reference/column_descriptions.yaml (with the measure and estimator
registries) is the Dagster description, the warehouse's COMMENT ON and docs/data_dictionary.md, and every
table and column has one."""
import importlib.util

import duckdb
import pytest

from fact22_assets.core.dictionary import column_description, load_spec, table_description
from fact22_assets.core.did.estimators import method_labels
from fact22_assets.glue.tables import table_name
from fact22_assets.lifecycle.dictionary import DESCRIBED_SCHEMAS
from fact22_assets.settings import REPO_ROOT

SPEC_FILE = REPO_ROOT / "data" / "reference" / "column_descriptions.yaml"
DICTIONARY_PAGE = REPO_ROOT / "docs" / "data_dictionary.md"


@pytest.fixture(scope="module")
def spec():
    return load_spec(SPEC_FILE)


@pytest.fixture(scope="module")
def table_assets():
    from fact22_assets.definitions import defs

    graph = defs().resolve_asset_graph()
    return {table_name(key): graph.get(key).description for key in graph.materializable_asset_keys
            if key.path[0] in DESCRIBED_SCHEMAS}


def test_every_table_asset_is_described_and_dagster_shows_that_text(spec, table_assets):
    assert len(table_assets) >= 48
    missing = sorted(t for t in table_assets if not table_description(spec, t))
    assert not missing, f"no description in {SPEC_FILE.name}: {missing}"
    differing = sorted(t for t, text in table_assets.items() if text != table_description(spec, t))
    assert not differing, differing


def test_the_yaml_describes_no_table_that_does_not_exist(spec, table_assets):
    assert set(spec["tables"]) - set(table_assets) == set()


def test_methods_come_from_the_estimator_registry(spec):
    text = column_description(spec, "marts.did_results", "method")
    assert "{methods}" not in text
    for method, label in method_labels().items():
        assert f"'{method}' ({label})" in text


def test_the_warehouse_comments_are_the_dictionary_s_text(built_warehouse, spec, table_assets):
    con = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        tables = con.execute("SELECT schema_name || '.' || table_name, comment FROM duckdb_tables() "
                             "WHERE schema_name IN ('raw', 'reference', 'staging', 'marts')").fetchall()
        columns = con.execute("SELECT schema_name || '.' || table_name, column_name, comment FROM duckdb_columns() "
                              "WHERE schema_name IN ('raw', 'reference', 'staging', 'marts')").fetchall()
    finally:
        con.close()
    assert {t for t, _ in tables} == set(table_assets) | {"marts.data_dictionary"}
    for table, comment in tables:
        assert comment == table_description(spec, table), table
        if table in table_assets:
            assert comment == table_assets[table], table
    undescribed = [(t, c) for t, c, comment in columns if not (comment or "").strip()]
    assert not undescribed, undescribed
    stale = [(t, c) for t, c, comment in columns if comment != column_description(spec, t, c)]
    assert not stale, stale[:10]


def test_the_committed_data_dictionary_is_the_build_s(built_warehouse):
    script = importlib.util.spec_from_file_location("generate", REPO_ROOT / "scripts" / "generate_data_dictionary.py")
    module = importlib.util.module_from_spec(script)
    script.loader.exec_module(module)
    expected = module.render(built_warehouse)
    assert DICTIONARY_PAGE.read_text(encoding="utf-8") == expected, \
        "docs/data_dictionary.md differs from a build: run `make warehouse` then `make docs`"

