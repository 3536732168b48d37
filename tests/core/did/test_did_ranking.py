"""Eligibility reasons and the comparator ranking rule, on hand-worked panels."""

import numpy as np
import pandas as pd
import pytest

from fact22_assets.core.did import FACT22, rank_comparators, selected_comparator
from fact22_assets.core.did.prepared import prepare_outcome
from fact22_assets.core.did.simulated_panel import simulated_panel

YEARS = list(FACT22.study_years)
CENTRED = np.arange(len(YEARS)) - 2.0  # pre years 2011..2015 centred on 2013
# Orthogonal to a constant and to the centred pre years, so it moves no slope or mean,
# but leaves residual variance for the pre-trend test.
WIGGLE = np.array([1.0, -1.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, 0.0])


def panel_of(series: dict[str, np.ndarray], overrides: dict | None = None) -> pd.DataFrame:
    """One consistent row per unit and study year; overrides: (unit, year, column) -> value."""
    frames = []
    for unit, values in series.items():
        frame = pd.DataFrame(
            {
                "unit_code": unit,
                "unit_name": f"Authority {unit}",
                "collection_year": YEARS,
                "panel_status": "consistent",
                "closures_per_10k": values,
                "cin_at_31_march": 1000.0 + 10 * np.arange(len(YEARS)),
                "population_all_ages": 300_000.0,
                "cin_per_10k_children": 320.0,
            }
        )
        frames.append(frame)
    panel = pd.concat(frames, ignore_index=True)
    for (unit, year, column), value in (overrides or {}).items():
        panel.loc[(panel["unit_code"] == unit) & (panel["collection_year"] == year), column] = value
    return panel


def hand_ranked_panel() -> pd.DataFrame:
    treated = 100 + 2 * CENTRED + WIGGLE
    return panel_of(
        {
            FACT22.treated_unit_code: treated,
            "A": treated + 2 + 0.3 * CENTRED,  # level +2, slope +0.3
            "B": treated + 8,  # level +8, parallel
            "C": treated + 1 + 0.6 * CENTRED,  # level +1, slope +0.6
            "D": treated + 5 * CENTRED,  # same level, diverging
        }
    )


def test_ranking_follows_the_documented_rule_worked_by_hand():
    ranking = rank_comparators(prepare_outcome(hand_ranked_panel(), FACT22, "closures_per_10k"))
    ranking = ranking.set_index("unit_code").loc[list("ABCD")]
    # Slopes (treated minus candidate) and their SE: RSS = 2 * 4 over 6 df, Stt = 10.
    np.testing.assert_allclose(ranking["differential_slope"], [-0.3, 0, -0.6, -5], atol=1e-12)
    np.testing.assert_allclose(ranking["differential_slope_se"], np.sqrt(8 / 6 * 2 / 10), atol=1e-12)
    assert ranking["passes_pretrend"].tolist() == [True, True, True, False]  # D: t = -9.7
    # Every gap is an exact straight line: no deviation, so the gap-noise
    # percentiles tie at 2.5 / 4 and the trend score is the mean of that and
    # the |slope| percentile (B 0 < A < C < D). |level| D 0 < C 1 < A 2 < B 8
    # give percentiles of 4; identical demography ties every candidate at 2.5 / 4.
    np.testing.assert_allclose(ranking["pre_gap_rmse"], 0, atol=1e-12)
    expected = {
        "A": 0.5 * (0.50 + 0.625) / 2 + 0.3 * 0.75 + 0.2 * 0.625,
        "B": 0.5 * (0.25 + 0.625) / 2 + 0.3 * 1.00 + 0.2 * 0.625,
        "C": 0.5 * (0.75 + 0.625) / 2 + 0.3 * 0.50 + 0.2 * 0.625,
        "D": 0.5 * (1.00 + 0.625) / 2 + 0.3 * 0.25 + 0.2 * 0.625,
    }
    np.testing.assert_allclose(ranking["composite_score"], list(expected.values()))
    # D fails the pre-trend gate and goes last whatever its score; among the
    # rest C (0.61875) < A (0.63125) < B (0.64375).
    assert ranking.sort_values("rank").index.tolist() == ["C", "A", "B", "D"]
    assert ranking.loc["C", "selected"] and ranking["selected"].sum() == 1


def test_optional_demography_inputs_enter_the_score_when_given():
    neighbours = pd.DataFrame({"unit_code": ["C", "A"], "neighbour_rank": [1, 2]})
    deprivation = pd.DataFrame({"unit_code": list("ABC"), "imd_average_score": [20.0, 30.0, 21.0]})
    ranking = rank_comparators(prepare_outcome(hand_ranked_panel(), FACT22, "closures_per_10k", neighbours, deprivation))
    ranking = ranking.set_index("unit_code").loc[list("ABCD")]
    # Non-neighbours B and D tie behind the listed ones: (3 + 4) / 2 / 4.
    np.testing.assert_allclose(ranking["pct_statistical_neighbour"], [0.5, 0.875, 0.25, 0.875])
    # The treated unit has no IMD score, so deprivation is left out for everyone.
    assert ranking["pct_deprivation"].isna().all()
    np.testing.assert_allclose(
        ranking["demography_score"],
        np.mean([[0.625] * 4, [0.625] * 4, [0.5, 0.875, 0.25, 0.875]], axis=0),
    )


def test_missing_deprivation_for_a_candidate_ranks_it_last_on_that_component():
    deprivation = pd.DataFrame(
        {
            "unit_code": [FACT22.treated_unit_code, "A", "B", "C"],
            "imd_average_score": [25.0, 20.0, 30.0, 24.0],
        }
    )
    ranking = rank_comparators(prepare_outcome(hand_ranked_panel(), FACT22, "closures_per_10k", deprivation=deprivation))
    # Distances: A 5, B 5, C 1, D missing.
    pct = ranking.set_index("unit_code").loc[list("ABCD"), "pct_deprivation"]
    np.testing.assert_allclose(pct, [0.625, 0.625, 0.25, 1.0])


def test_ineligible_units_are_listed_with_their_reasons():
    treated = 100 + 2 * CENTRED + WIGGLE
    series = {FACT22.treated_unit_code: treated, "OK": treated + 1}
    series |= {"GAP": treated, "EDGE": treated, "SHORT": treated}
    panel = panel_of(
        series,
        {
            ("GAP", 2013, "closures_per_10k"): np.nan,
            ("GAP", 2018, "cin_at_31_march"): np.nan,
            ("EDGE", 2015, "panel_status"): "boundary change 2019: merged into E06000058",
        },
    )
    panel = panel[~((panel["unit_code"] == "SHORT") & (panel["collection_year"] == 2017))]
    reasons = prepare_outcome(panel, FACT22, "closures_per_10k").eligibility.set_index("unit_code")["reason"]
    assert reasons["OK"] is None
    assert reasons[FACT22.treated_unit_code] == "treated unit"
    assert reasons["GAP"] == (
        "closures_per_10k missing or suppressed in pre-period [2013]; "
        "cin_at_31_march missing or suppressed in post-period [2018]"
    )
    assert reasons["EDGE"] == "broken series: boundary change 2019: merged into E06000058"
    assert reasons["SHORT"] == "no row for post-period [2017]"

    ranking = rank_comparators(prepare_outcome(panel, FACT22, "closures_per_10k"))
    assert ranking["unit_code"].tolist() == ["OK", "EDGE", "GAP", "SHORT"]
    assert ranking["rank"].isna().tolist() == [False, True, True, True]
    assert ranking.loc[ranking["unit_code"] == "GAP", "ineligible_reason"].item() == reasons["GAP"]


def test_a_treated_unit_with_a_gap_stops_the_ranking():
    treated = 100 + 2 * CENTRED + WIGGLE
    gap = {(FACT22.treated_unit_code, 2012, "closures_per_10k"): np.nan}
    panel = panel_of({FACT22.treated_unit_code: treated, "OK": treated}, gap)
    message = "treated unit E06000049 cannot be analysed: closures_per_10k missing"
    with pytest.raises(ValueError, match=message):
        rank_comparators(prepare_outcome(panel, FACT22, "closures_per_10k"))


def test_no_eligible_comparator_is_reported():
    treated = 100 + 2 * CENTRED + WIGGLE
    gap = {("GAP", 2012, "closures_per_10k"): np.nan}
    panel = panel_of({FACT22.treated_unit_code: treated, "GAP": treated}, gap)
    with pytest.raises(ValueError, match="no eligible comparator for closures_per_10k"):
        selected_comparator(rank_comparators(prepare_outcome(panel, FACT22, "closures_per_10k")))


@pytest.mark.parametrize("seed", [0, 1])
def test_a_diverging_lookalike_ranks_behind_every_parallel_candidate(seed):
    panel = simulated_panel(n_units=40, trend_sd=0.0, noise_sd=2.0, seed=seed)
    treated = panel[panel["unit_code"] == FACT22.treated_unit_code]
    # Same level, population and CIN as the treated unit, but a slope of 6 per year of its own.
    lookalike = treated.assign(
        unit_code="E99999999",
        unit_name="Diverging lookalike",
        closures_per_10k=treated["closures_per_10k"] + 6.0 * (treated["collection_year"] - 2013),
    )
    ranking = rank_comparators(prepare_outcome(pd.concat([panel, lookalike]), FACT22, "closures_per_10k"))
    row = ranking.set_index("unit_code").loc["E99999999"]
    assert not row["passes_pretrend"]
    assert not row["selected"]
    assert row["rank"] > ranking["passes_pretrend"].sum()
    assert row["pct_level"] < 0.1  # it would have won on level alone


def test_a_steady_parallel_candidate_beats_a_volatile_one_with_a_flat_slope():
    treated = 100 + 2 * CENTRED + WIGGLE
    # Both share the treated trend and level; "V" swings +-15 around it with
    # no net slope (so its slope difference is as flat as "S"'s).
    swings = np.array([15.0, -15.0, 0.0, -15.0, 15.0, 0.0, 0.0, 0.0, 0.0])
    panel = panel_of({FACT22.treated_unit_code: treated, "S": treated + 1 + 0.05 * CENTRED,
                      "V": treated + 1 + swings})
    ranking = rank_comparators(prepare_outcome(panel, FACT22, "closures_per_10k")).set_index("unit_code")
    # By hand: the gap of S is a straight line (deviation 0); V's gap deviates
    # by the swings themselves: sqrt((4 * 15^2) / 5).
    np.testing.assert_allclose(ranking.loc["S", "pre_gap_rmse"], 0, atol=1e-12)
    np.testing.assert_allclose(ranking.loc["V", "pre_gap_rmse"], np.sqrt(4 * 225 / 5))
    assert ranking.loc["S", "passes_pretrend"] and ranking.loc["V", "passes_pretrend"]
    assert ranking.loc["S", "selected"] and ranking.loc["V", "rank"] == 2
