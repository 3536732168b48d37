"""Population parsers on tiny hand-built files: the layouts of ONS's MYE4 sheet,
the MYE2 CSV and DfE's 0-17 file (data/ons_population/PROVENANCE.md), every
field of a row, and each refusal naming its file, row and column."""
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from fact22_assets.core import population_parsers as pp
from fact22_assets.core.catalogue import Release, Source
from fact22_assets.core.errors import SourceDataError

SYMBOLS = {"x": "not_available", "c": "suppressed", "z": "not_applicable"}
COLUMNS = ["source_id", "release_id", "source_file", "source_row", "source_column", "area_code", "area_name",
           "geography_type", "old_la_code", "mid_year", "age_group", "value_text", "population", "value_status",
           "problem"]


def source(path: Path, relative: str, **options) -> Source:
    release = Release(release_id="ons_rel", publisher="ONS", publication="test", rank=1, symbols=SYMBOLS)
    return Source(source_id="pop_src", family="test", release=release, path=path, relative_path=relative,
                  sha256="", options=options)


# --- MYE4: title rows, a header 'Code, Name, Geography, Mid-YYYY ...' on header_row, one row per area


def workbook(tmp_path: Path, rows: list[list], sheet: str = "MYE4") -> Path:
    book = openpyxl.Workbook()
    book.active.title = "Contents"
    book.active.append(["not this sheet"])
    data = book.create_sheet(sheet)
    for row in rows:
        data.append(row)
    path = tmp_path / "mye.xlsx"
    book.save(path)
    return path


TITLES = [["Population estimates: summary"], [None], ["Source: ONS"]]  # header on row 4
HEADER = ["Code", "Name", "Geography", "Mid-2020", "Mid-2019", " Mid-2018", "Mid-20177", "Notes"]


def mye4(tmp_path, rows, header=HEADER, titles=TITLES, sheet="MYE4", **options):
    path = workbook(tmp_path, [*titles, header, *rows], sheet)
    settings = {"sheet": "MYE4", "header_row": len(titles) + 1, "mid_years": [2018, 2020], **options}
    return source(path, "ons/mye.xlsx", **settings)


AREAS = [
    ["K04000001", "ENGLAND AND WALES", "Country", 60000000, 59000000, 58000000, 1, "n"],
    [" E92000001 ", " ENGLAND ", " Country ", 56000000, 55000000, 54000000, 2, None],
    [None, "a footnote row", None, 1, 1, 1, 1, None],
    ["   ", "a blank code", None, 1, 1, 1, 1, None],
    ["E92000001", "ENGLAND", "Country", 56000000, 55000000, 54000000, 3, None],  # printed twice, identical
    ["E06000049", "Cheshire East", "Unitary Authority", "c", 398000, None, 4, None],
]


def test_mye4_one_row_per_area_and_wanted_year(tmp_path):
    rows = pp.parse_mye4(mye4(tmp_path, AREAS))
    assert list(rows.columns) == COLUMNS
    assert len(rows) == 6  # three areas x mid-2018 and mid-2020; blank codes and the repeated England row dropped
    first = rows.iloc[0].to_dict()
    assert first == {
        "source_id": "pop_src", "release_id": "ons_rel", "source_file": "ons/mye.xlsx", "source_row": 5,
        "source_column": "Mid-2018", "area_code": "K04000001", "area_name": "ENGLAND AND WALES",
        "geography_type": "Country", "old_la_code": None, "mid_year": 2018, "age_group": "all_ages",
        "value_text": "58000000", "population": 58000000.0, "value_status": "published", "problem": None}
    assert list(rows["mid_year"]) == [2018, 2020] * 3
    assert list(rows["source_column"]) == ["Mid-2018", "Mid-2020"] * 3
    assert list(rows["source_row"]) == [5, 5, 6, 6, 10, 10]
    assert list(rows["area_code"]) == ["K04000001"] * 2 + ["E92000001"] * 2 + ["E06000049"] * 2
    assert list(rows["area_name"]) == ["ENGLAND AND WALES"] * 2 + ["ENGLAND"] * 2 + ["Cheshire East"] * 2
    assert list(rows["geography_type"]) == ["Country"] * 4 + ["Unitary Authority"] * 2
    assert set(rows["age_group"]) == {"all_ages"}
    assert rows["old_la_code"].isna().all()
    assert list(rows["population"][:4]) == [58000000.0, 60000000.0, 54000000.0, 56000000.0]
    cheshire = rows.iloc[4:].to_dict("records")
    # a blank cell is blank, a documented symbol keeps its symbol; neither is a zero
    assert (cheshire[0]["value_status"], cheshire[0]["value_text"], cheshire[0]["problem"]) == ("blank", "nan", None)
    assert (cheshire[1]["value_status"], cheshire[1]["value_text"], cheshire[1]["problem"]) == ("c", "c", None)
    assert pd.isna(cheshire[0]["population"]) and pd.isna(cheshire[1]["population"])


def test_mye4_years_as_text_in_the_catalogue_and_a_header_as_the_last_row(tmp_path):
    rows = pp.parse_mye4(mye4(tmp_path, AREAS[:1], mid_years=["2019"], header_row="4"))
    assert list(zip(rows["mid_year"], rows["population"], rows["source_column"])) == [(2019, 59000000.0, "Mid-2019")]
    # the header may be the sheet's last row: no areas, no rows, but the right columns
    empty = pp.parse_mye4(mye4(tmp_path, []))
    assert empty.empty and list(empty.columns) == COLUMNS


def test_mye4_an_invalid_cell_is_kept_with_its_problem(tmp_path):
    rows = pp.parse_mye4(mye4(tmp_path, [["E06000049", "Cheshire East", "UA", "12a", 1, -3, 1, None]]))
    assert list(rows["value_status"]) == ["invalid", "invalid"]
    assert list(rows["value_text"]) == ["-3", "12a"]
    assert "negative count '-3'" in rows["problem"].iloc[0]
    assert "'12a' is neither a number nor a symbol" in rows["problem"].iloc[1]


def _refusal(call):
    with pytest.raises(SourceDataError) as raised:
        call()
    return raised.value


def test_mye4_refuses_a_missing_sheet(tmp_path):
    error = _refusal(lambda: pp.parse_mye4(mye4(tmp_path, AREAS, sheet="MYE 4")))
    assert (error.file, error.row, error.column) == ("ons/mye.xlsx", None, None)
    assert error.problem.startswith("cannot read sheet 'MYE4': ")


def test_mye4_refuses_a_sheet_shorter_than_its_header_row(tmp_path):
    error = _refusal(lambda: pp.parse_mye4(mye4(tmp_path, [], header_row=5)))
    assert (error.file, error.row, error.column) == ("ons/mye.xlsx [sheet MYE4]", 5, None)
    assert error.problem == "sheet ends before its header row"


@pytest.mark.parametrize("header", [["Name", "Code", "Geography", "Mid-2020", "Mid-2018"],
                                    ["Code", "Name", None, "Mid-2020", "Mid-2018"]])
def test_mye4_refuses_a_moved_header(tmp_path, header):
    error = _refusal(lambda: pp.parse_mye4(mye4(tmp_path, AREAS, header=header)))
    assert (error.file, error.row, error.column) == ("ons/mye.xlsx [sheet MYE4]", 4, "A")
    shown = [h or "" for h in header[:3]]
    assert error.problem == (f"expected the header 'Code, Name, Geography, Mid-…' on row 4, found {shown}; "
                             "has the header moved? Set header_row in data/sources.yaml")


def test_mye4_refuses_a_year_it_lacks_naming_the_first(tmp_path):
    error = _refusal(lambda: pp.parse_mye4(mye4(tmp_path, AREAS, mid_years=[2020, 2017, 2016])))
    assert (error.file, error.row, error.column) == ("ons/mye.xlsx [sheet MYE4]", 4, "Mid-2017")
    assert error.problem == "mid-year column not found in the header"


def test_mye4_refuses_one_area_with_two_sets_of_figures(tmp_path):
    rows = [AREAS[0], ["K04000001", "ENGLAND AND WALES", "Country", 60000000, 0, 58000000, 1, None]]
    # only the wanted years count: a difference in mid-2019 alone is not a conflict
    assert len(pp.parse_mye4(mye4(tmp_path, rows))) == 2
    rows[1][3] = 60000001
    error = _refusal(lambda: pp.parse_mye4(mye4(tmp_path, rows)))
    assert (error.file, error.row, error.column) == ("ons/mye.xlsx [sheet MYE4]", 6, "Code")
    assert error.problem == "area K04000001 appears twice with different figures"


# --- MYE2 as CSV: Code, Name, Geography, All ages, 0, 1, ... (one row per area)

MYE2 = ("Code,Name,Geography,All ages,0,1\n"
        "K04000001,ENGLAND AND WALES,Country,\"61,806,682\",601329,622020\n"
        " E06000049 , Cheshire East , Unitary Authority ,x,1,2\n")


def mye2(tmp_path, text=MYE2, file_encoding="utf-8-sig", **options):
    path = tmp_path / "mye2.csv"
    path.write_bytes(text.encode(file_encoding))
    return source(path, "ons/mye2.csv", **{"mid_year": 2024, "all_ages_column": "All ages", **options})


def test_mye2_csv_reads_the_all_ages_column(tmp_path):
    rows = pp.parse_mye2_csv(mye2(tmp_path))
    assert list(rows.columns) == COLUMNS
    assert rows.iloc[0].to_dict() == {
        "source_id": "pop_src", "release_id": "ons_rel", "source_file": "ons/mye2.csv", "source_row": 2,
        "source_column": "All ages", "area_code": "K04000001", "area_name": "ENGLAND AND WALES",
        "geography_type": "Country", "old_la_code": None, "mid_year": 2024, "age_group": "all_ages",
        "value_text": "61,806,682", "population": 61806682.0, "value_status": "published", "problem": None}
    second = rows.iloc[1]
    assert (second["area_code"], second["area_name"], second["geography_type"], second["source_row"],
            second["value_status"], second["value_text"]) == ("E06000049", "Cheshire East", "Unitary Authority", 3,
                                                              "x", "x")
    assert pd.isna(second["population"])


def test_mye2_csv_another_column_year_and_encoding(tmp_path):
    text = "Code,Name,Geography,Persons\nW06000001,Ynys Môn,Unitary Authority,68900\n"
    rows = pp.parse_mye2_csv(mye2(tmp_path, text, "latin-1", encoding="latin-1", all_ages_column="Persons",
                                  mid_year="2023"))
    assert list(zip(rows["area_name"], rows["population"], rows["mid_year"], rows["source_column"])) == [
        ("Ynys Môn", 68900.0, 2023, "Persons")]


@pytest.mark.parametrize(("drop", "measure"), [("Code", "code"), ("Name", "name"), ("Geography", "geography"),
                                               ("All ages", "all_ages")])
def test_mye2_csv_refuses_a_missing_column(tmp_path, drop, measure):
    header = [c for c in ["Code", "Name", "Geography", "All ages"] if c != drop]
    text = ",".join(header) + "\n" + ",".join("1" for _ in header) + "\n"
    error = _refusal(lambda: pp.parse_mye2_csv(mye2(tmp_path, text)))
    assert (error.file, error.row, error.column) == ("ons/mye2.csv", 1, drop)
    assert f"column for measure {measure!r} not found" in error.problem


# --- DfE's 0-17 file: time_period is the mid-year; one row per level and area

DFE_HEADER = ("time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,"
              "old_la_code,new_la_code,la_name,age_group,population_estimate\n")
DFE_ROWS = (" 2024 ,Reporting year, National ,E92000001,England,,,,,,Children aged 0 to 17 years,12183016\n"
            "2023,Reporting year,Regional,E92000001,England, E12000002 , North West ,,,,Children aged 0 to 17 years,"
            "\"1,627,558\"\n"
            "2012,Reporting year,Local authority,E92000001,England,E12000002,North West, 895 , E06000049 ,"
            " Cheshire East ,Children aged 0 to 17 years,c\n"
            "2012,Reporting year,Local authority district,E92000001,England,,,,,,Children aged 0 to 17 years,5\n")


def dfe(tmp_path, text=DFE_HEADER + DFE_ROWS, file_encoding="utf-8-sig", **options):
    path = tmp_path / "dfe.csv"
    path.write_bytes(text.encode(file_encoding))
    return source(path, "dfe/pop.csv", **options)


def test_dfe_children_by_level(tmp_path):
    rows = pp.parse_dfe_children(dfe(tmp_path))
    assert list(rows.columns) == COLUMNS
    assert len(rows) == 3  # the district row is not a level the warehouse reads
    assert rows.iloc[0].to_dict() == {
        "source_id": "pop_src", "release_id": "ons_rel", "source_file": "dfe/pop.csv", "source_row": 2,
        "source_column": "population_estimate", "area_code": "E92000001", "area_name": "England",
        "geography_type": "National", "old_la_code": None, "mid_year": 2024, "age_group": "0_17",
        "value_text": "12183016", "population": 12183016.0, "value_status": "published", "problem": None}
    assert list(rows["area_code"]) == ["E92000001", "E12000002", "E06000049"]
    assert list(rows["area_name"]) == ["England", "North West", "Cheshire East"]
    assert list(rows["geography_type"]) == ["National", "Regional", "Local authority"]
    assert list(rows["old_la_code"]) == [None, None, "895"]
    assert list(rows["mid_year"]) == [2024, 2023, 2012]
    assert list(rows["source_row"]) == [2, 3, 4]
    assert rows["population"].iloc[1] == 1627558.0
    assert (rows["value_status"].iloc[2], rows["value_text"].iloc[2]) == ("c", "c")
    assert pd.isna(rows["population"].iloc[2])


def test_dfe_children_in_another_encoding(tmp_path):
    text = DFE_HEADER + "2020,Reporting year,Local authority,W,Wales,,,,W06000001,Ynys Môn,0-17,13000\n"
    rows = pp.parse_dfe_children(dfe(tmp_path, text, "latin-1", encoding="latin-1"))
    assert list(zip(rows["area_name"], rows["population"])) == [("Ynys Môn", 13000.0)]


def test_dfe_children_refuses_a_period_that_is_not_a_year(tmp_path):
    text = DFE_HEADER + DFE_ROWS + "2023/24,Reporting year,National,,,,,,,,0-17,1\n"
    error = _refusal(lambda: pp.parse_dfe_children(dfe(tmp_path, text)))
    assert (error.file, error.row, error.column) == ("dfe/pop.csv", 6, "time_period")
    assert error.problem == "'2023/24' is not a year"


@pytest.mark.parametrize("drop", ["time_period", "geographic_level", "region_code", "region_name", "old_la_code",
                                  "new_la_code", "la_name", "age_group", "population_estimate"])
def test_dfe_children_refuses_a_missing_column(tmp_path, drop):
    header = [c for c in DFE_HEADER.strip().split(",") if c != drop]
    text = ",".join(header) + "\n" + ",".join("1" for _ in header) + "\n"
    error = _refusal(lambda: pp.parse_dfe_children(dfe(tmp_path, text)))
    assert (error.file, error.row, error.column) == ("dfe/pop.csv", 1, drop)
    assert f"column for measure {drop!r} not found" in error.problem


def test_parsers_by_family():
    assert pp.PARSERS == {"ons_mye4": pp.parse_mye4, "ons_mye2_csv": pp.parse_mye2_csv,
                          "dfe_population_0_17": pp.parse_dfe_children}


def test_dfe_children_with_no_level_it_reads_is_empty_with_every_column(tmp_path):
    text = DFE_HEADER + "2012,Reporting year,Local authority district,E92000001,England,,,,,,0-17,5\n"
    rows = pp.parse_dfe_children(dfe(tmp_path, text))
    assert rows.empty and list(rows.columns) == COLUMNS


def test_a_cell_with_no_text_has_no_value_text(tmp_path):
    row = pp._row(source(tmp_path, "f.csv"), 2, "c", "E1", "Area", "Country", None, 2020, "all_ages", None)
    assert (row["value_text"], row["population"], row["value_status"]) == (None, None, "blank")
