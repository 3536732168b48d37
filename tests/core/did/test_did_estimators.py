"""The estimator contract: every registered estimator declares its marts, methods and
cross-check, and the marts, assets and report labels are derived from the registry."""
import pandas as pd

from fact22_assets.core.did import ESTIMATORS, FACT22, evaluate_study
from fact22_assets.core.did.contract import DID_RESULTS_COLUMNS, RESULTS
from fact22_assets.core.did.estimators import MART_DESCRIPTIONS, mart_names, method_labels, select_comparator
from fact22_assets.core.did.prepared import PreparedPanel, prepare_outcome
from fact22_assets.core.did.simulated_panel import simulated_panel


def test_every_estimator_honours_the_contract():
    panel = simulated_panel(n_units=20, seed=3)
    prepared = prepare_outcome(panel, FACT22, "closures_per_10k")
    selection = select_comparator(prepared)
    for estimator in ESTIMATORS:
        assert estimator.name and estimator.cross_check.strip(), estimator
        assert set(estimator.marts) <= set(MART_DESCRIPTIONS), estimator.name
        out = estimator.estimate(prepared, selection)
        assert set(out) == set(estimator.marts), estimator.name
        if RESULTS in out:
            assert list(out[RESULTS].columns) == DID_RESULTS_COLUMNS
            assert set(out[RESULTS]["method"]) <= set(estimator.methods), estimator.name


def test_marts_and_labels_are_derived_from_the_registry():
    assert mart_names()[:2] == ["comparator_ranking", RESULTS]
    assert len(mart_names()) == len(set(mart_names()))
    assert method_labels()["ols_with_covariate"] == "OLS with CIN covariate (report's specification)"


def test_an_added_estimator_appears_in_every_derived_list():
    class Constant:
        name = "constant"
        marts = (RESULTS, "constant_detail")
        methods = {"constant": "A constant"}
        cross_check = "a constant needs none"

        def estimate(self, prepared, selection):
            row = {"study_id": prepared.study.study_id, "outcome": prepared.outcome, "method": "constant",
                   "estimate": 1.0}
            return {RESULTS: pd.DataFrame([row], columns=DID_RESULTS_COLUMNS),
                    "constant_detail": pd.DataFrame({"outcome": [prepared.outcome]})}

    registry = (*ESTIMATORS, Constant())
    assert mart_names(registry)[-1] == "constant_detail"
    assert method_labels(registry)["constant"] == "A constant"
    tables = evaluate_study(simulated_panel(n_units=15, seed=4), FACT22, estimators=registry)
    assert (tables[RESULTS]["method"] == "constant").sum() == len(FACT22.outcomes)
    assert len(tables["constant_detail"]) == len(FACT22.outcomes)


def test_each_panel_column_is_pivoted_once_per_study():
    panel = PreparedPanel(simulated_panel(n_units=15, seed=5))
    calls = []
    original = panel.frame.pivot

    def counting_pivot(*args, **kwargs):
        calls.append(kwargs.get("values"))
        return original(*args, **kwargs)

    panel.frame.pivot = counting_pivot
    evaluate_study(panel.frame, FACT22)  # a fresh PreparedPanel inside: pivots counted below
    calls.clear()
    for outcome in FACT22.outcomes:
        prepared = prepare_outcome(panel, FACT22, outcome)
        for estimator in ESTIMATORS:
            estimator.estimate(prepared, select_comparator(prepared))
    assert sorted(calls) == sorted(set(calls)), calls
