"""Service summaries and small-count suppression on hand-made tables."""

import math
from datetime import date

import pandas as pd
import pytest

from fact22_assets.core.casework.schemas import service_schema, validate_extract
from fact22_assets.core.casework.service import case_length_by_start_year, service_summary
from fact22_assets.core.casework.suppression import suppress_small_counts

LOCATIONS = ("Crewe", "Macclesfield", "Unknown")
SERVICE_MI = service_schema(LOCATIONS, date(2015, 6, 1), date(2020, 3, 31))


@pytest.fixture()
def service_mi():
    frame = pd.DataFrame(
        {
            "family_id": ["SVC1", "SVC2", "SVC3", "SVC4", "SVC5"],
            "start_date": ["2016-01-01", "2016-03-01", "2017-02-01", "2017-05-01", "2019-09-01"],
            "end_date": ["2016-04-10", "2016-06-29", "2017-03-03", "2017-09-01", ""],
            "location": ["Crewe", "Crewe", "Macclesfield", "Crewe", "Unknown"],
            "outcome": ["closed", "closed", "escalated_cp", "closed", "open"],
        }
    )
    return validate_extract(frame, SERVICE_MI, "mi.csv")


def test_summary_by_hand(service_mi):
    summary = service_summary(service_mi, LOCATIONS, 0.093).set_index(["measure", "category"])
    assert summary.loc[("location", "Crewe"), "share"] == pytest.approx(3 / 5)
    assert summary.loc[("outcome", "closed"), "n_families"] == 3
    escalated = summary.loc[("escalated", "cp_or_lac")]
    assert escalated["share"] == pytest.approx(1 / 5)
    # exact binomial, two-sided: the sum of every outcome no more likely than
    # the observed 1 of 5 at 9.3% (here P(X >= 1), as 0 is more likely)
    probs = [math.comb(5, k) * 0.093**k * 0.907 ** (5 - k) for k in range(6)]
    assert escalated["p_value_vs_benchmark"] == pytest.approx(sum(p for p in probs if p <= probs[1] * (1 + 1e-7)))
    # closed: 100, 120, 123 days
    assert summary.loc[("days_to_close", "closed"), "mean_days"] == pytest.approx((100 + 120 + 123) / 3)


def test_case_length_by_start_year(service_mi):
    by_year = case_length_by_start_year(service_mi).set_index("start_year")
    assert by_year.loc[2016, "mean_days_to_close"] == pytest.approx(110)
    assert by_year.loc[2017, "n_closed"] == 1 and by_year.loc[2017, "mean_days_ended"] == pytest.approx((30 + 123) / 2)
    assert by_year.loc[2019, "n_open"] == 1


def test_small_counts_are_withheld_with_status_c():
    table = pd.DataFrame({"category": ["a", "b", "c", "d"], "n": [0, 3, 12, 40]})
    out = suppress_small_counts(table, ["n"], group_columns=None)
    # 3 is withheld; it alone could be derived from the total, so the next
    # smallest non-zero count (12) is withheld too; 0 stays shown
    assert out["n"].isna().tolist() == [False, True, True, False]
    assert out["n_status"].tolist() == [None, "c", "c", None]
    assert out.loc[0, "n"] == 0


def test_secondary_suppression_works_within_each_group():
    table = pd.DataFrame(
        {
            "outcome": ["closed", "closed", "escalated", "escalated"],
            "arm": ["FACT22", "CEC", "FACT22", "CEC"],
            "events": [59, 35, 4, 5],
        }
    )
    out = suppress_small_counts(table, ["events"], group_columns=["outcome"])
    # escalated: two cells withheld already, nothing more needed; closed untouched
    assert out["events_status"].tolist() == [None, None, "c", "c"]
    one = table.assign(events=[59, 35, 4, 30])
    out = suppress_small_counts(one, ["events"], group_columns=["outcome"])
    assert out["events_status"].tolist() == [None, None, "c", "c"]
    assert out["events"].isna().tolist() == [False, False, True, True]
