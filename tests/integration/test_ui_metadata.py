"""What the Dagster UI shows of a table: its row count, table name and every
column with its type and its data-dictionary description."""
import duckdb
import pytest
import yaml

from fact22_assets.core import measures
from fact22_assets.glue.tables import table_metadata
from fact22_assets.settings import REPO_ROOT

DESCRIPTIONS = yaml.safe_load((REPO_ROOT / "data" / "reference" / "column_descriptions.yaml").read_text())


@pytest.fixture(scope="module")
def con(built_warehouse):
    connection = duckdb.connect(str(built_warehouse), read_only=True)
    yield connection
    connection.close()


def test_cin_rates_schema_carries_every_description(con):
    metadata = table_metadata(con, "marts.cin_rates")
    columns = metadata["dagster/column_schema"].columns
    assert [c.name for c in columns] == [r[0] for r in con.execute("DESCRIBE marts.cin_rates").fetchall()]
    assert [c.name for c in columns if not c.description] == []
    by_name = {c.name: c.description for c in columns}
    for rate in measures.RATES:  # the registry's words, not retyped, with the rate's population basis
        assert by_name[rate.name] == f"{rate.description} {measures.basis_note(rate.name)}"
        assert "Population basis: rebased" in by_name[rate.name]
    for name in measures.PUBLISHED_FIGURES:
        assert "Population basis: published" in by_name[f"{name}_published"] or name == "rereferral_percentage"
    own = DESCRIPTIONS["tables"]["marts.cin_rates"].get("columns") or {}
    shared = DESCRIPTIONS.get("columns") or {}
    assert by_name["area_code"] == (own.get("area_code") or shared["area_code"]).strip()
    assert metadata["dagster/row_count"].value == con.execute("SELECT count(*) FROM marts.cin_rates").fetchone()[0]
    assert metadata["dagster/table_name"].value == "marts.cin_rates"
    assert metadata["table_description"].value.startswith(
        " ".join(DESCRIPTIONS["tables"]["marts.cin_rates"]["description"].split())[:40])


@pytest.mark.parametrize("table", ["raw.cin_ees", "staging.cin_area_year", "marts.did_results"])
def test_other_tables_describe_their_columns(con, table):
    columns = table_metadata(con, table)["dagster/column_schema"].columns
    assert [c.name for c in columns if not c.description] == []
