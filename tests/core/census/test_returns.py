"""Reading a census return: DfE's schema while streaming, and every kind of bad file refused with file, line,
child, element and rule."""
from pathlib import Path

import pandas as pd
import pytest

from fact22_assets.core.census import returns, rules, xsd
from fact22_assets.core.census.pseudonym import pseudonymiser
from fact22_assets.core.census.returns import CensusReturnError, pseudonymised, read_return

from .returns_by_hand import child, episode, line_of, message, plan, write

CENSUS = Path(__file__).resolve().parents[3] / "data" / "census"


def read(path, year=2019, lea="895"):
    return read_return(path, year, lea, CENSUS, rules=rules.findings)


def refused(path, year=2019, lea="895") -> returns.Finding:
    with pytest.raises(CensusReturnError) as caught:
        read(path, year, lea)
    return caught.value.findings[0]


def test_a_valid_return_gives_its_tables(tmp_path):
    path = write(tmp_path, message([
        child("A1", episodes=[episode("2018-05-01", "2018-09-01", "RC7", assessment=("2018-05-02", "2018-06-01"))]),
        child("B2", birth="2015-03-04", gender="2", episodes=[
            episode("2017-11-01", "2018-11-01", "RC7", plans=[plan("2018-01-10", "2018-07-01"), plan("2018-08-01")]),
            episode("2018-12-01", nfa="1")]),
    ]))
    census = read(path)
    tables = census.tables
    assert census.collection_year == 2019 and census.lea == "895" and census.schema == "CIN_schema_2019.xsd"
    assert census.n_children == 2
    assert tables["children"]["child_id"].tolist() == ["A1", "B2"]
    assert tables["children"]["gender"].tolist() == ["1", "2"]
    episodes = tables["episodes"]
    assert episodes["referral_date"].tolist() == [pd.Timestamp("2018-05-01"), pd.Timestamp("2017-11-01"),
                                                  pd.Timestamp("2018-12-01")]
    assert episodes["referral_nfa"].tolist() == [False, False, True]
    assert episodes["reason_for_closure"].tolist()[:2] == ["RC7", "RC7"]
    assert pd.isna(episodes["reason_for_closure"].iloc[2])
    assert tables["cp_plans"]["start_date"].tolist() == [pd.Timestamp("2018-01-10"), pd.Timestamp("2018-08-01")]
    assert tables["cp_plans"]["end_date"].isna().tolist() == [False, True]
    assert tables["assessments"]["authorised_date"].tolist() == [pd.Timestamp("2018-06-01")]
    # every row knows its line in the file
    assert episodes["source_line"].tolist()[0] == line_of(path, "<CINdetails>")


def test_rows_are_the_same_in_blocks_of_any_size(tmp_path, monkeypatch):
    children = [child(f"C{i}", episodes=[episode(f"2018-0{1 + i % 9}-01")]) for i in range(23)]
    path = write(tmp_path, message(children))
    whole = read(path).tables
    monkeypatch.setattr(returns, "CHUNK", 5)  # memory holds 5 children's rows at a time before typing them
    blocks = read(path).tables
    for name in whole:
        pd.testing.assert_frame_equal(whole[name], blocks[name])


def test_ids_are_pseudonymised_with_the_key(tmp_path):
    import hashlib
    import hmac

    path = write(tmp_path, message([child("A1"), child("B2")]))
    key = b"a key of sixteen bytes or more!"
    hidden = pseudonymised(read(path), pseudonymiser(key))
    expected = [hmac.new(key, c.encode(), hashlib.sha256).hexdigest()[:20] for c in ("A1", "B2")]
    assert hidden.tables["children"]["child_key"].tolist() == expected
    assert hidden.tables["episodes"]["child_key"].tolist() == expected
    for frame in hidden.tables.values():
        assert "child_id" not in frame


# --- bad input: each refused with file, line, child, element and rule

def test_a_value_the_schema_refuses_names_the_child_line_and_element(tmp_path):
    path = write(tmp_path, message([child("A1"), child("B2", episodes=[episode("2018-13-01")])]))
    found = refused(path)
    assert found.rule == "DfE schema CIN_schema_2019.xsd"
    assert found.child == "B2"
    assert found.element == "Child/CINdetails/CINreferralDate"
    assert found.line == line_of(path, "2018-13-01")
    assert "'2018-13-01' is not a valid value" in found.message
    text = str(found)
    assert str(path) in text and "child (LAchildID) 'B2'" in text and f"line {found.line}" in text


def test_a_code_outside_the_code_list_is_refused(tmp_path):
    path = write(tmp_path, message([child("A1", ethnicity="XXXX")]))
    found = refused(path)
    assert (found.child, found.element) == ("A1", "Child/ChildCharacteristics/Ethnicity")


def test_a_missing_required_element_is_refused(tmp_path):
    text = message([child("A1"), child("B2")]).replace("<GenderCurrent>1</GenderCurrent>", "", 1)
    found = refused(write(tmp_path, text))
    assert found.child == "A1" and "GenderCurrent" in found.message


def test_a_truncated_return_is_refused_with_the_line(tmp_path):
    text = message([child(f"C{i}") for i in range(5)])
    path = write(tmp_path, text[: len(text) // 2])
    found = refused(path)
    assert found.rule == "well-formed XML"
    assert found.line is not None and found.line > 1
    assert found.element == "(document)"


def test_malformed_xml_is_refused(tmp_path):
    path = write(tmp_path, message([child("A1")]).replace("</ChildIdentifiers>", "</ChildIdentifier>"))
    found = refused(path)
    assert found.rule == "well-formed XML"
    assert found.line == line_of(path, "</ChildIdentifier>")
    assert "mismatch" in found.message.lower()


@pytest.mark.parametrize("text", ["LAchildID,CINreferralDate\nA1,2018-05-01\n", "", "%PDF-1.4 binary"])
def test_a_file_that_is_not_xml_is_refused(tmp_path, text):
    found = refused(write(tmp_path, text, "return.csv"))
    assert found.rule == "well-formed XML" and found.line == 1
    assert "not XML" in found.message or "empty" in found.message


def test_a_return_of_another_year_is_refused(tmp_path):
    found = refused(write(tmp_path, message([child("A1")], year=2018)))
    assert found.rule == "collection year" and found.element == "Header/CollectionDetails/Year"
    assert "2018" in found.message


def test_a_wrong_reference_date_is_rule_100(tmp_path):
    found = refused(write(tmp_path, message([child("A1")], reference="2019-04-30")))
    assert found.rule == "rule 100 (DfE)" and found.element == "Header/CollectionDetails/ReferenceDate"


def test_a_return_of_another_authority_is_refused(tmp_path):
    found = refused(write(tmp_path, message([child("A1")], lea="308")))
    assert found.rule == "authority" and found.element == "Header/Source/LEA"


def test_a_later_years_layout_is_refused_by_this_years_schema(tmp_path):
    # CIN plan dates entered the return in 2021-22: a 2018-19 return holding them is not DfE's 2018-19 layout.
    later = message([child("A1", episodes=[episode("2018-05-01", cin_plan=("2018-06-01", None))])])
    found = refused(write(tmp_path, later))
    assert found.rule == "DfE schema CIN_schema_2019.xsd"
    assert found.child == "A1" and "CINPlanDates" in found.message
    # the same file's layout is DfE's 2021-22 one
    assert xsd.schema_for(CENSUS, 2022).name == "CIN_schema_2022.xsd"


def test_another_collection_under_another_root_is_refused(tmp_path):
    text = ('<?xml version="1.0"?>\n<SSDA903><Header><Year>2019</Year></Header>'
            "<Children><Child><ChildID>A1</ChildID></Child></Children></SSDA903>\n")
    found = refused(write(tmp_path, text))
    assert found.rule == "DfE schema" and found.element == "SSDA903" and "not 'Message'" in found.message


def test_the_schema_itself_refuses_another_root(tmp_path):
    # what the streaming validation says when nothing before it has looked at the root
    path = write(tmp_path, '<?xml version="1.0"?>\n<Returns><Other/></Returns>\n')
    with pytest.raises(CensusReturnError) as caught:
        returns.parse_return(path, xsd.schema_for(CENSUS, 2019))
    found = caught.value.findings[0]
    assert found.rule == "DfE schema CIN_schema_2019.xsd" and "No matching global declaration" in found.message


def test_a_year_without_a_schema_is_refused(tmp_path):
    with pytest.raises(xsd.SchemaCatalogueError, match="no census schema for collection year 2013"):
        read(write(tmp_path, message([child("A1")], year=2013)), year=2013)


def test_a_schema_whose_bytes_changed_is_refused(tmp_path):
    census = tmp_path / "census"
    (census / "schemas").mkdir(parents=True)
    (census / "schemas.yaml").write_text((CENSUS / "schemas.yaml").read_text())
    for path in (CENSUS / "schemas").glob("*.xsd"):
        (census / "schemas" / path.name).write_bytes(path.read_bytes())
    damaged = census / "schemas" / "CIN_schema_2019.xsd"
    damaged.write_bytes(damaged.read_bytes().replace(b"RC8", b"RC9"))
    with pytest.raises(xsd.SchemaCatalogueError, match="sha256"):
        read_return(write(tmp_path, message([child("A1")])), 2019, "895", census)


def test_the_shipped_schemas_are_the_catalogued_bytes():
    for year, entry in xsd.load_catalogue(CENSUS).items():
        assert xsd.xml_schema(entry) is not None, year


def test_two_processes_read_a_return_as_one_does(tmp_path):
    children = [child(f"C{i}", episodes=[episode(f"2018-0{1 + i % 9}-01", f"2018-0{1 + i % 9}-20", "RC7"),
                                         episode(f"2018-1{i % 3}-05", nfa="1")]) for i in range(31)]
    path = write(tmp_path, message(children))
    entry = xsd.schema_for(CENSUS, 2019)
    one, two = returns.parse_return(path, entry, workers=1), returns.parse_return(path, entry, workers=2)
    for name in one:
        pd.testing.assert_frame_equal(one[name], two[name], check_categorical=False)


def test_two_processes_refuse_a_bad_return_as_one_does(tmp_path):
    path = write(tmp_path, message([child("A1"), child("B2", episodes=[episode("2018-13-01")])]))
    with pytest.raises(CensusReturnError) as caught:
        returns.parse_return(path, xsd.schema_for(CENSUS, 2019), workers=2)
    assert caught.value.findings[0].child == "B2"


def test_two_processes_refuse_a_truncated_return(tmp_path):
    text = message([child(f"C{i}") for i in range(6)])
    with pytest.raises(CensusReturnError) as caught:
        returns.parse_return(write(tmp_path, text[: len(text) // 2]), xsd.schema_for(CENSUS, 2019), workers=2)
    assert caught.value.findings[0].rule == "well-formed XML"
