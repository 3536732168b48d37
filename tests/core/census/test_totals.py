"""An authority's totals by DfE's definitions, counted by hand on a few episodes, and the reconciliation rule."""
import pandas as pd
import pytest

from fact22_assets.core.census.totals import authority_totals, reconcile, rounding_units, tolerance

T = pd.Timestamp
NAT = pd.NaT


def episodes_frame(rows):
    frame = pd.DataFrame(rows, columns=["collection_year", "child_key", "referral_date", "closure_date", "referral_nfa"])
    frame["authority_code"] = "E06000049"
    for column in ("referral_date", "closure_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


# Two returns (2018-19, 2019-20) as a council would send them: an episode open across 31 March 2019 is in both.
EPISODES = episodes_frame([
    # 2018-19 return
    (2019, "a", "2018-05-01", "2018-08-01", False),  # referral, closure
    (2019, "a", "2018-12-01", None, False),           # referral 7 months after a's last: a re-referral; open 31 Mar
    (2019, "b", "2017-06-01", "2018-06-30", False),   # referred before the year: a closure only
    (2019, "c", "2019-01-10", None, True),            # referral with no further action: a referral, never CIN
    (2019, "d", "2018-04-01", None, False),           # open at 31 March
    # 2019-20 return
    (2020, "a", "2018-12-01", "2019-06-01", False),   # the same episode, now closed
    (2020, "c", "2019-11-01", None, False),           # 10 months after c's no-further-action referral: re-referral
    (2020, "d", "2018-04-01", "2020-03-31", False),   # closed on the last day of the year
    (2020, "e", "2019-04-01", None, False),           # referral, open at 31 March
    (2020, "b", "2019-07-01", None, True),            # two years after b's last referral: not a re-referral
])
PLANS = pd.DataFrame({"authority_code": "E06000049", "collection_year": [2019, 2019, 2020],
                      "child_key": ["a", "d", "d"],
                      "start_date": pd.to_datetime(["2019-01-05", "2018-03-01", "2019-05-01"])})


def totals():
    frame = authority_totals(EPISODES, PLANS)
    return frame.set_index(["collection_year", "measure"])["census_value"]


def test_counts_by_hand():
    got = totals()
    # 2018-19: referrals a(May), a(Dec), c(Jan NFA), d(Apr) = 4; closures a(Aug), b(Jun) = 2;
    # open at 31 March a(Dec), d = 2 (c is NFA); plans started a(Jan) = 1 (d's began in 2017-18)
    assert (got[(2019, "referrals")], got[(2019, "closures")], got[(2019, "cin_at_31_march")],
            got[(2019, "escalations")]) == (4, 2, 2, 1)
    # 2019-20: referrals c(Nov), e(Apr), b(Jul NFA) = 3; closures a(Jun), d(31 Mar) = 2; open c, e = 2; plans d = 1
    assert (got[(2020, "referrals")], got[(2020, "closures")], got[(2020, "cin_at_31_march")],
            got[(2020, "escalations")]) == (3, 2, 2, 1)


def test_rereferrals_look_back_twelve_months_into_the_year_before():
    got = totals()
    # 2019-20: c's Nov 2019 referral follows its Jan 2019 one (10 months): 1; b's follows 2017 (over a year): 0
    assert got[(2020, "rereferrals")] == 1
    # 2018-19 is the first return loaded: the year before it is unknown, so not counted
    assert pd.isna(got[(2019, "rereferrals")])
    notes = authority_totals(EPISODES, PLANS).set_index(["collection_year", "measure"])["note"]
    assert "needs the 2017-18 return" in notes[(2019, "rereferrals")]


def test_tolerance_is_half_the_rounding_or_the_relative_share():
    assert tolerance(2000, 0.0, 1) == 0
    assert tolerance(2000, 0.0, 10) == 5
    assert tolerance(2000, 0.01, 10) == 20
    assert tolerance(200, 0.01, 10) == 5


def _published(value, status="published", unit=1, measure="referrals"):
    return pd.DataFrame({"authority_code": ["E06000049"], "collection_year": [2020], "measure": [measure],
                         "published_value": [value], "published_status": [status], "rounding_unit": [unit]})


def _one(census, published, relative=0.0, years=(2020,)):
    counted = pd.DataFrame({"authority_code": ["E06000049"], "collection_year": [2020], "measure": ["referrals"],
                            "census_value": pd.array([census], dtype="Int64"), "note": [""]})
    return reconcile(counted, published, {"E06000049": relative}, {"E06000049": years}).iloc[0]


@pytest.mark.parametrize(("census", "published", "relative", "within", "difference"), [
    (3749, _published(3749.0), 0.0, True, 0.0),
    (3750, _published(3749.0), 0.0, False, 1.0),
    (3760, _published(3749.0), 0.01, True, 11.0),
    (3749, _published(3750.0, unit=10), 0.0, True, -1.0),   # a total rounded to 10: within 5
    (3756, _published(3750.0, unit=10), 0.0, False, 6.0),
])
def test_reconciliation_within_tolerance(census, published, relative, within, difference):
    row = _one(census, published, relative)
    assert bool(row["within_tolerance"]) is within
    assert row["difference"] == difference


def test_a_count_dfe_withheld_is_within_when_one_to_five_and_not_comparable_otherwise():
    assert bool(_one(3, _published(None, "c"))["within_tolerance"]) is True
    row = _one(40, _published(None, "c"))
    assert pd.isna(row["within_tolerance"]) and "secondary suppression" in row["note"]


def test_a_value_dfe_did_not_publish_is_not_comparable():
    row = _one(40, _published(None, "x"))
    assert pd.isna(row["within_tolerance"]) and "publishes no value" in row["note"]


def test_only_the_years_asked_for_are_reconciled():
    counted = pd.DataFrame({"authority_code": ["E06000049"], "collection_year": [2020], "measure": ["referrals"],
                            "census_value": pd.array([1], dtype="Int64"), "note": [""]})
    assert reconcile(counted, _published(1.0), {}, {"E06000049": (2019,)}).empty


def test_rounding_is_read_from_the_values():
    values = pd.DataFrame({"collection_year": [2020] * 25 + [2021] * 25, "measure": "referrals",
                           "published_value": [10.0 * i for i in range(25)] + [10.0 * i + 3 for i in range(25)]})
    units = rounding_units(values).set_index("collection_year")["rounding_unit"]
    assert (units[2020], units[2021]) == (10, 1)
