"""Each DfE validation rule the ingest enforces, shown failing on a return that breaks it alone (and passing on
the same return put right)."""
from pathlib import Path

import pytest

from fact22_assets.core.census import rules
from fact22_assets.core.census.returns import CensusReturnError, parse_return, read_return
from fact22_assets.core.census.xsd import schema_for

from .returns_by_hand import child, episode, line_of, message, plan, write  # noqa: F401

CENSUS = Path(__file__).resolve().parents[3] / "data" / "census"
GOOD = child("OK1", episodes=[episode("2018-05-01", "2018-09-01", "RC7", assessment=("2018-05-02", "2018-06-01"),
                                      plans=[plan("2018-06-01", "2018-08-01")])])


def _episodes(*details: str) -> list[str]:
    return list(details)


# code -> (the breaking child, the element whose line the finding names and which of them in the child, the year)
BROKEN = {
    "8500": (child("", episodes=[episode()]), ("<Child>", 1), 2019),
    "8510": (child("OK1"), ("<Child>", 1), 2019),
    "8520": (child("B1", birth="2019-06-01"), ("<Child>", 1), 2019),
    "8600": (child("B1", episodes=[episode("2019-05-01")]), ("<CINdetails>", 1), 2019),
    "8620": (child("B1", episodes=[episode("2017-05-01", "2018-02-01", "RC7")]), ("<CINdetails>", 1), 2019),
    "8630": (child("B1", episodes=[episode("2018-05-01", "2018-04-20", "RC7")]), ("<CINdetails>", 1), 2019),
    "8805": (child("B1", episodes=[episode("2018-05-01", "2018-09-01")]), ("<CINdetails>", 1), 2019),
    "8810": (child("B1", episodes=[episode("2018-05-01", reason="RC7")]), ("<CINdetails>", 1), 2019),
    "8815": (child("B1", episodes=[episode("2017-05-01"), episode("2018-05-01")]), ("<CINdetails>", 2), 2019),
    "8820": (child("B1", episodes=[episode("2018-04-01", "2018-09-01", "RC7"), episode("2018-06-01", nfa="1")]),
             ("<CINdetails>", 2), 2019),
    "1103": (child("B1", episodes=[episode("2018-05-01", assessment=("2018-04-01", None))]), ("<Assessments>", 1),
             2019),
    "8608": (child("B1", episodes=[episode("2018-05-01", assessment=("2018-06-01", "2018-05-20"))]),
             ("<Assessments>", 1), 2019),
    "1105": (child("B1", episodes=[episode("2018-05-01", plans=[plan("2018-04-01")])]),
             ("<ChildProtectionPlans>", 1), 2019),
    "8925": (child("B1", episodes=[episode("2018-05-01", plans=[plan("2018-07-01", "2018-06-01")])]),
             ("<ChildProtectionPlans>", 1), 2019),
    "8840": (child("B1", episodes=[episode("2018-05-01", plans=[plan("2018-07-01", "2018-07-01")])]),
             ("<ChildProtectionPlans>", 1), 2019),
    "8930": (child("B1", episodes=[episode("2017-05-01", plans=[plan("2017-07-01", "2018-01-01")])]),
             ("<ChildProtectionPlans>", 1), 2019),
    "8935": (child("B1", episodes=[episode("2018-05-01", plans=[plan("2018-06-01"), plan("2018-09-01")])]),
             ("<ChildProtectionPlans>", 2), 2019),
    "4015": (child("B1", episodes=[episode("2021-05-01", cin_plan=("2021-04-01", None))]), ("<CINPlanDates>", 1),
             2022),
    "4011": (child("B1", episodes=[episode("2021-05-01", cin_plan=("2021-06-01", "2021-05-20"))]),
             ("<CINPlanDates>", 1), 2022),
}


def _line(path: Path, element: str, which: int) -> int:
    """The line of the ``which``-th ``element`` of the second child (the broken one)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    second_child = [i for i, text in enumerate(lines) if "<Child>" in text][1]
    hits = [i for i, text in enumerate(lines) if i >= second_child and element in text]
    return hits[which - 1] + 1


def test_every_rule_has_a_failing_case():
    assert set(BROKEN) == set(rules.RULE_CODES)


@pytest.mark.parametrize("code", list(BROKEN))
def test_a_return_breaking_one_rule_is_refused_naming_it(tmp_path, code):
    broken, (element, which), year = BROKEN[code]
    good = child("OK1", episodes=[episode(f"{year - 1}-05-01", f"{year - 1}-09-01", "RC7")])
    path = write(tmp_path, message([good, broken], year=year))
    with pytest.raises(CensusReturnError) as caught:
        read_return(path, year, "895", CENSUS, rules=rules.findings)
    found = [f for f in caught.value.findings if f.rule == f"rule {code} (DfE)"]
    assert found, [str(f) for f in caught.value.findings]
    finding = found[0]
    assert finding.message == rules.rule(code).message
    assert finding.element == rules.rule(code).element
    assert finding.line == _line(path, element, which)
    # the broken child is named (the repeated one is the second OK1)
    assert finding.child == {"8500": "", "8510": "OK1"}.get(code, "B1")
    assert str(path) in str(caught.value) and f"rule {code} (DfE)" in str(caught.value)


def test_the_same_return_put_right_passes(tmp_path):
    path = write(tmp_path, message([GOOD, child("B1", episodes=[
        episode("2017-05-01", "2018-04-20", "RC7"), episode("2018-05-01", nfa="1"),
        episode("2018-06-01", plans=[plan("2018-07-01", "2018-09-01"), plan("2018-10-01")])])]))
    assert read_return(path, 2019, "895", CENSUS, rules=rules.findings).n_children == 2


def test_violations_of_stored_tables_name_the_child_key_and_line(tmp_path):
    path = write(tmp_path, message([GOOD, BROKEN["8630"][0]]))
    tables = parse_return(path, schema_for(CENSUS, 2019))
    stored = {name: frame.rename(columns={"child_id": "child_key"}) for name, frame in tables.items()}
    found = rules.violations(stored, 2019)
    assert found[["rule", "child_key", "source_line"]].values.tolist() == [
        ["8630", "B1", line_of(path, "<CINdetails>", after="<LAchildID>B1")]]
