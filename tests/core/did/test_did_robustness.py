"""Robustness to the comparator: every estimate equals the report's DiD against that comparator,
the summary is worked by hand, fixed comparators and donor exclusions behave as configured."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from fact22_assets.core.did import FACT22, robustness
from fact22_assets.core.did.config import Intervention, StudyEntry, donor_exclusions
from fact22_assets.core.did.contract import Selection
from fact22_assets.core.did.estimation import did_estimates, main_method
from fact22_assets.core.did.estimators import FIXED, RULE, select_comparator
from fact22_assets.core.did.prepared import PreparedPanel, prepare_outcome
from fact22_assets.core.did.ranking import rank_comparators
from fact22_assets.core.did.robustness import ComparatorRobustness, specification_curve, summarise
from fact22_assets.core.did.simulated_panel import simulated_panel

OUTCOME = "closures_per_10k"


@pytest.fixture(scope="module")
def prepared():
    return prepare_outcome(simulated_panel(n_units=25, seed=6), FACT22, OUTCOME)


def test_each_point_of_the_curve_is_the_reports_did_against_that_comparator(prepared):
    curve = specification_curve(prepared, select_comparator(prepared))
    assert len(curve) == len(prepared.candidates)
    for row in curve.sample(6, random_state=1).itertuples():
        table = did_estimates(prepared, row.unit_code).set_index("method")
        main = table.loc[main_method(FACT22)]
        assert row.estimate == pytest.approx(main["estimate"], abs=1e-9)
        assert row.se_classical == pytest.approx(main["se_classical"], abs=1e-9)
    assert curve["estimate"].is_monotonic_increasing
    assert curve["selected"].sum() == 1


def test_summary_worked_by_hand(prepared):
    curve = pd.DataFrame({"unit_code": list("ABCDE"), "estimate": [-4.0, -1.0, 0.0, 2.0, 8.0],
                          "rank": [5, 1, 2, 3, 4], "selected": [False, True, False, False, False]})
    row = summarise(curve, prepared, Selection(pd.DataFrame(), "B")).iloc[0]
    assert row["median"] == 0.0 and row["q25"] == -1.0 and row["q75"] == 2.0
    assert row["minimum"] == -4.0 and row["maximum"] == 8.0
    assert row["share_negative"] == pytest.approx(0.4) and row["share_positive"] == pytest.approx(0.4)
    assert row["chosen_estimate"] == -1.0
    assert row["chosen_percentile"] == pytest.approx(0.3)  # 1 below, itself counts half: 1.5 / 5


def test_leave_one_pre_year_out_lists_every_pre_year(prepared):
    stability = ComparatorRobustness().estimate(prepared, select_comparator(prepared))["did_comparator_stability"]
    assert list(stability["left_out_year"]) == list(FACT22.pre_years)
    assert stability["comparator_code"].isin(prepared.candidates).all()


def test_a_fixed_comparator_is_used_and_its_rank_kept():
    panel = simulated_panel(n_units=25, seed=6)
    rule = select_comparator(prepare_outcome(panel, FACT22, OUTCOME))
    ranked = rule.ranking.dropna(subset=["rank"])
    other = ranked.loc[ranked["rank"] == 7, "unit_code"].iloc[0]
    fixed = replace(FACT22, comparators={OUTCOME: other})
    selection = select_comparator(prepare_outcome(panel, fixed, OUTCOME))
    assert selection.comparator == other
    chosen = selection.ranking[selection.ranking["selected"]]
    assert list(chosen["unit_code"]) == [other] and chosen["rank"].iloc[0] == 7
    assert set(selection.ranking["selection_rule"]) == {FIXED}
    assert set(rule.ranking["selection_rule"]) == {RULE}


def test_an_ineligible_fixed_comparator_is_refused_with_its_reason():
    panel = simulated_panel(n_units=10, seed=2)
    panel.loc[(panel["unit_code"] == "E99000003") & (panel["collection_year"] == 2012), OUTCOME] = np.nan
    study = replace(FACT22, comparators={OUTCOME: "E99000003"})
    with pytest.raises(ValueError, match="E99000003.*closures_per_10k missing or suppressed"):
        select_comparator(prepare_outcome(panel, study, OUTCOME))


def test_donors_exclude_other_studies_treated_and_listed_interventions():
    enfield = StudyEntry(replace(FACT22, study_id="other", treated_unit_code="E99000002", first_post_year=2014,
                                 pre_years=(2011, 2012, 2013), post_years=(2014, 2015)), "", "2021", "Other")
    illustration = StudyEntry(replace(FACT22, study_id="illus", treated_unit_code="E99000005"), "", "2021",
                              "Illustration", programme_ran=False)
    late = StudyEntry(replace(FACT22, study_id="late", treated_unit_code="E99000006", first_post_year=2021,
                              pre_years=(2018, 2019, 2020), post_years=(2021,)), "", "2021", "Late")
    early = StudyEntry(replace(FACT22, study_id="early", treated_unit_code="E99000008", first_post_year=2008,
                               pre_years=(2005, 2006, 2007), post_years=(2008, 2009, 2010)), "", "2021", "Early")
    main = StudyEntry(FACT22, "", "2021", "FACT22")
    known = [Intervention("E99000004", "Family Safeguarding", 2016, None, "an evaluation report"),
             Intervention("E99000007", "Old programme", 2005, 2009, "before the window")]
    excluded = donor_exclusions(main, [main, enfield, illustration, late, early], known)
    assert set(excluded) == {"E99000002", "E99000004"}
    assert excluded["E99000002"] == "treated in study other (Other) from 2013-14"
    assert "Family Safeguarding 2015-16 on" in excluded["E99000004"]
    panel = simulated_panel(n_units=10, seed=2)
    prepared = prepare_outcome(panel, FACT22, OUTCOME, exclusions=excluded)
    table = prepared.eligibility.set_index("unit_code")
    assert not table.loc["E99000002", "eligible"]
    assert table.loc["E99000002", "reason"].startswith("excluded: treated in study other")
    assert "E99000002" not in prepared.candidates and "E99000005" in prepared.candidates



def test_stability_is_ranked_once_for_studies_differing_only_in_name_or_fixed_comparators(monkeypatch):
    calls = []
    real = robustness.rank_all_pairs
    monkeypatch.setattr(robustness, "rank_all_pairs", lambda p, *a, **k: calls.append(p.study) or real(p, *a, **k))
    panel = PreparedPanel(simulated_panel(n_units=25, seed=6))

    def stability(study, panel):
        prepared = prepare_outcome(panel, study, OUTCOME)
        return robustness.leave_one_pre_year_out(prepared, select_comparator(prepared))

    first = stability(FACT22, panel)
    assert len(calls) == len(FACT22.pre_years)
    # Each pick is the ranking rule's (rank_comparators) on the design without that year.
    for year, pick in zip(first["left_out_year"], first["comparator_code"]):
        shorter = replace(FACT22, pre_years=tuple(y for y in FACT22.pre_years if y != year))
        assert pick == rank_comparators(prepare_outcome(panel, shorter, OUTCOME))["unit_code"].iloc[0]
    renamed = stability(replace(FACT22, study_id="fact22_again", comparators={OUTCOME: first["comparator_code"][0]}),
                        panel)
    assert len(calls) == len(FACT22.pre_years)  # served from the first study's picks
    pd.testing.assert_frame_equal(renamed.drop(columns=["study_id", "same_as_full"]),
                                  first.drop(columns=["study_id", "same_as_full"]))
    # Another design (the ranking's weights) or another panel object ranks again.
    stability(replace(FACT22, ranking=replace(FACT22.ranking, weight_level=0.9)), panel)
    assert len(calls) == 2 * len(FACT22.pre_years)
    stability(FACT22, PreparedPanel(simulated_panel(n_units=25, seed=6)))
    assert len(calls) == 3 * len(FACT22.pre_years)
