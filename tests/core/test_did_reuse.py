"""Which DiD job results may be reused: the digest of what a job reads, and the store of results by it."""
import pandas as pd
import pytest

from fact22_assets.core import did_reuse, result_store
from fact22_assets.core.did import FACT22
from fact22_assets.core.did.evaluation import evaluate_outcome
from fact22_assets.core.did.simulated_panel import simulated_panel

# FACT22's window is 2011-2019; the simulated panel runs 2009-2021, a year either side and then some.
YEARS = range(2009, 2022)
OUTCOME = FACT22.outcomes[0]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulated_panel(n_units=12, years=YEARS, seed=11)


def _changed(panel: pd.DataFrame, unit: str, year: int, column: str = OUTCOME) -> pd.DataFrame:
    changed = panel.copy()
    changed.loc[(changed.unit_code == unit) & (changed.collection_year == year), column] *= 1.01
    return changed


def _key(panel: pd.DataFrame, code: str = "code-a", study=FACT22) -> str:
    return did_reuse.job_key(code=code, libraries=did_reuse.library_versions(), study=study, outcome=OUTCOME,
                             estimators=["two_unit_did"], panel_slice=did_reuse.panel_slice_digest(
                                 panel, study.study_years),
                             neighbours=None, deprivation=None, exclusions={}, neighbours_by_unit=None)


def test_a_change_outside_the_window_keeps_the_key_and_the_estimates(panel):
    """The reuse rests on the estimators reading the study's years alone: a value outside them changes
    neither the key nor any estimate of any registered estimator."""
    donor = panel.unit_code.unique()[3]
    outside = _changed(_changed(panel, donor, 2021), FACT22.treated_unit_code, 2010, "cin_at_31_march")
    assert _key(outside) == _key(panel)
    before, after = evaluate_outcome(panel, FACT22, OUTCOME), evaluate_outcome(outside, FACT22, OUTCOME)
    assert before.keys() == after.keys()
    for mart in before:
        for old, new in zip(before[mart], after[mart], strict=True):
            pd.testing.assert_frame_equal(old, new, check_exact=True)


@pytest.mark.parametrize("change", ["value in the window", "covariate in the window", "unit renamed",
                                    "unit only outside the window", "code", "study"])
def test_what_a_job_reads_changes_its_key(panel, change):
    donor = panel.unit_code.unique()[3]
    changed, code, study = panel, "code-a", FACT22
    if change == "value in the window":
        changed = _changed(panel, donor, 2019)
    elif change == "covariate in the window":
        changed = _changed(panel, donor, 2011, "cin_at_31_march")
    elif change == "unit renamed":  # its name is in the eligibility table and the estimates' rows
        changed = panel.assign(unit_name=panel.unit_name.where(panel.unit_code != donor, "Renamed"))
    elif change == "unit only outside the window":  # listed in the eligibility table, never eligible
        extra = panel[panel.unit_code == donor].head(1).assign(unit_code="E99999999", collection_year=2021)
        changed = pd.concat([panel, extra], ignore_index=True)
    elif change == "code":
        code = "code-b"
    else:
        study = FACT22.__class__(**{**FACT22.__dict__, "covariate": None})
    assert _key(changed, code, study) != _key(panel)


def test_a_duplicated_unit_year_anywhere_is_never_reused(panel):
    assert did_reuse.reusable(panel)
    assert not did_reuse.reusable(pd.concat([panel, panel[panel.collection_year == 2021].head(1)]))


def test_the_store_gives_back_what_it_was_given_and_keeps_only_the_current_keys(tmp_path, panel):
    store = result_store.ResultStore(tmp_path / "did")
    assert store.get("a") is None
    store.put("a", {"marts": [panel]})
    store.put("b", 2)
    pd.testing.assert_frame_equal(store.get("a")["marts"][0], panel, check_exact=True)
    (tmp_path / "did" / "b.pkl").write_bytes(b"half a pickle")  # a damaged file is a miss, not an error
    assert store.get("b") is None
    (tmp_path / "did" / "c.pkl").write_bytes((tmp_path / "did" / "a.pkl").read_bytes())
    assert store.get("c") is None  # a file under another key's name is not that key's result
    store.keep_only(["a"])
    assert sorted(p.name for p in (tmp_path / "did").iterdir()) == ["a.pkl"]
