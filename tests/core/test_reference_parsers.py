"""Reference parsers on tiny hand-written files: every field, and each refusal naming file, row and column."""
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from fact22_assets.core.errors import SourceDataError
from fact22_assets.core.reference_parsers import parse_las, parse_regions, parse_statistical_neighbours

LAS_HEADER = "new_la_code,la_name,date_of_operation,date_of_termination,parent_geography_code,status,old_la_code\n"


def source(tmp_path: Path, text: str, **options):
    path = tmp_path / "file.csv"
    path.write_text(text, encoding="utf-8")
    return SimpleNamespace(path=path, relative_path="ref/file.csv", options=options)


def test_las_reads_every_field_and_flags_joint_rows_and_placeholders(tmp_path):
    frame = parse_las(source(tmp_path, LAS_HEADER
                             + " E06000049 , Cheshire East ,01/04/2009,, E12000002 ,live, 895 \n"
                             + "E10000006,Cumbria,01/01/2009,31/03/2023,E12000002,terminated,909\n"
                             + "E06000061 / E06000062,North and West Northamptonshire,01/04/2021,,E12000004,live,940 / 941\n"
                             + "z,BFPO,,,z,live,702\n"))
    first = frame.iloc[0].to_dict()
    assert first == {"source_row": 2, "la_code": "E06000049", "la_name": "Cheshire East", "old_la_code": "895",
                     "valid_from": date(2009, 4, 1), "valid_to": None,
                     "region_code": "E12000002", "status": "live", "is_joint_reporting": False, "is_authority": True}
    assert str(frame.loc[1, "valid_to"]) == "2023-03-31" and frame.loc[1, "source_row"] == 3
    assert list(frame["is_joint_reporting"]) == [False, False, True, False]
    assert list(frame["is_authority"]) == [True, True, False, False]


def test_las_refuses_a_date_that_is_not_dd_mm_yyyy(tmp_path):
    with pytest.raises(SourceDataError) as raised:
        parse_las(source(tmp_path, LAS_HEADER + "E06000049,Cheshire East,2009-04-01,,E12000002,live,895\n"))
    assert str(raised.value) == "ref/file.csv, row 2, column 'date_of_operation': '2009-04-01' is not a dd/mm/yyyy date"


def test_las_refuses_a_missing_column(tmp_path):
    with pytest.raises(SourceDataError) as raised:
        parse_las(source(tmp_path, LAS_HEADER.replace("status,", "") + "E06000049,CE,01/04/2009,,E12000002,895\n"))
    assert raised.value.column == "status"


def test_regions(tmp_path):
    frame = parse_regions(source(tmp_path, "region_code,region_name\n E12000002 , North West \n"))
    assert frame.to_dict("records") == [{"source_row": 2, "region_code": "E12000002", "region_name": "North West"}]


def _neighbours_2021(rows: str) -> str:
    header = "LA num,LA Name," + ",".join(f"SN{k},SNP" for k in range(1, 11))
    return header + "\n" + rows


def _row(code: str, neighbours: list[str]) -> str:
    return f"{code},Name," + ",".join(f"{n},{'Very Close' if i < 3 else 'Close'}" for i, n in enumerate(neighbours)) + "\n"


NEIGHBOURS = [str(800 + k) for k in range(10)]


def test_statistical_neighbours_2021_layout_with_its_predecessor_section(tmp_path):
    text = _neighbours_2021(_row("895", NEIGHBOURS) + ",Old SNs:" + "," * 20 + "\n" + _row("909", NEIGHBOURS))
    frame = parse_statistical_neighbours(source(tmp_path, text, model="2021"))
    assert len(frame) == 20 and set(frame["model"]) == {"2021"}
    first = frame.iloc[0].to_dict()
    assert first == {"model": "2021", "source_row": 2, "old_la_code": "895", "neighbour_rank": 1,
                     "neighbour_old_la_code": "800", "closeness": "Very Close", "predecessor_authority": False}
    assert list(frame["neighbour_rank"][:10]) == list(range(1, 11))
    assert frame.iloc[9]["neighbour_old_la_code"] == "809" and frame.iloc[9]["closeness"] == "Close"
    assert frame.iloc[10]["source_row"] == 4 and frame.iloc[10]["predecessor_authority"]


def test_statistical_neighbours_2025_layout(tmp_path):
    header = "old_la_code,la_name," + ",".join(f"SN_{k},SN_{k}P" for k in range(1, 11))
    frame = parse_statistical_neighbours(source(tmp_path, header + "\n" + _row("895", NEIGHBOURS), model="2025"))
    assert list(frame["neighbour_old_la_code"]) == NEIGHBOURS and not frame["predecessor_authority"].any()


def test_statistical_neighbours_refuse_a_wrong_layout_or_a_bad_code(tmp_path):
    with pytest.raises(SourceDataError, match="expected 10 neighbour columns SN1..SN10, found 9"):
        parse_statistical_neighbours(source(tmp_path, "LA num," + ",".join(f"SN{k},SNP" for k in range(1, 10))
                                            + "\n895" + ",1" * 18 + "\n", model="2021"))
    with pytest.raises(SourceDataError) as raised:
        parse_statistical_neighbours(source(tmp_path, _neighbours_2021(_row("Cheshire", NEIGHBOURS)), model="2021"))
    assert (raised.value.row, raised.value.column) == (2, "LA num")
    assert "'Cheshire' is not a DfE authority number" in str(raised.value)
    with pytest.raises(SourceDataError) as raised:
        parse_statistical_neighbours(source(tmp_path, _neighbours_2021(_row("895", ["x", *NEIGHBOURS[1:]])),
                                            model="2021"))
    assert (raised.value.row, raised.value.column) == (2, "SN1")
