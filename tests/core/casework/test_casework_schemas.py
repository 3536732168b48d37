"""Malformed extracts are refused with the file, line and column named."""

import pandas as pd
import pytest

from fact22_assets.core.casework.risk import load_risk_framework
from fact22_assets.core.casework.schemas import (
    RCT_CASES,
    SERVICE_MI,
    ExtractError,
    read_extract,
    risk_notes_schema,
    validate_extract,
)

GOOD_RCT = {
    "family_id": ["F001", "F002", "F003"],
    "lead_child_id": ["LC101", "LC102", "LC103"],
    "arm": ["FACT22", "CEC", "FACT22"],
    "randomised_on": ["2015-09-01", "2015-10-12", "2016-01-20"],
    "female": ["true", "false", "true"],
    "age_at_referral": ["4", "15", ""],
    "previous_cin_history": ["false", "true", "false"],
    "other_cin_in_family": ["true", "true", "false"],
    "ethnicity": ["White British", "Other White", "Other"],
    "disabled": ["false", "false", "true"],
    "aged_out_by_end": ["false", "true", "false"],
    "cin_plan_start": ["2015-09-10", "2015-10-20", "2016-02-01"],
    "closure_date": ["2016-06-30", "", ""],
    "rereferral_dates": ["2017-01-05;2016-09-01", "", ""],
    "escalation_date": ["", "", "2017-03-01"],
    "escalation_type": ["", "", "CPP"],
    "later_received_fact22": ["false", "true", "false"],
    "outcome_data_missing": ["false", "false", "false"],
}


def good_rct() -> pd.DataFrame:
    return pd.DataFrame(GOOD_RCT)


def test_valid_extract_is_typed_and_labelled():
    typed = validate_extract(good_rct(), RCT_CASES, "rct.csv")
    assert list(typed.columns) == RCT_CASES.column_names + ["data_origin"]
    assert typed["female"].tolist() == [True, False, True]
    assert typed["age_at_referral"].isna().tolist() == [False, False, True]
    assert typed.loc[0, "closure_date"] == pd.Timestamp("2016-06-30")
    # date lists come back sorted and normalised
    assert typed.loc[0, "rereferral_dates"] == "2016-09-01;2017-01-05"
    # a council extract carries no data_origin column: it is labelled COUNCIL
    assert set(typed["data_origin"]) == {"COUNCIL"}


def mutate(column, position, value):
    frame = good_rct()
    frame.loc[position, column] = value
    return frame


@pytest.mark.parametrize(
    ("frame", "row", "column", "words"),
    [
        (mutate("arm", 2, "Control"), 4, "arm", "unknown value 'Control'"),
        (mutate("closure_date", 0, "2015-09-01"), 2, "closure_date", "before the CIN plan start"),
        (mutate("family_id", 2, "F001"), 4, "family_id", "duplicate"),
        (mutate("lead_child_id", 1, "LC101"), 3, "lead_child_id", "duplicate"),
        (mutate("age_at_referral", 0, "-3"), 2, "age_at_referral", "below the allowed minimum"),
        (mutate("age_at_referral", 0, "21"), 2, "age_at_referral", "above the allowed maximum"),
        (mutate("age_at_referral", 1, "6"), 3, "age_at_referral", "cannot reach 18"),
        (mutate("randomised_on", 1, "2015-02-30"), 3, "randomised_on", "not a valid date"),
        (mutate("randomised_on", 1, "2014-10-12"), 3, "randomised_on", "below the allowed minimum"),
        (mutate("closure_date", 0, "next week"), 2, "closure_date", "not a date"),
        (mutate("rereferral_dates", 0, "2016-09-01;2016-13-01"), 2, "rereferral_dates", "not a valid date"),
        (mutate("escalation_type", 2, ""), 4, "escalation_type", "both"),
        (mutate("female", 1, "maybe"), 3, "female", "not a boolean"),
        (mutate("family_id", 0, "Jane Smith"), 2, "family_id", "pseudonymous"),
        (mutate("later_received_fact22", 0, "true"), 2, "later_received_fact22", "FACT22-arm"),
        (mutate("outcome_data_missing", 0, "true"), 2, "outcome_data_missing", "flagged missing"),
        (mutate("arm", 1, ""), 3, "arm", "missing"),
    ],
)
def test_malformed_rct_extract_is_refused(frame, row, column, words):
    with pytest.raises(ExtractError) as caught:
        validate_extract(frame, RCT_CASES, "rct_cases.csv")
    error = caught.value
    assert (error.file, error.row, error.column) == ("rct_cases.csv", row, column)
    assert words in str(error)
    assert "rct_cases.csv" in str(error) and f"row {row}" in str(error)


def test_renamed_column_is_reported_at_the_header():
    frame = good_rct().rename(columns={"arm": "group"})
    with pytest.raises(ExtractError) as caught:
        validate_extract(frame, RCT_CASES, "rct_cases.csv")
    assert (caught.value.row, caught.value.column) == (1, "arm")
    assert "missing" in str(caught.value) and "group" in str(caught.value)


def test_extra_column_is_refused():
    frame = good_rct().assign(child_name="x")
    with pytest.raises(ExtractError) as caught:
        validate_extract(frame, RCT_CASES, "rct_cases.csv")
    assert (caught.value.row, caught.value.column) == (1, "child_name")


def test_row_number_is_the_line_of_the_csv_file(tmp_path):
    path = tmp_path / "rct_cases.csv"
    mutate("arm", 1, "Control").to_csv(path, index=False)
    with pytest.raises(ExtractError) as caught:
        read_extract(path, RCT_CASES)
    line = path.read_text().splitlines()[caught.value.row - 1]
    assert ",Control," in line
    assert caught.value.file == str(path)


def notes_frame(framework):
    codes = list(framework["factor_code"])
    rows = []
    for case_id, time_point in [("F001", "referral_2015"), ("F001", "six_months_2016")]:
        rows.append(
            {"case_id": case_id, "arm": "CEC", "time_point": time_point, **{c: "0" for c in codes},
             "parent_engagement": "compliant", "child_engagement": ""}
        )
    return pd.DataFrame(rows)


def test_risk_notes_refuse_unknown_factor_code_and_values():
    framework = load_risk_framework()
    schema = risk_notes_schema(framework["factor_code"])
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
    validate_extract(frame, SERVICE_MI, "mi.csv")
    for column_name, value in change.items():
        frame.loc[1, column_name] = value
    with pytest.raises(ExtractError) as caught:
        validate_extract(frame, SERVICE_MI, "mi.csv")
    assert (caught.value.row, caught.value.column) == (row, column)
