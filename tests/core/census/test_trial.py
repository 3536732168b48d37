"""A trial's cases from census tables and its randomisation list, worked by hand."""
from datetime import date

import pandas as pd
import pytest

from fact22_assets.core.census.config import CensusReturnSpec, Trial
from fact22_assets.core.census.trial import TrialDataError, trial_cases

TRIAL = Trial(trial_id="tiny", title="tiny", authority_code="E06000049", data_origin="COUNCIL", treated_arm="P",
              control_arm="U", randomised_from=date(2016, 1, 1), randomised_to=date(2016, 6, 30),
              randomisation_list="list.csv", follow_up_end=date(2018, 1, 31),
              returns=tuple(CensusReturnSpec(y, f"{y}.xml") for y in (2016, 2017, 2018)), synthetic_seed=None,
              synthetic_histories=None, child_id_prefix=None, reconcile_years=(2016, 2017, 2018),
              relative_tolerance=0.0, outcomes=("closures", "rereferrals", "escalations", "case_length_days"),
              covariates=("female",), subgroups=(), list_columns=("later_received_treatment",))


def census(rows_children, rows_episodes, rows_plans):
    children = pd.DataFrame(rows_children, columns=["collection_year", "child_key", "birth_date", "gender",
                                                    "ethnicity", "disabilities"])
    children["birth_date"] = pd.to_datetime(children["birth_date"])
    episodes = pd.DataFrame(rows_episodes, columns=["collection_year", "child_key", "referral_date", "closure_date",
                                                    "reason_for_closure", "referral_nfa"])
    for column in ("referral_date", "closure_date"):
        episodes[column] = pd.to_datetime(episodes[column])
    plans = pd.DataFrame(rows_plans, columns=["collection_year", "child_key", "start_date"])
    plans["start_date"] = pd.to_datetime(plans["start_date"])
    for frame in (children, episodes, plans):
        frame["authority_code"] = "E06000049"
    return children, episodes, plans


CHILDREN = [
    (2016, "a", "2010-03-01", "2", "WBRI", "NONE"),
    (2017, "a", "2010-03-01", "2", "WBRI", "NONE"),
    (2016, "b", "1999-12-01", "1", "WOTH", "LD"),
    (2016, "c", None, "1", "AIND", "NONE"),
    (2016, "d", "2008-02-01", "1", "WBRI", "NONE"),
]
EPISODES = [
    # a: earlier episode (previous CIN history), index 2016-02-01 closed 2016-10-01, re-referred 2016-12-01
    (2016, "a", "2015-05-01", "2015-09-01", "RC7", False),
    (2016, "a", "2016-02-01", None, None, False),
    (2017, "a", "2016-02-01", "2016-10-01", "RC7", False),
    (2017, "a", "2016-12-01", None, None, True),
    # b: index 2016-03-01, open at the end of follow-up; turns 18 on 2017-12-01 (aged out); escalated 2016-09-01
    (2016, "b", "2016-03-01", None, None, False),
    # c: no birth date; index closed by transfer out: closure and re-referral unknown
    (2016, "c", "2016-03-15", "2016-06-01", "RC5", False),
    # d: index closed after the end of follow-up: not closed, censored
    (2016, "d", "2016-01-20", None, None, False),
    (2018, "d", "2016-01-20", "2018-03-01", "RC7", False),
]
PLANS = [(2017, "b", "2016-09-01")]
LIST = pd.DataFrame({"child_key": ["a", "b", "c", "d"], "arm": ["P", "U", "P", "U"],
                     "randomised_on": pd.to_datetime(["2016-02-01", "2016-03-01", "2016-03-15", "2016-01-25"]),
                     "later_received_treatment": [False, False, False, True], "source_row": [2, 3, 4, 5],
                     "data_origin": "COUNCIL"})


@pytest.fixture(scope="module")
def cases():
    return trial_cases(TRIAL, LIST, *census(CHILDREN, EPISODES, PLANS)).set_index("child_key")


def test_outcomes_by_hand(cases):
    assert cases["closed"].tolist() == [1, 0, pd.NA, 0]
    assert cases["rereferred"].tolist() == [1, 0, pd.NA, 0]
    assert cases["escalated"].tolist() == [0, 1, 0, 0]
    # a: 2016-02-01 to 2016-10-01 = 243 days; d: censored at 2018-01-31, 742 days after 2016-01-20;
    # b escalated and c unknown: no case length
    assert cases.loc["a", "case_length_days"] == 243
    assert cases.loc["d", "case_length_days"] == 742
    assert pd.isna(cases.loc["b", "case_length_days"]) and pd.isna(cases.loc["c", "case_length_days"])


def test_covariates_by_hand(cases):
    assert cases["treated"].tolist() == [1, 0, 1, 0]
    assert cases["female"].tolist() == [1, 0, 0, 0]
    # a: 5 at 2016-02-01; b: 16 at 2016-03-01; c: unknown; d: 7 at 2016-01-20
    assert cases["age_at_referral"].tolist() == [5, 16, pd.NA, 7]
    assert cases["under_11"].tolist() == [1, 0, pd.NA, 1]
    assert cases["previous_cin_history"].tolist() == [1, 0, 0, 0]
    assert cases["disabled"].tolist() == [0, 1, 0, 0]
    assert cases["white_british"].tolist() == [1, 0, 0, 1]
    assert cases["other_white"].tolist() == [0, 1, 0, 0]
    # b turns 18 on 2017-12-01, before 2018-01-31; c has no birth date: not known to have aged out
    assert cases["aged_out_by_end"].tolist() == [0, 1, 0, 0]
    assert cases["later_received_treatment"].tolist() == [0, 0, 0, 1]
    assert (cases["data_origin"] == "COUNCIL").all()


def test_a_randomised_child_without_an_open_episode_is_refused():
    listed = LIST.assign(randomised_on=pd.to_datetime(["2016-02-01", "2016-03-01", "2016-06-15", "2016-01-25"]))
    with pytest.raises(TrialDataError, match="row 4 \\(child_key c, randomised 2016-06-15\\)"):
        trial_cases(TRIAL, listed, *census(CHILDREN, EPISODES, PLANS))
