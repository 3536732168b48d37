"""Tier 3: figures, the evaluation report, the data dictionary and the cookbook
against the warehouse built once for the session."""
import base64
import io
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource
from PIL import Image

from fact22_assets.core import dictionary
from fact22_assets.defs.report import assets as report_assets
from fact22_assets.defs.report import figures as report_figures
from fact22_assets.settings import REPO_ROOT

COOKBOOK = REPO_ROOT / "docs" / "cookbook.md"
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)
TABLE_SCHEMAS = {"raw", "reference", "staging", "marts"}


def _outputs(built_warehouse: Path) -> Path:
    """Where the session's build wrote figures and the report (settings.outputs_dir at build time)."""
    return Path(os.environ.get("FACT22_OUTPUTS", built_warehouse.parent / "outputs"))


def _cookbook_blocks() -> list[str]:
    return SQL_BLOCK.findall(COOKBOOK.read_text(encoding="utf-8"))


def test_cookbook_asks_eleven_questions():
    questions = re.findall(r"^## (\d+)\. .+\?$", COOKBOOK.read_text(encoding="utf-8"), re.M)
    assert questions == [str(i) for i in range(1, 12)]
    assert len(_cookbook_blocks()) >= 10


@pytest.mark.parametrize("number", range(len(_cookbook_blocks())))
def test_every_cookbook_query_runs_and_answers(warehouse_sql, number):
    rows = warehouse_sql(_cookbook_blocks()[number])
    assert len(rows) > 0, _cookbook_blocks()[number]


# --------------------------------------------------------------------------- the report


class _Page(HTMLParser):
    """What a reader of the report sees: images, tables and their captions, text."""

    def __init__(self):
        super().__init__()
        self.images, self.tables, self.figures, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "table":
            self.tables.append(attrs.get("data-table"))
        elif tag == "figure":
            self.figures.append(attrs.get("data-figure"))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def page(built_warehouse) -> _Page:
    path = _outputs(built_warehouse) / report_assets.REPORT_FILE
    assert path.exists(), f"the build wrote no report at {path}"
    parsed = _Page()
    parsed.feed(path.read_text(encoding="utf-8"))
    parsed.html = path.read_text(encoding="utf-8")
    return parsed


def test_report_shows_every_figure_as_an_image(page):
    outcomes = ["closures_per_10k", "rereferrals_per_10k", "escalations_per_10k"]
    assert page.figures == report_assets.report_figure_names(outcomes)
    assert len(page.images) == len(page.figures)
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert image.format == "PNG" and image.width > 400


def test_report_has_every_table(page):
    assert set(report_assets.REPORT_TABLES) <= set(page.tables)
    assert 'class="missing"' not in page.html


def test_report_reads_like_the_evaluation(page, warehouse_sql):
    text = " ".join("".join(page.text).split())
    chosen = warehouse_sql(
        "SELECT unit_name FROM marts.comparator_ranking WHERE study_id = 'fact22_cheshire_east' AND selected "
        "AND vintage = (SELECT max_by(vintage, vintage_rank) FROM marts.cin_rates_vintages)")
    for name in chosen.unit_name:
        assert f"Selected comparator: {name}" in text
    assert "Cheshire East (E06000049)" in text and "2010-11 to 2014-15 (5 collection years)" in text
    assert "Only 5 pre-period years" in text and "Year-to-year noise" in text
    assert "too few events to model" in text
    # The shipped casework is synthetic: the banner says so.
    assert 'class="synthetic-banner"' in page.html and "SYNTHETIC DATA." in text


def test_report_footer_names_every_source_file_checksum(page, warehouse_sql):
    footer = page.html.split('<footer id="provenance">')[1]
    for sha in warehouse_sql("SELECT source_sha256 FROM raw.source_files").source_sha256:
        assert sha in footer
    assert re.search(r'<code class="code-version">[^<]+</code>', footer)


def test_every_figure_file_is_a_png(built_warehouse):
    files = sorted((_outputs(built_warehouse) / report_figures.FIGURES_DIR).glob("*.png"))
    assert {f.stem for f in files} >= set(report_assets.report_figure_names(
        ["closures_per_10k", "rereferrals_per_10k", "escalations_per_10k"]))
    synthetic = {"rct_probabilities", "risk_scores", "service_case_length"}
    for file in files:
        image = Image.open(file)
        assert ("SYNTHETIC DATA" in image.text["Description"]) == (file.stem in synthetic), file.stem


def test_every_study_report_embeds_its_own_figure_files(built_warehouse):
    """Each figure is drawn once, by the figure assets: another study's report embeds the files drawn for it
    (figures/<study_id>/, the casework figures drawn for the trials run in its authority), not the default
    study's."""
    from fact22_assets.defs.report.scope import DEFAULT_STUDY_ID
    from fact22_assets.glue.studies import studies

    outputs = _outputs(built_warehouse)
    others = [entry.study for entry in studies() if entry.study.study_id != DEFAULT_STUDY_ID]
    assert others
    for study in others:
        html = (outputs / report_assets.report_file(study.study_id)).read_text(encoding="utf-8")
        own = 0
        for name in report_assets.report_figure_names(study.outcomes,
                                                      report_assets.casework_parts(study.treated_unit_code)):
            file = report_figures.figure_file(name, outputs, study.study_id)
            embedded = re.search(rf'data-figure="{name}"><img src="data:image/png;base64,([^"]+)"', html).group(1)
            assert base64.b64decode(embedded) == file.read_bytes(), (study.study_id, name)
            data = report_figures.figure_data_file(name, outputs, study.study_id).read_text(encoding="utf-8")
            own += data != report_figures.figure_data_file(name, outputs).read_text(encoding="utf-8")
        assert own, f"{study.study_id}: every figure shows the default study's data"


def test_figure_asset_shows_its_image_in_the_ui_metadata(built_warehouse, tmp_path, monkeypatch):
    """A figure materialised on its own: the PNG is written and embedded in the materialization's metadata."""
    copy = tmp_path / "fact22.duckdb"
    copy.write_bytes(built_warehouse.read_bytes())
    monkeypatch.setenv("FACT22_OUTPUTS", str(tmp_path / "outputs"))
    result = dg.materialize([report_figures.figures_cin_treated_vs_england],
                            resources={"duckdb": DuckDBResource(database=str(copy))})
    metadata = result.asset_materializations_for_node("figures__cin_treated_vs_england")[0].metadata
    assert metadata["figure"].value.count("](data:image/png;base64,") == 1
    path = Path(metadata["path"].value)
    assert path == tmp_path / "outputs" / "figures" / "cin_treated_vs_england.png" and path.exists()
    assert metadata["vintage"].value == "cin_2025"


# --------------------------------------------------------------------------- the data dictionary


def test_every_published_column_has_a_description(warehouse_sql):
    blank = warehouse_sql(
        "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
        "WHERE schema_name IN ('raw', 'reference', 'staging', 'marts') AND coalesce(trim(comment), '') = ''")
    assert blank.empty, blank.head(20).to_string()
    tables = warehouse_sql("SELECT schema_name, table_name FROM duckdb_tables() "
                           "WHERE schema_name IN ('raw', 'reference', 'staging', 'marts') "
                           "AND coalesce(trim(comment), '') = ''")
    assert tables.empty, tables.to_string()


def test_data_dictionary_lists_every_column(warehouse_sql):
    dictionary = warehouse_sql("SELECT * FROM marts.data_dictionary")
    assert list(dictionary.columns) == ["table_schema", "table_name", "column_name", "data_type", "description"]
    columns = warehouse_sql("SELECT count(*) AS n FROM duckdb_columns() "
                            "WHERE schema_name IN ('raw', 'reference', 'staging', 'marts')")
    assert len(dictionary) == columns.n.item()
    row = dictionary[(dictionary.table_name == "cin_rates") & (dictionary.column_name == "closures_per_10k")].iloc[0]
    assert row.table_schema == "marts" and "per 10,000 residents" in row.description


def test_data_dictionary_runs_after_every_table():
    """Rebuilding a table drops its comments: the dictionary must depend on every table asset."""
    from fact22_assets.definitions import defs

    graph = defs().resolve_asset_graph()
    dictionary = dg.AssetKey(["marts", "data_dictionary"])
    tables = {k for k in graph.get_all_asset_keys() if k.path[0] in TABLE_SCHEMAS and k != dictionary}
    missing = tables - set(graph.get(dictionary).parent_keys)
    assert not missing, f"add to DESCRIBED_TABLES in defs/report/assets.py: {sorted(map(str, missing))}"


def test_generated_dictionary_markdown_covers_the_warehouse(built_warehouse, tmp_path):
    import runpy

    script = runpy.run_path(str(REPO_ROOT / "scripts" / "generate_data_dictionary.py"))
    output = tmp_path / "data_dictionary.md"
    assert script["main"](["--warehouse", str(built_warehouse), "--output", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    con = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        names = [f"{s}.{t}" for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE schema_name IN ('raw', 'reference', 'staging', 'marts')").fetchall()]
        assert text == dictionary.data_dictionary_markdown(*script["read_dictionary"](con))
    finally:
        con.close()
    for name in names:
        assert f"## {name}\n" in text, name


def test_figures_and_report_are_one_group_that_reads_the_marts():
    from fact22_assets.definitions import defs

    graph = defs().resolve_asset_graph()
    report_key = dg.AssetKey(["reports", "evaluation_report"])
    figure_keys = {dg.AssetKey(["figures", name]) for name in report_figures.FIGURES}
    for key in figure_keys | {report_key, dg.AssetKey(["marts", "data_dictionary"])}:
        node = graph.get(key)
        assert node.group_name == "report" and node.owners == ["team:evaluation"] and node.description, key
    assert figure_keys <= set(graph.get(report_key).parent_keys)
    assert dg.AssetKey(["marts", "did_results"]) in graph.get(report_key).parent_keys
    checks = {k.name: graph.get_check_spec(k) for k in graph.asset_check_keys}
    assert checks["report_complete"].asset_key == report_key
    # An incomplete report or an undescribed column is never published.
    assert checks["report_complete"].blocking and checks["every_column_described"].blocking


def test_the_report_depends_on_every_table_its_queries_read():
    from fact22_assets.definitions import defs
    from fact22_assets.defs.report.scope import SCOPE_SQL
    from fact22_assets.glue.tables import sql_dependencies

    parents = set(defs().resolve_asset_graph().get(dg.AssetKey(["reports", "evaluation_report"])).parent_keys)
    files = [*SCOPE_SQL, *(f"report/{n}" for n in report_assets.REPORT_SQL)]
    read = {key for path in files for key in sql_dependencies(f"{path}.sql")}
    assert read <= parents
    # The three a hand-kept list missed.
    for table in (["marts", "did_comparator_robustness"], ["marts", "cin_rates"], ["raw", "statistical_neighbours"]):
        assert dg.AssetKey(table) in parents, table


def test_a_report_for_every_study(built_warehouse):
    import yaml

    studies = yaml.safe_load((REPO_ROOT / "data" / "studies.yaml").read_text(encoding="utf-8"))["studies"]
    for entry in studies:
        path = _outputs(built_warehouse) / report_assets.report_file(entry["study_id"])
        assert path.exists(), path
        text = path.read_text(encoding="utf-8")
        assert f"({entry['study_id']})</h1>" in text
        parts = report_assets.casework_parts(entry["design"]["treated_unit_code"])  # the trials run there
        assert text.count('<details class="figure-data"') == len(report_assets.report_figure_names(
            entry["design"]["outcomes"], parts)), entry["study_id"]
        assert '<nav id="contents"' in text


def test_figure_data_mart_holds_what_the_cin_figure_plots(warehouse_sql):
    plotted = warehouse_sql("SELECT x_label AS x, value AS y FROM marts.figure_data WHERE figure = "
                            "'cin_treated_vs_england' AND study_id = 'fact22_cheshire_east' "
                            "AND series LIKE 'Cheshire East%' ORDER BY x")
    published = warehouse_sql("SELECT collection_year_label AS x, cin_per_10k_children AS y FROM marts.cin_rates "
                              "WHERE area_code = 'E06000049' AND cin_per_10k_children IS NOT NULL ORDER BY x")
    assert len(plotted) > 10
    assert set(plotted.x) <= set(published.x)
    both = plotted.merge(published, on="x", suffixes=("_plotted", "_published"))
    assert len(both) == len(plotted)
    assert (both.y_plotted - both.y_published).abs().max() < 1e-6
    figures = set(warehouse_sql("SELECT DISTINCT figure FROM marts.figure_data").figure)
    assert set(report_assets.report_figure_names(["closures_per_10k", "rereferrals_per_10k",
                                                  "escalations_per_10k"])) <= figures
