"""Children-in-need parsers on tiny hand-written files: every field of a cell, and each refusal."""
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from fact22_assets.core.cin_parsers import CELL_COLUMNS, invalid_cells, parse_ees, parse_published, parse_sfr
from fact22_assets.core.errors import SourceDataError

EES_SYMBOLS = {"c": "suppressed", "x": "not_available", "z": "not_applicable"}


def source(tmp_path: Path, text: str, measures: dict, not_collected=None, **options):
    path = tmp_path / "cin.csv"
    path.write_text(text, encoding="utf-8")
    release = SimpleNamespace(release_id="rel_1", symbols=EES_SYMBOLS)
    return SimpleNamespace(source_id="src_1", release=release, path=path, relative_path="dfe/cin.csv",
                           options=options, measures=measures, not_collected=not_collected or {})


SFR = ("geog_l,geog_c,geog_n,new_la_code,Ref_1213,CPP_1213\n"
       "National,,England,,\"3,835\",x\n"
       "LA, 895 , Cheshire East , E06000049 ,1234,c\n")


def test_sfr_cells_carry_their_area_year_measure_value_and_origin(tmp_path):
    cells = parse_sfr(source(tmp_path, SFR, {"referrals": "Ref_1213", "escalations": "CPP_1213"},
                             {"rereferrals": "not collected before 2010-11"}, collection_year=2013))
    assert list(cells.columns) == CELL_COLUMNS
    assert len(cells) == 6  # two rows x (two measures + one not collected)
    england = cells.iloc[0].to_dict()
    assert england == {
        "source_id": "src_1", "release_id": "rel_1", "source_file": "dfe/cin.csv", "source_row": 2,
        "source_column": "Ref_1213", "geographic_level": "National", "area_code": "E92000001", "old_la_code": None,
        "area_name": "England", "region_code": None, "region_name": None, "collection_year": 2013,
        "measure": "referrals", "value_text": "3,835", "value": 3835.0, "value_status": "published", "problem": None}
    suppressed = cells.iloc[1]
    assert (suppressed["measure"], suppressed["value_status"]) == ("escalations", "x")
    assert pd.isna(suppressed["value"]) and suppressed["source_column"] == "CPP_1213"
    not_collected = cells.iloc[2]
    assert (not_collected["measure"], not_collected["value_status"], not_collected["source_column"],
            not_collected["problem"]) == ("rereferrals", "not_collected", None, "not collected before 2010-11")
    authority = cells.iloc[3]
    assert (authority["geographic_level"], authority["old_la_code"], authority["area_code"], authority["area_name"],
            authority["source_row"], authority["value"]) == ("Local authority", "895", "E06000049", "Cheshire East",
                                                              3, 1234.0)
    assert invalid_cells(cells).empty


def test_sfr_without_new_codes_and_an_invalid_cell(tmp_path):
    text = "geog_l,geog_c,geog_n,Ref\nLA,895,Cheshire East,12a\n"
    cells = parse_sfr(source(tmp_path, text, {"referrals": "Ref"}, collection_year=2011))
    assert cells.loc[0, "area_code"] is None and cells.loc[0, "collection_year"] == 2011
    assert list(invalid_cells(cells)["value_text"]) == ["12a"]


@pytest.mark.parametrize(("row", "column", "problem"), [
    ("Region,E12000002,North West,1", "geog_l", "unknown geographic level 'Region'"),
    ("LA,CE,Cheshire East,1", "geog_c", "authority code 'CE' is not a DfE number"),
])
def test_sfr_refuses_unknown_levels_and_codes(tmp_path, row, column, problem):
    with pytest.raises(SourceDataError) as raised:
        parse_sfr(source(tmp_path, "geog_l,geog_c,geog_n,Ref\n" + row + "\n", {"referrals": "Ref"}, collection_year=2011))
    assert (raised.value.row, raised.value.column) == (2, column) and problem in str(raised.value)


EES_HEADER = "time_period,time_identifier,geographic_level,region_code,region_name,old_la_code,new_la_code,la_name,referral_count\n"
EES_ROWS = ("2025,Reporting year,National,,,,,,621880\n"
            "2025,Reporting year,Regional, E12000002 , North West ,,,,100\n"
            "2025,Reporting year,Local authority,E12000002,North West, 895 , E06000049 , Cheshire East ,c\n"
            "2025,Reporting year,Local authority district,,,,,,5\n")


def test_ees_cells_by_level(tmp_path):
    cells = parse_ees(source(tmp_path, EES_HEADER + EES_ROWS, {"referrals": "referral_count"}, years=[2013, 2025]))
    assert len(cells) == 3  # the district row is not a level the warehouse reads
    assert list(cells["geographic_level"]) == ["National", "Regional", "Local authority"]
    assert list(cells["area_code"]) == ["E92000001", "E12000002", "E06000049"]
    assert list(cells["area_name"]) == ["England", "North West", "Cheshire East"]
    assert list(cells["old_la_code"]) == [None, None, "895"]
    assert list(cells["region_code"]) == [None, "E12000002", "E12000002"]
    assert list(cells["region_name"]) == [None, "North West", "North West"]
    assert list(cells["source_row"]) == [2, 3, 4] and set(cells["collection_year"]) == {2025}
    assert list(cells["value_status"]) == ["published", "published", "c"]
    assert cells.loc[0, "value"] == 621880.0 and cells.loc[0, "source_column"] == "referral_count"


@pytest.mark.parametrize(("row", "column", "problem"), [
    ("202425,Reporting year,National,,,,,,1", "time_period", "'202425' is not a reporting year like 2025"),
    ("2012,Reporting year,National,,,,,,1", "time_period", "year 2012 is outside the years [2013, 2025]"),
    ("2025,Reporting year,Local authority,E12000002,North West,x,E06000049,Cheshire East,1", "old_la_code",
     "authority code 'x' is not a DfE number"),
])
def test_ees_refusals_name_row_and_column(tmp_path, row, column, problem):
    with pytest.raises(SourceDataError) as raised:
        parse_ees(source(tmp_path, EES_HEADER + row + "\n", {"referrals": "referral_count"}, years=[2013, 2025]))
    assert (raised.value.row, raised.value.column) == (2, column) and problem in str(raised.value)


def test_ees_without_any_level_it_reads(tmp_path):
    with pytest.raises(SourceDataError, match="no National, Regional or Local authority rows"):
        parse_ees(source(tmp_path, EES_HEADER + "2025,Reporting year,Ward,,,,,,1\n", {"referrals": "referral_count"}))


# --- DfE's own published figures (raw.cin_published_rates)

PUBLISHED_HEADER = "time_period,geographic_level,region_code,region_name,old_la_code,new_la_code,la_name"


def _published(tmp_path, text, published_columns, family="dfe_cin_ees", **options):
    found = source(tmp_path, text, {}, **options)
    found.family = family
    found.published_columns = published_columns
    found.options = {**options, "published_columns": published_columns}
    return found


def test_published_rates_are_read_under_the_registry_s_names(tmp_path):
    text = (f"{PUBLISHED_HEADER},At31_episodes,At31_episodes_rate\n"
            "2022,Local authority,E13000001,Inner London,213,E09000033,Westminster,1362,268.6\n"
            "2022,National,,,,,,404310,334.3\n")
    cells = parse_published(_published(tmp_path, text, {"cin_per_10k_children": "At31_episodes_rate"}))
    assert list(cells.columns) == CELL_COLUMNS
    assert cells[["area_name", "measure", "value", "source_column", "source_row"]].values.tolist() == [
        ["Westminster", "cin_per_10k_children", 268.6, "At31_episodes_rate", 2],
        ["England", "cin_per_10k_children", 334.3, "At31_episodes_rate", 3]]


def test_a_population_file_serves_each_year_with_the_latest_mid_year_before_it_ends(tmp_path):
    # DfE's 2022 release divided 2020-21 by mid-2020 and 2021-22 by mid-2020 too (mid-2021 was not out).
    text = (f"{PUBLISHED_HEADER},population_estimate\n"
            "2019,Local authority,E13000001,Inner London,213,E09000033,Westminster,48791\n"
            "2020,Local authority,E13000001,Inner London,213,E09000033,Westminster,50701\n")
    cells = parse_published(_published(tmp_path, text, {"population_0_17": "population_estimate"},
                                       denominator_for=[2020, 2022]))
    assert dict(zip(cells["collection_year"], cells["value"])) == {2020: 48791, 2021: 50701, 2022: 50701}
    assert set(cells["source_row"]) == {2, 3}  # each traced to the row it was printed on


def test_a_declared_difference_is_marked_and_an_undeclared_cell_refused(tmp_path):
    text = f"{PUBLISHED_HEADER},Referrals_rate\n2022,Local authority,E13000001,Inner London,213,E09000033,Westminster,1.5\n"
    declared = [{"row": 2, "column": "Referrals_rate", "reason": "DfE's rate and count disagree"}]
    cells = parse_published(_published(tmp_path, text, {"referrals_per_10k_children": "Referrals_rate"},
                                       published_differences=declared))
    assert cells["problem"].tolist() == ["DfE's rate and count disagree"]
    with pytest.raises(SourceDataError, match="holds no published figure"):
        parse_published(_published(tmp_path, text, {"referrals_per_10k_children": "Referrals_rate"},
                                   published_differences=[{**declared[0], "row": 9}]))


def test_a_figure_the_warehouse_does_not_keep_is_refused(tmp_path):
    text = f"{PUBLISHED_HEADER},Anypoint_episodes_rate\n2022,National,,,,,,631.9\n"
    with pytest.raises(SourceDataError, match="not DfE figures the warehouse keeps"):
        parse_published(_published(tmp_path, text, {"anypoint_rate": "Anypoint_episodes_rate"}))
