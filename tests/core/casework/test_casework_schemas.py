"""Malformed extracts are refused with the file, line and column named."""

from datetime import date

import pandas as pd
import pytest

from fact22_assets.core.casework.risk import load_risk_framework
from fact22_assets.core.casework.schemas import (
    ExtractError,
    randomisation_schema,
    read_extract,
    risk_notes_schema,
    service_schema,
    validate_extract,
)

ARMS = ("Programme", "Usual care")
TIME_POINTS = ("referral_2015", "six_months_2016", "latest_2019")
LIST = randomisation_schema(ARMS, date(2015, 8, 1), date(2016, 4, 30), ("other_cin_in_family",))
SERVICE = service_schema(("Crewe", "Macclesfield", "Unknown"), date(2015, 6, 1), date(2020, 3, 31))
GOOD_LIST = {
    "LAchildID": ["CE1000001", "CE1000002", "CE1000003"],
    "arm": ["Programme", "Usual care", "Programme"],
    "randomised_on": ["2015-09-01", "2015-10-12", "2016-01-20"],
    "other_cin_in_family": ["true", "false", "yes"],
}


def good_list() -> pd.DataFrame:
    return pd.DataFrame(GOOD_LIST)


def test_valid_list_is_typed_and_labelled():
    typed = validate_extract(good_list(), LIST, "randomisation.csv")
    assert list(typed.columns) == LIST.column_names + ["data_origin"]
    assert typed["other_cin_in_family"].tolist() == [True, False, True]
    assert typed.loc[0, "randomised_on"] == pd.Timestamp("2015-09-01")
    # a council's list carries no data_origin column: it is labelled COUNCIL
    assert set(typed["data_origin"]) == {"COUNCIL"}


def mutate(column, position, value):
    frame = good_list()
    frame.loc[position, column] = value
    return frame


@pytest.mark.parametrize(
    ("frame", "row", "column", "words"),
    [
        (mutate("arm", 2, "Control"), 4, "arm", "unknown value 'Control'"),
        (mutate("LAchildID", 2, "CE1000001"), 4, "LAchildID", "duplicate"),
        (mutate("randomised_on", 1, "2015-02-30"), 3, "randomised_on", "not a valid date"),
        (mutate("randomised_on", 1, "2014-10-12"), 3, "randomised_on", "below the allowed minimum"),
        (mutate("randomised_on", 1, "2016-05-01"), 3, "randomised_on", "above the allowed maximum"),
        (mutate("randomised_on", 0, "next week"), 2, "randomised_on", "not a date"),
        (mutate("other_cin_in_family", 1, "maybe"), 3, "other_cin_in_family", "not a boolean"),
        (mutate("LAchildID", 0, "Jane Smith"), 2, "LAchildID", "pseudonymous"),
        (mutate("arm", 1, ""), 3, "arm", "missing"),
    ],
)
def test_malformed_randomisation_list_is_refused(frame, row, column, words):
    with pytest.raises(ExtractError) as caught:
        validate_extract(frame, LIST, "randomisation.csv")
    error = caught.value
    assert (error.file, error.row, error.column) == ("randomisation.csv", row, column)
    assert words in str(error)
    assert "randomisation.csv" in str(error) and f"row {row}" in str(error)


def test_renamed_column_is_reported_at_the_header():
    frame = good_list().rename(columns={"arm": "group"})
    with pytest.raises(ExtractError) as caught:
        validate_extract(frame, LIST, "randomisation.csv")
    assert (caught.value.row, caught.value.column) == (1, "arm")
    assert "missing" in str(caught.value) and "group" in str(caught.value)


def test_extra_column_is_refused():
    frame = good_list().assign(child_name="x")
    with pytest.raises(ExtractError) as caught:
        validate_extract(frame, LIST, "randomisation.csv")
    assert (caught.value.row, caught.value.column) == (1, "child_name")


def test_row_number_is_the_line_of_the_csv_file(tmp_path):
    path = tmp_path / "randomisation.csv"
    mutate("arm", 1, "Control").to_csv(path, index=False)
    with pytest.raises(ExtractError) as caught:
        read_extract(path, LIST)
    line = path.read_text().splitlines()[caught.value.row - 1]
    assert ",Control," in line
    assert caught.value.file == str(path)


def notes_frame(framework):
    codes = list(framework["factor_code"])
    rows = []
    for case_id, time_point in [("CE1000001", "referral_2015"), ("CE1000001", "six_months_2016")]:
        rows.append(
            {"case_id": case_id, "arm": "Usual care", "time_point": time_point, **{c: "0" for c in codes},
             "parent_engagement": "compliant", "child_engagement": ""}
        )
    return pd.DataFrame(rows)


def test_risk_notes_refuse_unknown_factor_code_and_values():
    framework = load_risk_framework()
    schema = risk_notes_schema(framework["factor_code"], ARMS, TIME_POINTS)
    good = notes_frame(framework)
    assert len(validate_extract(good, schema, "notes.csv")) == 2

    with pytest.raises(ExtractError) as caught:
        validate_extract(good.assign(risk_parent_gambling="1"), schema, "notes.csv")
    assert (caught.value.row, caught.value.column) == (1, "risk_parent_gambling")
    assert "unknown factor code" in str(caught.value)

    bad = good.copy()
    bad.loc[1, "risk_family_stress"] = "2"
    with pytest.raises(ExtractError) as caught:
        validate_extract(bad, schema, "notes.csv")
    assert (caught.value.row, caught.value.column) == (3, "risk_family_stress")

    bad = good.copy()
    bad.loc[0, "parent_engagement"] = "keen"
    with pytest.raises(ExtractError) as caught:
        validate_extract(bad, schema, "notes.csv")
    assert (caught.value.row, caught.value.column) == (2, "parent_engagement")

    bad = good.copy()
    bad.loc[1, "time_point"] = "referral_2015"
    with pytest.raises(ExtractError) as caught:
        validate_extract(bad, schema, "notes.csv")
    assert (caught.value.row, caught.value.column) == (3, "case_id")


@pytest.mark.parametrize(
    ("change", "row", "column"),
    [
        ({"end_date": "2016-01-01"}, 3, "end_date"),  # before its start
        ({"outcome": "open"}, 3, "end_date"),  # open but ended
        ({"location": "Chester"}, 3, "location"),
        ({"outcome": "adopted"}, 3, "outcome"),
    ],
)
def test_malformed_service_extract_is_refused(change, row, column):
    frame = pd.DataFrame(
        {
            "family_id": ["SVC0001", "SVC0002"],
            "start_date": ["2016-03-01", "2016-05-01"],
            "end_date": ["", "2016-09-01"],
            "location": ["Crewe", "Macclesfield"],
            "outcome": ["open", "closed"],
        }
    )
    validate_extract(frame, SERVICE, "mi.csv")
    for column_name, value in change.items():
        frame.loc[1, column_name] = value
    with pytest.raises(ExtractError) as caught:
        validate_extract(frame, SERVICE, "mi.csv")
    assert (caught.value.row, caught.value.column) == (row, column)
