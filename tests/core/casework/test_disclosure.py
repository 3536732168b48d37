"""The disclosure attack and secondary suppression on tiny hand-made marts."""
import numpy as np
import pandas as pd
import pytest

from fact22_assets.core.casework.disclosure import attack, protect, relations

C = "c"


def service(crewe=300, macclesfield=76, unknown=4, hold=("Unknown",), shares=True) -> pd.DataFrame:
    total = crewe + macclesfield + unknown
    frame = pd.DataFrame({
        "measure": ["location"] * 3, "category": ["Crewe", "Macclesfield", "Unknown"],
        "n_families": pd.array([crewe, macclesfield, unknown], dtype="Int64"),
        "n_families_status": pd.array([None] * 3, dtype="string"),
        "n_total": pd.array([total] * 3, dtype="Int64"), "n_total_status": pd.array([None] * 3, dtype="string"),
        "share": [crewe / total, macclesfield / total, unknown / total] if shares else [np.nan] * 3,
    })
    for category in hold:
        row = frame.index[frame["category"] == category][0]
        frame.loc[row, "n_families"] = pd.NA
        frame.loc[row, "n_families_status"] = C
    return frame


def trial(n_cec_itt=44, n_cec_excl=39, events=4) -> pd.DataFrame:
    return pd.DataFrame({
        "analysis": ["itt", "excluding_contaminated"], "outcome": ["escalated"] * 2,
        "n_cases": pd.array([84 + n_cec_itt, 84 + n_cec_excl], dtype="Int64"),
        "n_cases_status": pd.array([None, None], dtype="string"),
        "n_fact22": pd.array([84, 84], dtype="Int64"), "n_fact22_status": pd.array([None, None], dtype="string"),
        "n_cec": pd.array([n_cec_itt, n_cec_excl], dtype="Int64"), "n_cec_status": pd.array([None, None], dtype="string"),
        "events_fact22": pd.array([pd.NA, pd.NA], dtype="Int64"), "events_fact22_status": pd.array([C, C], dtype="string"),
        "events_cec": pd.array([0, 0], dtype="Int64"), "events_cec_status": pd.array([None, None], dtype="string"),
        "fact22_rate_observed": [events / 84] * 2, "cec_rate_observed": [0.0, 0.0],
    })


def routes(findings: pd.DataFrame) -> set[tuple[str, str, str, bool]]:
    return set(zip(findings["row"], findings["column"], findings["route"], findings["small"], strict=True))


def test_a_share_beside_its_denominator_gives_the_count_back():
    findings = attack({"marts.service_summary": service()})
    assert routes(findings) == {("measure=location, category=Unknown", "n_families", "share x n_total", True)}


def test_totals_minus_parts_recover_a_lone_withheld_cell():
    findings = attack({"marts.service_summary": service(shares=False)})
    assert routes(findings) == {("measure=location, category=Unknown", "n_families",
                                 "totals minus parts: the locations add to the families", True)}


def test_two_withheld_cells_of_one_sum_are_safe_without_shares():
    assert attack({"marts.service_summary": service(hold=("Macclesfield", "Unknown"), shares=False)}).empty


def test_a_recovered_secondary_cell_gives_the_primary_one_back():
    # Macclesfield's share gives 76; the sum then gives Unknown's 4, even with Unknown's share removed.
    frame = service(hold=("Macclesfield", "Unknown"))
    frame.loc[2, "share"] = np.nan
    found = routes(attack({"marts.service_summary": frame}))
    assert ("measure=location, category=Macclesfield", "n_families", "share x n_total", False) in found
    assert ("measure=location, category=Unknown", "n_families",
            "totals minus parts: the locations add to the families", True) in found


def test_differences_between_nested_rows_and_rates_of_withheld_counts():
    found = routes(attack({"marts.rct_results": trial()}))
    assert ("analysis=itt, outcome=escalated", "events_fact22", "fact22_rate_observed x n_fact22", True) in found
    assert ("analysis=excluding_contaminated, outcome=escalated", "n_cec", "difference from the itt row", True) in found
    assert ("analysis=excluding_contaminated, outcome=escalated", "n_cases", "difference from the itt row",
            True) in found
    # a difference of 6 is not a small count
    assert not any(r[2].startswith("difference") for r in routes(attack({"marts.rct_results": trial(n_cec_excl=38)})))


def test_an_undocumented_share_is_caught_too():
    frame = trial().iloc[:1].assign(fact22_rate_observed=np.nan, some_rate=3 / 84)
    found = routes(attack({"marts.rct_results": frame}))
    assert ("analysis=itt, outcome=escalated", "some_rate", "some_rate x n_fact22 is a whole number from 1 to 5",
            True) in found


def test_relations_a_reader_can_write_down():
    whys = {r.why for r in relations({"marts.service_summary": service(), "marts.rct_results": trial()})}
    assert {"n_cases = n_fact22 + n_cec", "the locations add to the families", "one total on every row"} <= whys


def _keep(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


@pytest.mark.parametrize(("table", "frame"), [("marts.service_summary", service()),
                                              ("marts.service_summary", service(shares=False)),
                                              ("marts.rct_results", trial())])
def test_protect_withholds_until_the_attack_finds_nothing(table, frame):
    protected = protect(table, frame, _keep)
    assert attack({table: protected}).empty
    assert not attack({table: frame}).empty


def test_protect_withholds_the_share_and_the_smallest_partner():
    protected = protect("marts.service_summary", service(shares=False), _keep).set_index("category")
    # Unknown (4) was withheld; Macclesfield (76), the smallest other part, joins it; Crewe stays.
    assert list(protected["n_families_status"].fillna("")) == ["", C, C]
    assert protected.loc["Crewe", "n_families"] == 300
    with_shares = protect("marts.service_summary", service(), _keep).set_index("category")
    assert pd.isna(with_shares.loc["Unknown", "share"]) and pd.isna(with_shares.loc["Macclesfield", "share"])
    assert with_shares.loc["Crewe", "share"] == pytest.approx(300 / 380)


def test_protect_withholds_the_smaller_nested_row():
    protected = protect("marts.rct_results", trial(), _keep).set_index("analysis")
    assert protected.loc["excluding_contaminated", "n_cec_status"] == C
    assert protected.loc["excluding_contaminated", "n_cases_status"] == C
    assert protected.loc["itt", "n_cec"] == 44  # the larger sample is published
    assert protected["fact22_rate_observed"].isna().all()  # the rate of a withheld count


def test_a_fisher_p_value_beside_its_margins_gives_the_cell_back():
    from scipy import stats

    frame = trial().iloc[:1].assign(fact22_rate_observed=np.nan, test="fisher_exact",
                                    p_value=stats.fisher_exact([[4, 80], [0, 44]]).pvalue)
    assert routes(attack({"marts.rct_results": frame})) == {
        ("analysis=itt, outcome=escalated", "events_fact22", "inverting Fisher's exact p_value", True)}
    protected = protect("marts.rct_results", frame, _keep)
    assert pd.isna(protected.loc[0, "p_value"]) and attack({"marts.rct_results": protected}).empty
