"""Risk scoring on a hand-made example."""

import pandas as pd
import pytest

from fact22_assets.core.casework.risk import (
    load_engagement_scale,
    load_risk_framework,
    risk_score_changes,
    risk_scores_by_arm,
    score_risk_notes,
)
from fact22_assets.core.casework.schemas import risk_notes_schema, validate_extract

TIME_POINTS = ("referral_2015", "six_months_2016", "latest_2019")


@pytest.fixture(scope="module")
def framework():
    return load_risk_framework()


@pytest.fixture(scope="module")
def scale():
    return load_engagement_scale()


def test_framework_holds_the_report_appendix(framework, scale):
    assert len(framework) == 19 + 10  # 19 risk, 10 protective factors
    capitals = framework[framework["label"].str.upper() == framework["label"]]
    assert set(capitals["weight"].abs()) == {2}
    assert (framework.loc[framework["kind"] == "risk", "weight"] < 0).all()
    assert dict(zip(scale["engagement_level"], scale["score"])) == {
        "strong_desire": 2, "compliant": 1, "tokenistic": -1, "dissent": -2,
    }


def note(case_id, arm, time_point, framework, factors, parent, child):
    row = {"case_id": case_id, "arm": arm, "time_point": time_point}
    row.update({code: int(code in factors) for code in framework["factor_code"]})
    row.update(parent_engagement=parent, child_engagement=child)
    return row


def test_two_cases_scored_by_hand(framework, scale):
    notes = pd.DataFrame(
        [
            # A: MENTAL HEALTH (-2), parental conflict (-1); SUPPORTIVE FAMILY NETWORK (+2),
            #    in employment (+1); parent strong desire (+2), child dissent (-2).
            note("F001", "FACT22", "six_months_2016", framework,
                 {"risk_parent_mental_health", "risk_family_parental_conflict",
                  "protective_family_supportive_network", "protective_parent_employed"},
                 "strong_desire", "dissent"),
            # B: substance abuse (-1), YOUNG CHILDREN (-2); parent tokenistic (-1), child not coded.
            note("F002", "CEC", "six_months_2016", framework,
                 {"risk_parent_substance_abuse", "risk_family_young_children"}, "tokenistic", ""),
            # A in 2019: adds FAMILY STRESS (-2), parent now compliant (+1).
            note("F001", "FACT22", "latest_2019", framework,
                 {"risk_parent_mental_health", "risk_family_parental_conflict", "risk_family_stress",
                  "protective_family_supportive_network", "protective_parent_employed"},
                 "compliant", "dissent"),
        ]
    )
    typed = validate_extract(notes, risk_notes_schema(framework["factor_code"], ("FACT22", "CEC"), TIME_POINTS), "notes.csv")
    scores = score_risk_notes(typed, framework, scale).set_index(["case_id", "time_point"])

    a = scores.loc[("F001", "six_months_2016")]
    assert (a["engagement_score"], a["protective_score"], a["risk_score"], a["total_score"]) == (0, 3, -3, 0)
    b = scores.loc[("F002", "six_months_2016")]
    assert (b["engagement_score"], b["protective_score"], b["risk_score"], b["total_score"]) == (-1, 0, -3, -4)
    a19 = scores.loc[("F001", "latest_2019")]
    assert (a19["engagement_score"], a19["risk_score"], a19["total_score"]) == (-1, -5, -3)

    by_arm = risk_scores_by_arm(scores.reset_index(), ("FACT22", "CEC"), TIME_POINTS).set_index(["arm", "time_point"])
    assert by_arm.loc[("FACT22", "six_months_2016"), "mean_total_score"] == 0
    assert by_arm.loc[("CEC", "six_months_2016"), "n_cases"] == 1

    changes = risk_score_changes(scores.reset_index(), ("FACT22", "CEC"), TIME_POINTS)
    later = changes[(changes["from_time_point"] == "six_months_2016") & (changes["to_time_point"] == "latest_2019")]
    # only F001 is scored at both: 0 -> -3, risk rose
    assert later[["arm", "n_cases", "mean_change"]].values.tolist() == [["FACT22", 1, -3.0]]
