"""The figures' data on the built warehouse: every chart CSV and every row of marts.figure_data reads without
its chart, stand-in rows say SYNTHETIC, every study's figures are there, and the numbers are the marts'."""
import base64
import io
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from fact22_assets.defs.report import figures as report_figures
from fact22_assets.defs.report.assets import report_file
from fact22_assets.glue.studies import studies

CASEWORK = {"rct_probabilities", "risk_scores", "service_case_length"}


def _outputs(built_warehouse: Path) -> Path:
    return Path(os.environ.get("FACT22_OUTPUTS", built_warehouse.parent / "outputs"))


def _csvs(built_warehouse) -> list[Path]:
    return sorted((_outputs(built_warehouse) / report_figures.FIGURES_DIR).rglob("*.csv"))


def test_every_chart_csv_has_the_same_self_describing_columns(built_warehouse):
    files = _csvs(built_warehouse)
    assert len(files) >= 3 * 9  # every figure of every study
    for path in files:
        frame = pd.read_csv(path)
        assert list(frame.columns) == report_figures.FIGURE_DATA_COLUMNS, path
        assert frame["series"].notna().all() and frame["statistic"].notna().all(), path
        assert frame.loc[frame["x"].notna(), "x_label"].notna().all(), path
        expected = "SYNTHETIC" if path.stem in CASEWORK else "PUBLIC"
        assert set(frame["data_origin"]) == {expected}, path  # SYNTHETIC on every stand-in row
        # a casework figure too belongs to a study: it shows the trials run in the study's authority
        assert frame["study_id"].nunique() == 1 and frame["study_id"].iloc[0] in {e.study.study_id for e in studies()}


def test_figure_data_holds_every_study_s_figures(warehouse_sql):
    found = warehouse_sql("SELECT study_id, count(DISTINCT figure) AS figures FROM marts.figure_data "
                          "WHERE study_id IS NOT NULL GROUP BY study_id").set_index("study_id")["figures"]
    for entry in studies():
        assert found.get(entry.study.study_id, 0) >= 6, entry.study.study_id


def test_event_study_rows_are_the_mart_s_estimates_and_intervals(warehouse_sql):
    shown = warehouse_sql("SELECT outcome, series, statistic, x, value FROM marts.figure_data "
                          "WHERE figure = 'event_study' AND study_id = 'fact22_cheshire_east'")
    mart = warehouse_sql("SELECT * FROM marts.did_event_study WHERE study_id = 'fact22_cheshire_east' AND vintage = "
                         "(SELECT max_by(vintage, vintage_rank) FROM marts.cin_rates_vintages)")
    assert len(shown) == 3 * len(mart)  # estimate, ci_low, ci_high for every coefficient
    for row in mart.itertuples():
        series = "CIN-adjusted" if row.covariate_adjusted else "unadjusted"
        mine = shown[(shown.outcome == row.outcome) & (shown.series == series) & (shown.x == row.collection_year)]
        got = dict(zip(mine.statistic, mine.value))
        for statistic in ("estimate", "ci_low", "ci_high"):
            expected = getattr(row, statistic)
            assert (pd.isna(got[statistic]) and pd.isna(expected)) or got[statistic] == pytest.approx(expected)


def test_specification_curve_rows_name_each_comparator(warehouse_sql):
    shown = warehouse_sql("SELECT outcome, x, x_label, value FROM marts.figure_data WHERE figure = "
                          "'specification_curve' AND study_id = 'fact22_cheshire_east' AND statistic = 'DiD estimate'")
    mart = warehouse_sql("SELECT outcome, curve_position, unit_name, estimate FROM marts.did_comparator_robustness "
                         "WHERE study_id = 'fact22_cheshire_east' AND vintage = (SELECT max_by(vintage, vintage_rank) "
                         "FROM marts.cin_rates_vintages) AND estimate IS NOT NULL")
    both = mart.merge(shown, left_on=["outcome", "curve_position"], right_on=["outcome", "x"])
    assert len(both) == len(mart) == len(shown)
    assert (both.unit_name == both.x_label).all() and (both.estimate - both.value).abs().max() < 1e-9


def test_each_report_points_to_its_own_study_s_rows(built_warehouse, warehouse_sql):
    for entry in studies():
        study_id = entry.study.study_id
        html = (_outputs(built_warehouse) / report_file(study_id)).read_text(encoding="utf-8")
        block = re.search(r'<details class="figure-data" data-figure-data="specification_curve">.*?</details>', html,
                          re.S).group(0)
        assert f"study_id = &#x27;{study_id}&#x27;" in block, study_id
        embedded = pd.read_csv(io.StringIO(base64.b64decode(
            re.search(r'href="data:text/csv;base64,([^"]+)"', block).group(1)).decode()))
        rows = warehouse_sql("SELECT count(*) AS n FROM marts.figure_data WHERE figure = 'specification_curve' "
                             "AND study_id = ?", [study_id]).n.iloc[0]
        assert len(embedded) == rows and set(embedded.study_id) == {study_id}
