"""Selection-aware placebo-in-space against the loop it replaces.

The independent answer for every pick is `rank_comparators` itself: a study
with the pseudo-treated unit as treated, its own statistical neighbours,
and the real treated unit removed from the panel (it is never a comparator).
"""

from dataclasses import replace

import duckdb
import numpy as np
import pandas as pd
import pytest

from fact22_assets.core.did import (
    ESTIMATORS,
    FACT22,
    RankingRule,
    did_estimates,
    evaluate_study,
    placebo_in_space,
    rank_comparators,
)
from fact22_assets.core.did.estimation import main_method
from fact22_assets.core.did.estimators import select_comparator
from fact22_assets.core.did.prepared import prepare_outcome
from fact22_assets.core.did.selection_placebo import (
    INFERENCE_COLUMNS,
    PICK_COLUMNS,
    SelectionAwarePlacebo,
    _nearest_in_level,
    rank_all_pairs,
    selection_aware_placebo,
)
from fact22_assets.core.did.simulated_panel import simulated_panel
from fact22_assets.settings import REPO_ROOT

OUTCOME = "closures_per_10k"
TREATED = FACT22.treated_unit_code
YEARS = list(FACT22.study_years)
CENTRED = np.arange(len(YEARS)) - 2.0
WIGGLE = np.array([1.0, -1.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, 0.0])


def loop_ranking(panel, study, unit, neighbours_by_unit=None, deprivation=None):
    """rank_comparators with `unit` as the treated unit, as the existing code would run it."""
    if unit != study.treated_unit_code:
        panel = panel[panel["unit_code"] != study.treated_unit_code]
    neighbours = None
    if neighbours_by_unit is not None:
        own = neighbours_by_unit[neighbours_by_unit["unit_code"] == unit]
        neighbours = own[["neighbour_code", "neighbour_rank"]].rename(columns={"neighbour_code": "unit_code"})
    prepared = prepare_outcome(panel, replace(study, treated_unit_code=unit), OUTCOME, neighbours, deprivation)
    return rank_comparators(prepared)


def assert_picks_match_the_loop(panel, units, neighbours_by_unit=None, deprivation=None, study=FACT22):
    prepared = prepare_outcome(panel, study, OUTCOME, deprivation=deprivation)
    picks = rank_all_pairs(prepared, units, prepared.candidates, neighbours_by_unit).set_index("unit_code")
    for unit in units:
        first = loop_ranking(panel, study, unit, neighbours_by_unit, deprivation).iloc[0]
        got = picks.loc[unit]
        assert got["comparator_code"] == first["unit_code"], unit
        np.testing.assert_allclose(got["composite_score"], first["composite_score"], rtol=1e-12)
        assert got["passes_pretrend"] == first["passes_pretrend"], unit
        np.testing.assert_allclose(got["differential_slope"], first["differential_slope"], atol=1e-10)
        np.testing.assert_allclose(got["differential_slope_p"], first["differential_slope_p"], rtol=1e-9)
        np.testing.assert_allclose(got["pre_gap_rmse"], first["pre_gap_rmse"], atol=1e-9)
        np.testing.assert_allclose(got["level_difference"], first["level_difference"], atol=1e-10)
    return picks


def random_context(panel, seed):
    """IMD scores for every unit and ten statistical neighbours for most units."""
    rng = np.random.default_rng(seed)
    codes = sorted(panel["unit_code"].unique())
    deprivation = pd.DataFrame({"unit_code": codes, "imd_average_score": rng.normal(25, 6, len(codes))})
    rows = []
    for unit in codes[:-3]:  # the last three have no list
        others = [c for c in codes if c != unit]
        rows += [(unit, code, rank) for rank, code in enumerate(rng.choice(others, 10, replace=False), start=1)]
    return deprivation, pd.DataFrame(rows, columns=["unit_code", "neighbour_code", "neighbour_rank"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_pick_on_a_simulated_panel_equals_the_ranking_loop(seed):
    panel = simulated_panel(n_units=30, seed=seed)
    deprivation, neighbours = random_context(panel, seed)
    units = sorted(panel["unit_code"].unique())  # the treated unit and every placebo
    assert_picks_match_the_loop(panel, units, neighbours, deprivation)


def test_picks_without_any_demographic_input_equal_the_loop():
    panel = simulated_panel(n_units=25, seed=7).drop(columns=["population_all_ages", "cin_per_10k_children"])
    assert_picks_match_the_loop(panel, sorted(panel["unit_code"].unique()))


def panel_of(series: dict[str, np.ndarray], population: dict[str, float], cin_rate: dict[str, float]):
    frames = [
        pd.DataFrame(
            {
                "unit_code": unit,
                "unit_name": f"Authority {unit}",
                "collection_year": YEARS,
                "panel_status": "consistent",
                OUTCOME: values,
                "cin_at_31_march": 1000.0 + 10 * np.arange(len(YEARS)) + 3 * k * WIGGLE,
                "population_all_ages": population.get(unit, np.nan),
                "cin_per_10k_children": cin_rate.get(unit, np.nan),
            }
        )
        for k, (unit, values) in enumerate(series.items())
    ]
    return pd.concat(frames, ignore_index=True)


def hand_made_panel():
    """Exact-line gaps (gap noise ties at 0), a duplicated unit, a diverging one, and gaps in demography."""
    treated = 100 + 2 * CENTRED + WIGGLE
    series = {
        TREATED: treated,
        "A": treated + 2 + 0.3 * CENTRED,
        "B": treated + 8,
        "C": treated + 1 + 0.6 * CENTRED,
        "D": treated + 5 * CENTRED,  # fails every pre-trend gate it meets
        "E": treated + 1 + 0.6 * CENTRED,  # C's series, other demography
        "F": treated - 3 + 0.1 * CENTRED - WIGGLE,  # the only series with its own noise
        "G": treated + 2 + 0.3 * CENTRED,  # A's twin in everything: the two tie, and A wins on unit_code
    }
    population = {TREATED: 380_000.0, "A": 300_000.0, "B": 150_000.0, "C": 400_000.0, "E": 400_000.0,
                  "F": 90_000.0, "G": 300_000.0}  # D has no population
    cin_rate = {TREATED: 320.0, "A": 300.0, "B": 320.0, "D": 410.0, "E": 350.0, "F": 280.0,
                "G": 300.0}  # C has none
    deprivation = pd.DataFrame({"unit_code": [TREATED, "A", "B", "D", "F", "G"],  # C, E have no IMD score
                                "imd_average_score": [20.0, 25.0, 15.0, 21.0, 30.0, 25.0]})
    neighbours = pd.DataFrame(
        [(TREATED, "C", 1), (TREATED, "B", 2), ("A", "B", 1), ("A", "E", 2), ("A", "C", 3),
         ("C", "E", 1), ("C", TREATED, 2), ("F", "D", 1)],  # B, D, E, G have no list; none lists A or G
        columns=["unit_code", "neighbour_code", "neighbour_rank"],
    )
    return panel_of(series, population, cin_rate), neighbours, deprivation


def test_hand_made_panel_with_ties_and_missing_demography_equals_the_loop():
    panel, neighbours, deprivation = hand_made_panel()
    units = [TREATED, *"ABCDEFG"]
    picks = assert_picks_match_the_loop(panel, units, neighbours, deprivation)
    # For the treated unit A, C and G tie right behind B (A and G are twins): unit_code orders them.
    ranking = loop_ranking(panel, FACT22, TREATED, neighbours, deprivation).set_index("unit_code")
    assert ranking.loc[list("ACG"), "composite_score"].nunique() == 1
    assert ranking.loc[list("BACG"), "rank"].tolist() == [1, 2, 3, 4]
    assert picks.loc[TREATED, "comparator_code"] == "B"
    assert picks.loc["A", "comparator_code"] == "G" and picks.loc["G", "comparator_code"] == "A"
    # D diverges from everyone; some rows pass no candidate through the gate.
    assert not picks.loc["D", "passes_pretrend"]
    assert picks.loc[TREATED, "n_candidates"] == 7 and picks.loc["A", "n_candidates"] == 6
    assert picks["max_candidates"].isna().all()


def test_a_unit_without_deprivation_or_neighbours_ranks_on_the_rest():
    panel, neighbours, deprivation = hand_made_panel()
    # C has no IMD score and its own list; E has neither: both must still match the loop.
    assert_picks_match_the_loop(panel, ["C", "E"], neighbours, deprivation)
    # And with no table of neighbours by unit, the treated unit falls back to the prepared outcome's list.
    own = neighbours[neighbours["unit_code"] == TREATED][["neighbour_code", "neighbour_rank"]]
    prepared = prepare_outcome(panel, FACT22, OUTCOME, own.rename(columns={"neighbour_code": "unit_code"}),
                               deprivation)
    pick = rank_all_pairs(prepared, [TREATED], prepared.candidates).iloc[0]
    assert pick["comparator_code"] == select_comparator(prepared).comparator


def test_the_cap_ranks_each_unit_among_its_nearest_candidates_in_level():
    panel = simulated_panel(n_units=30, seed=4)
    prepared = prepare_outcome(panel, FACT22, OUTCOME)
    units = [TREATED, *prepared.candidates]
    full = rank_all_pairs(prepared, units, prepared.candidates)
    uncapped = rank_all_pairs(prepared, units, prepared.candidates, max_candidates=len(prepared.candidates))
    pd.testing.assert_frame_equal(full, uncapped)

    cap = 8
    capped = rank_all_pairs(prepared, units, prepared.candidates, max_candidates=cap).set_index("unit_code")
    assert (capped["n_candidates"] == cap).all() and (capped["max_candidates"] == cap).all()
    pre_mean = panel[panel["collection_year"].isin(FACT22.pre_years)].groupby("unit_code")[OUTCOME].mean()
    for unit in [TREATED, *prepared.candidates[:6]]:
        distance = (pre_mean.drop([unit, TREATED], errors="ignore") - pre_mean[unit]).abs()
        nearest = distance.reset_index().sort_values([OUTCOME, "unit_code"])["unit_code"][:cap].tolist()
        first = loop_ranking(panel[panel["unit_code"].isin([unit, *nearest])], FACT22, unit).iloc[0]
        assert capped.loc[unit, "comparator_code"] == first["unit_code"], unit
        np.testing.assert_allclose(capped.loc[unit, "composite_score"], first["composite_score"], rtol=1e-12)


def test_a_bad_cap_or_a_repeated_neighbour_is_refused():
    panel, neighbours, _ = hand_made_panel()
    prepared = prepare_outcome(panel, FACT22, OUTCOME)
    with pytest.raises(ValueError, match="max_candidates"):
        rank_all_pairs(prepared, [TREATED], prepared.candidates, max_candidates=0)
    with pytest.raises(ValueError, match="more than once"):
        rank_all_pairs(prepared, [TREATED], prepared.candidates, pd.concat([neighbours, neighbours.head(1)]))


def test_a_planted_effect_gets_the_smallest_possible_p_value():
    panel = simulated_panel(n_units=40, effect=25, trend_sd=0, seed=0)
    prepared = prepare_outcome(panel, FACT22, OUTCOME)
    selection = select_comparator(prepared)
    result = selection_aware_placebo(prepared, selection)
    assert result.n_placebos == len(prepared.candidates) == 40
    assert result.p_value == pytest.approx(1 / 41)
    assert result.table["at_least_as_extreme"].tolist() == [True] + [False] * 40
    assert result.treated_rule_pick == selection.comparator
    assert result.n_distinct_comparators > 1

    table = result.table
    assert table.columns[:13].tolist() == placebo_in_space(prepared, selection.comparator).table.columns.tolist()
    assert table["comparator_code"].iloc[0] == selection.comparator
    assert (table["comparator_code"] != table["unit_code"]).all()
    assert TREATED not in set(table["comparator_code"].iloc[1:])
    main = did_estimates(prepared, selection.comparator).set_index("method").loc[main_method(FACT22)]
    np.testing.assert_allclose(result.actual_estimate, main["estimate"], rtol=1e-9)
    np.testing.assert_allclose(table["se_classical"].iloc[0], main["se_classical"], rtol=1e-9)


def test_each_placebo_row_is_the_report_estimate_against_its_own_pick():
    panel = simulated_panel(n_units=25, seed=5)
    prepared = prepare_outcome(panel, FACT22, OUTCOME)
    table = selection_aware_placebo(prepared, select_comparator(prepared)).table.set_index("unit_code")
    without_treated = panel[panel["unit_code"] != TREATED]
    for unit in prepared.candidates[:4]:
        study = replace(FACT22, treated_unit_code=unit)
        placebo = prepare_outcome(without_treated, study, OUTCOME)
        pick = select_comparator(placebo).comparator
        assert table.loc[unit, "comparator_code"] == pick
        expected = did_estimates(placebo, pick).set_index("method").loc[main_method(study), "estimate"]
        np.testing.assert_allclose(table.loc[unit, "estimate"], expected, rtol=1e-9)


def test_without_an_effect_the_p_value_is_not_small():
    p_values = []
    for seed in range(10):
        prepared = prepare_outcome(simulated_panel(n_units=40, effect=0, seed=seed), FACT22, OUTCOME)
        p_values.append(selection_aware_placebo(prepared, select_comparator(prepared)).p_value)
    # Under no effect p is roughly uniform: one in ten below 0.1 is chance (seed 1 gives 0.049).
    assert sum(p < 0.1 for p in p_values) <= 2
    assert 0.3 < np.median(p_values) < 0.9


def test_without_a_covariate_the_plain_ols_is_used():
    study = replace(FACT22, covariate=None)
    panel = simulated_panel(n_units=20, seed=6)
    prepared = prepare_outcome(panel, study, OUTCOME)
    selection = select_comparator(prepared)
    result = selection_aware_placebo(prepared, selection)
    assert result.table["covariate_coefficient"].isna().all()
    main = did_estimates(prepared, selection.comparator).set_index("method").loc[main_method(study)]
    np.testing.assert_allclose(result.actual_estimate, main["estimate"], rtol=1e-9)


def test_the_estimator_reports_both_p_values_and_is_registered():
    panel = simulated_panel(n_units=30, seed=3)
    deprivation, neighbours = random_context(panel, 3)
    own = neighbours[neighbours["unit_code"] == TREATED][["neighbour_code", "neighbour_rank"]]
    prepared = prepare_outcome(panel, FACT22, OUTCOME, own.rename(columns={"neighbour_code": "unit_code"}),
                               deprivation)
    selection = select_comparator(prepared)
    estimator = SelectionAwarePlacebo(neighbours_by_unit=neighbours, max_candidates=12)
    assert estimator.name and estimator.cross_check.strip() and not estimator.methods
    assert sum(type(e) is SelectionAwarePlacebo for e in ESTIMATORS) == 1

    out = estimator.estimate(prepared, selection)
    assert set(out) == set(estimator.marts)
    row = out["did_inference"].iloc[0]
    assert list(out["did_inference"].columns) == INFERENCE_COLUMNS and len(out["did_inference"]) == 1
    fixed = placebo_in_space(prepared, selection.comparator)
    assert row["fixed_comparator_p_value"] == fixed.p_value and row["n_placebos_fixed"] == fixed.n_placebos
    reselected = selection_aware_placebo(prepared, selection, neighbours, max_candidates=12)
    assert row["reselected_p_value"] == reselected.p_value
    assert row["n_placebos_reselected"] == 30 and row["max_candidates"] == 12
    assert row["method"] == "ols_with_covariate" and row["headline_inference"] == "reselected"
    assert row["headline_reason"].strip()
    table = out["did_placebo_space_reselected"]
    assert (table["max_candidates"] == 12).all()
    assert table["inference"].str.contains("12 candidates nearest").all()


def test_pick_table_columns():
    panel, neighbours, deprivation = hand_made_panel()
    prepared = prepare_outcome(panel, FACT22, OUTCOME)
    assert rank_all_pairs(prepared, [TREATED, "A"], prepared.candidates, neighbours).columns.tolist() == PICK_COLUMNS


def test_a_placebo_with_no_candidate_left_has_no_pick_and_no_estimate():
    panel = simulated_panel(n_units=1, seed=0)
    prepared = prepare_outcome(panel, FACT22, OUTCOME)
    result = selection_aware_placebo(prepared, select_comparator(prepared))
    placebo = result.table.iloc[1]
    assert placebo["comparator_code"] is None and np.isnan(placebo["estimate"])
    assert result.n_placebos == 0 and result.p_value == 1.0


@pytest.mark.parametrize(
    "rule",
    [
        RankingRule(pretrend_alpha=0.4, weight_trend=0.2, weight_level=0.0, weight_demography=0.8),
        # Only demography counts and there is none: every composite is NaN, so the gate and unit_code decide.
        RankingRule(weight_trend=0.0, weight_level=0.0, weight_demography=1.0),
    ],
)
def test_other_ranking_settings_are_followed(rule):
    study = replace(FACT22, ranking=rule)
    panel = simulated_panel(n_units=20, seed=8)
    if rule.weight_trend == 0:
        panel = panel.drop(columns=["population_all_ages", "cin_per_10k_children"])
    units = sorted(panel["unit_code"].unique(), reverse=True)  # any order in, the same order out
    picks = assert_picks_match_the_loop(panel, units, study=study)
    assert picks.index.tolist() == units
    if rule.weight_trend == 0:
        assert picks["composite_score"].isna().all()


@pytest.mark.parametrize("seed", range(4))
def test_the_nearest_candidates_in_level_match_a_full_sort_even_with_tied_levels(seed):
    rng = np.random.default_rng(seed)
    n, cap = 60, int(rng.integers(1, 12))
    mean_c = rng.integers(0, 15, n).astype(float)  # many exact ties in level
    mean_i = np.concatenate([mean_c[:20], rng.integers(-2, 17, 5).astype(float)])
    self_column = np.concatenate([np.arange(20), np.full(5, -1)])  # 20 candidates, 5 outsiders
    got = _nearest_in_level(mean_i, mean_c, self_column, cap)
    for row in range(mean_i.size):
        others = [c for c in range(n) if c != self_column[row]]
        expected = sorted(sorted(others, key=lambda c: (abs(mean_c[c] - mean_i[row]), c))[:cap])
        assert got[row].tolist() == expected, row


def test_the_neighbours_by_unit_query_gives_each_authority_its_own_list_once():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA raw")
    con.execute("CREATE TABLE marts.cin_rates AS SELECT * FROM (VALUES ('1', 'U1', 'Local authority'), "
                "('2', 'U2', 'Local authority'), ('3', 'U3', 'Local authority'), ('4', 'U3', 'Local authority'), "
                "('9', 'R9', 'Region')) AS t(old_la_code, panel_unit_code, geographic_level)")
    con.execute("CREATE TABLE raw.statistical_neighbours AS SELECT * FROM (VALUES "
                "('2021', '1', 1, '3', false), ('2021', '1', 2, '4', false), ('2021', '1', 3, '2', false), "
                "('2021', '2', 1, '1', false), ('2021', '3', 1, '4', false), ('2021', '3', 2, '1', false), "
                "('2021', '2', 2, '3', true), ('2025', '1', 1, '2', false)) "
                "AS t(model, old_la_code, neighbour_rank, neighbour_old_la_code, predecessor_authority)")
    sql = (REPO_ROOT / "sql" / "did" / "neighbours_by_unit.sql").read_text(encoding="utf-8")
    table = con.execute(sql, {"model": "2021"}).df()
    # U3 stands for old codes 3 and 4: listed once for U1 at its best rank, never as its own neighbour.
    assert list(table.itertuples(index=False, name=None)) == [
        ("U1", "U3", 1), ("U1", "U2", 3), ("U2", "U1", 1), ("U3", "U1", 2),
    ]


def test_the_registered_estimator_runs_inside_evaluate_study():
    tables = evaluate_study(simulated_panel(n_units=15, seed=4), FACT22)
    inference = tables["did_inference"]
    assert inference["outcome"].tolist() == list(FACT22.outcomes)
    assert inference["treated_pick_reproduced"].all()
    comparators = tables["did_results"].drop_duplicates("outcome").set_index("outcome")["comparator_code"]
    assert inference.set_index("outcome")["comparator_code"].equals(comparators.rename("comparator_code"))
    assert len(tables["did_placebo_space_reselected"]) == len(FACT22.outcomes) * 16
