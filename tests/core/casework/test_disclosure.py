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


def trial(n_control_itt=44, n_control_excl=39, events=4) -> pd.DataFrame:
    return pd.DataFrame({
        "analysis": ["itt", "excluding_contaminated"], "outcome": ["escalated"] * 2,
        "n_cases": pd.array([84 + n_control_itt, 84 + n_control_excl], dtype="Int64"),
        "n_cases_status": pd.array([None, None], dtype="string"),
        "n_treated": pd.array([84, 84], dtype="Int64"), "n_treated_status": pd.array([None, None], dtype="string"),
        "n_control": pd.array([n_control_itt, n_control_excl], dtype="Int64"),
        "n_control_status": pd.array([None, None], dtype="string"),
        "events_treated": pd.array([pd.NA, pd.NA], dtype="Int64"), "events_treated_status": pd.array([C, C], dtype="string"),
        "events_control": pd.array([0, 0], dtype="Int64"), "events_control_status": pd.array([None, None], dtype="string"),
        "treated_rate_observed": [events / 84] * 2, "control_rate_observed": [0.0, 0.0],
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
    assert ("analysis=itt, outcome=escalated", "events_treated", "treated_rate_observed x n_treated", True) in found
    assert ("analysis=excluding_contaminated, outcome=escalated", "n_control", "difference from the itt row", True) in found
    assert ("analysis=excluding_contaminated, outcome=escalated", "n_cases", "difference from the itt row",
            True) in found
    # a difference of 6 is not a small count
    assert not any(r[2].startswith("difference") for r in routes(attack({"marts.rct_results": trial(n_control_excl=38)})))


def test_an_undocumented_share_is_caught_too():
    frame = trial().iloc[:1].assign(treated_rate_observed=np.nan, some_rate=3 / 84)
    found = routes(attack({"marts.rct_results": frame}))
    assert ("analysis=itt, outcome=escalated", "some_rate", "some_rate x n_treated is a whole number from 1 to 5",
            True) in found


def test_relations_a_reader_can_write_down():
    whys = {r.why for r in relations({"marts.service_summary": service(), "marts.rct_results": trial()})}
    assert {"n_cases = n_treated + n_control", "the locations add to the families", "one total on every row"} <= whys


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
    assert protected.loc["excluding_contaminated", "n_control_status"] == C
    assert protected.loc["excluding_contaminated", "n_cases_status"] == C
    assert protected.loc["itt", "n_control"] == 44  # the larger sample is published
    assert protected["treated_rate_observed"].isna().all()  # the rate of a withheld count


def test_a_fisher_p_value_beside_its_margins_gives_the_cell_back():
    from scipy import stats

    frame = trial().iloc[:1].assign(treated_rate_observed=np.nan, test="fisher_exact",
                                    p_value=stats.fisher_exact([[4, 80], [0, 44]]).pvalue)
    assert routes(attack({"marts.rct_results": frame})) == {
        ("analysis=itt, outcome=escalated", "events_treated", "inverting Fisher's exact p_value", True)}
    protected = protect("marts.rct_results", frame, _keep)
    assert pd.isna(protected.loc[0, "p_value"]) and attack({"marts.rct_results": protected}).empty


# --- hand-worked marts for every table, route and branch

def mart(labels: dict, counts: dict, withheld: dict | None = None, **floats) -> pd.DataFrame:
    """Labels as given, counts as Int64 with a ``_status`` column ('c' where withheld), floats as float64."""
    frame = pd.DataFrame(labels)
    for column, values in counts.items():
        held = set((withheld or {}).get(column, ()))
        frame[column] = pd.array([pd.NA if i in held else v for i, v in enumerate(values)], dtype="Int64")
        frame[f"{column}_status"] = pd.array([C if i in held else None for i in range(len(values))], dtype="string")
    for column, values in floats.items():
        frame[column] = np.asarray(values, dtype="float64")
    return frame


def primary(frame: pd.DataFrame) -> pd.DataFrame:
    """DfE's primary rule: a published count of 1 to 5 is withheld as 'c'."""
    out = frame.copy()
    for status in [c for c in out.columns if c.endswith("_status")]:
        column = status.removesuffix("_status")
        small = out[column].isin([1, 2, 3, 4, 5]).fillna(False).to_numpy(dtype=bool)
        out[status] = out[status].astype("string")
        out.loc[small, column] = pd.NA
        out.loc[small, status] = C
    return out


S, Y, R, T = "marts.service_summary", "marts.service_case_length_by_year", "marts.rct_results", "marts.case_length_tobit"
SERVICE_ROWS = {"measure": ["location", "location", "outcome", "outcome", "outcome", "outcome", "escalated",
                            "days_to_close"],
                "category": ["Crewe", "Macclesfield", "closed", "escalated_cp", "escalated_lac", "open", "all", "median"]}


def test_every_relation_of_every_mart_in_order():
    from fact22_assets.core.casework.disclosure import Relation

    service = pd.DataFrame(SERVICE_ROWS)
    marts = {R: pd.DataFrame({"analysis": ["itt", "excluding_contaminated"]}),
             T: pd.DataFrame({"term": ["a", "b", "c"]}), S: service, Y: pd.DataFrame({"start_year": [2019, 2020]})}
    nf, nt = "n_families", "n_total"
    expected = [
        Relation((R, 0, "n_cases"), ((R, 0, "n_treated"), (R, 0, "n_control")), "n_cases = n_treated + n_control"),
        Relation((R, 1, "n_cases"), ((R, 1, "n_treated"), (R, 1, "n_control")), "n_cases = n_treated + n_control"),
        *[Relation((T, 0, c), ((T, r, c),), "the same sample on every term")
          for c in ("n_cases", "n_right_censored", "n_left_censored") for r in (1, 2)],
        Relation((S, 0, nt), ((S, 0, nf), (S, 1, nf)), "the locations add to the families"),
        Relation((S, 0, nt), ((S, 2, nf), (S, 3, nf), (S, 4, nf), (S, 5, nf)), "the outcomes add to the families"),
        Relation((S, 6, nf), ((S, 3, nf), (S, 4, nf)), "escalated to CP + to LAC = escalated"),
        Relation((S, 2, nf), ((S, 7, nf),), "the days-to-close row counts the closed cases"),
        *[Relation((S, r, nt), ((S, 0, nt),), "one total on every row") for r in range(1, 8)],
        Relation((S, 0, nt), ((Y, 0, "n_started"), (Y, 1, "n_started")), "the start years add to the families"),
        Relation((S, 2, nf), ((Y, 0, "n_closed"), (Y, 1, "n_closed")), "the start years add to closed"),
        Relation((S, 5, nf), ((Y, 0, "n_open"), (Y, 1, "n_open")), "the start years add to open"),
        Relation((Y, 0, "n_started"), ((Y, 0, "n_ended"), (Y, 0, "n_open")), "started = ended + still open"),
        Relation((Y, 1, "n_started"), ((Y, 1, "n_ended"), (Y, 1, "n_open")), "started = ended + still open"),
    ]
    assert relations(marts) == expected
    assert relations({}) == []


def test_relations_need_every_row_they_name():
    # no location or outcome rows, no escalated parts, no closed row: only the one-total rule is left
    sparse = pd.DataFrame({"measure": ["escalated", "days_to_close"], "category": ["all", "median"]})
    assert [(r.total, r.parts, r.why) for r in relations({S: sparse})] == [
        ((S, 1, "n_total"), ((S, 0, "n_total"),), "one total on every row")]
    # the start years alone add to nothing published; with a service but no closed/open rows, only to the families
    years = pd.DataFrame({"start_year": [2019]})
    assert [r.why for r in relations({Y: years})] == ["started = ended + still open"]
    one = pd.DataFrame({"measure": ["age"], "category": ["0-4"]})
    assert [r.why for r in relations({S: one, Y: years})] == ["the start years add to the families",
                                                               "started = ended + still open"]


def test_count_over_share_gives_a_withheld_denominator_back():
    # 3 families are 0.25 of a withheld total: 3 / 0.25 = 12
    frame = mart({"measure": ["age"], "category": ["0-4"]}, {"n_families": [3], "n_total": [12]}, {"n_total": [0]},
                 share=[0.25])
    assert routes(attack({S: frame})) == {("measure=age, category=0-4", "n_total", "n_families / share", False)}
    # a share of 0 says nothing about the total; nor does a share that is not a whole number of families
    assert attack({S: frame.assign(share=0.0)}).empty
    assert attack({S: frame.assign(share=0.26)}).empty


@pytest.mark.parametrize(("value", "small"), [(0, False), (1, True), (5, True), (6, False)])
def test_small_means_one_to_five(value, small):
    # started = ended + still open: the withheld start count is ended + open
    frame = mart({"start_year": [2019]}, {"n_started": [value], "n_ended": [0], "n_open": [value]},
                 {"n_started": [0]})
    assert routes(attack({Y: frame})) == {("start_year=2019", "n_started",
                                           "totals minus parts: started = ended + still open", small)}


def test_sums_solved_again_with_what_later_sums_recovered():
    # pass 1: 2019 started = 2 + 1 = 3; pass 2: 2020 started = 10 - 3 = 7, then 2020 ended = 7 - 2 = 5
    service = mart({"measure": ["age"], "category": ["all"]}, {"n_families": [10], "n_total": [10]})
    years = mart({"start_year": [2019, 2020]}, {"n_started": [3, 7], "n_ended": [2, 5], "n_open": [1, 2]},
                 {"n_started": [0, 1], "n_ended": [1]})
    assert routes(attack({S: service, Y: years, "marts.unknown": years})) == {
        ("start_year=2019", "n_started", "totals minus parts: started = ended + still open", True),
        ("start_year=2020", "n_started", "totals minus parts: the start years add to the families", False),
        ("start_year=2020", "n_ended", "totals minus parts: started = ended + still open", True)}


def test_two_unknowns_in_every_sum_stay_unknown():
    years = mart({"start_year": [2019]}, {"n_started": [3], "n_ended": [2], "n_open": [1]},
                 {"n_started": [0], "n_ended": [0]})
    assert attack({Y: years}).empty


def test_a_count_missing_without_a_c_is_not_a_withheld_one():
    # NULL without its 'c' (or without any status column) is not a count the reader is looking for
    years = mart({"start_year": [2019]}, {"n_started": [3], "n_ended": [2], "n_open": [1]})
    years.loc[0, "n_started"] = pd.NA
    assert attack({Y: years}).empty
    assert attack({Y: years.drop(columns=["n_started_status"])}).empty


def fisher_trial(events_treated=4, events_control=0, hold="events_treated", n_control=44, **changes) -> pd.DataFrame:
    from scipy import stats

    frame = mart({"analysis": ["itt"], "outcome": ["escalated"]},
                 {"n_treated": [84], "n_control": [n_control], "events_treated": [events_treated],
                  "events_control": [events_control]},
                 {hold: [0]} if hold else {})
    p = stats.fisher_exact([[events_treated, 84 - events_treated], [events_control, n_control - events_control]]).pvalue
    return frame.assign(**{"test": "fisher_exact", "p_value": p, **changes})


def test_fisher_inverted_for_the_second_arm_too():
    found = routes(attack({R: fisher_trial(events_treated=30, events_control=3, hold="events_control")}))
    assert found == {("analysis=itt, outcome=escalated", "events_control", "inverting Fisher's exact p_value", True)}


@pytest.mark.parametrize(("events_treated", "events_control", "n_control", "hold", "small"), [
    (50, 0, 44, "events_treated", False),  # the fact22 arm's 50 events: more than the cec arm holds
    (30, 4, 5, "events_control", True),  # 4 of 5: the search runs up to the arm's whole size
])
def test_fisher_searches_every_value_up_to_its_own_arm(events_treated, events_control, n_control, hold, small):
    found = routes(attack({R: fisher_trial(events_treated, events_control, hold, n_control)}))
    assert found == {("analysis=itt, outcome=escalated", hold, "inverting Fisher's exact p_value", small)}


@pytest.mark.parametrize("changes", [{"test": "chi_square"}, {"p_value": np.nan}])
def test_fisher_only_for_a_published_fisher_p_value(changes):
    assert attack({R: fisher_trial(**changes)}).empty
    assert attack({R: fisher_trial().drop(columns=["p_value"])}).empty
    assert attack({R: fisher_trial().drop(columns=["test"])}).empty


def test_fisher_not_tried_on_a_withheld_margin_or_two_withheld_cells():
    frame = fisher_trial(hold="n_treated")
    assert attack({R: frame}).empty
    both = fisher_trial()
    both.loc[0, "events_control"], both.loc[0, "events_control_status"] = pd.NA, C
    assert attack({R: both}).empty


def test_fisher_cell_that_is_published_but_null_is_not_tried():
    frame = fisher_trial(hold=None)
    frame.loc[0, "events_treated"] = pd.NA
    assert attack({R: frame}).empty


def test_a_float_label_or_a_whole_column_is_not_a_share():
    # case_length_tobit labels rows by term: a term of 0.5 beside n_cases 4 is not a share of anything
    tobit = mart({"term": [0.5]}, {"n_cases": [4], "n_right_censored": [1], "n_left_censored": [0]},
                 {"n_right_censored": [0]}, flag=[0.5])
    assert routes(attack({T: tobit})) == {("term=0.5", "flag", "flag x n_cases is a whole number from 1 to 5", True)}
    assert attack({T: tobit.assign(flag=np.int64(1))}).empty  # integer columns are not shares
    assert attack({T: tobit.drop(columns=["flag"])}).empty


@pytest.mark.parametrize(("rate", "found"), [(1.0, True), (1.25, False), (0.0, False), (0.5, True), (0.3, False)])
def test_undocumented_numbers_in_zero_to_one(rate, found):
    # with n_cases 4 published: 1.0 x 4 = 4 and 0.5 x 4 = 2 are small whole numbers; 0.3 x 4 is not whole;
    # 1.25 x 4 = 5 would be, but 1.25 is no share
    tobit = mart({"term": ["a"]}, {"n_cases": [4], "n_right_censored": [1]}, {"n_right_censored": [0]}, rate=[rate])
    assert (not attack({T: tobit}).empty) == found


def test_undocumented_share_gives_no_small_whole_number():
    # 0.25 x 40 = 10 is whole but not 1 to 5
    tobit = mart({"term": ["a"]}, {"n_cases": [40], "n_right_censored": [1]}, {"n_right_censored": [0]}, rate=[0.25])
    assert attack({T: tobit}).empty


def test_a_documented_share_of_published_counts_is_not_flagged():
    # events_treated and n_treated withheld (no n_cases to subtract from); cec's rate 0.5 of its own published
    # counts (2 of 4) times those counts is 2 and 1: documented, so no leak of the withheld cells
    frame = mart({"analysis": ["itt"], "outcome": ["escalated"]},
                 {"n_treated": [84], "n_control": [4], "events_treated": [3], "events_control": [2]},
                 {"n_treated": [0], "events_treated": [0]}, treated_rate_observed=[np.nan], control_rate_observed=[0.5])
    assert attack({R: frame}).empty


def test_rows_whose_withheld_count_was_recovered_are_not_searched_again():
    # the sum recovers n_right_censored (no longer unknown): rate x n_cases = 2 is then not reported again
    tobit = mart({"term": ["a", "b"]}, {"n_cases": [4, 4], "n_right_censored": [2, 2]}, {"n_right_censored": [1]},
                 rate=[0.5, 0.5])
    assert routes(attack({T: tobit})) == {("term=b", "n_right_censored",
                                           "totals minus parts: the same sample on every term", True)}


def test_nested_rows_must_match_on_the_other_labels():
    frame = trial()
    frame["outcome"] = ["escalated", "closed"]
    assert not any(r[2].startswith("difference") for r in routes(attack({R: frame})))
    assert not any(r[2].startswith("difference") for r in routes(attack({R: trial().drop(columns=["analysis"])})))


@pytest.mark.parametrize(("excl", "small"), [(44, False), (43, True), (38, False)])
def test_nested_difference_bounds(excl, small):
    frame = trial(n_control_excl=excl).set_axis([10, 20])  # an index from elsewhere is read by position
    found = [r for r in routes(attack({R: frame})) if r[2] == "difference from the itt row"]
    assert sorted(found) == ([("analysis=excluding_contaminated, outcome=escalated", c, "difference from the itt row",
                               True) for c in ("n_cases", "n_control")] if small else [])


def test_labels_only_from_the_columns_present():
    from fact22_assets.core.casework.disclosure import _label

    assert _label({R: trial()}, R, 1) == "analysis=excluding_contaminated, outcome=escalated"
    assert _label({R: trial().drop(columns=["outcome"])}, R, 0) == "analysis=itt"


def test_whole_numbers():
    from fact22_assets.core.casework.disclosure import _whole

    assert _whole(4.0) == 4 and isinstance(_whole(4.0), int)
    assert _whole(4.0000001) == 4 and _whole(3.9999999) == 4 and _whole(-3.0000001) == -3
    assert _whole(4.00001) is None and _whole(0.5) is None and _whole(0.9) is None
    assert _whole(0.0000001) == 0 and _whole(0.0000015) is None  # below 1, the tolerance is 1e-6 itself
    assert _whole(100_000.05) == 100_000  # the tolerance grows with the value: 1e-6 of it, 0.1 here
    assert _whole(100_000.5) is None
    assert _whole(None) is None and _whole(float("nan")) is None and _whole(float("inf")) is None


def test_withhold_a_cell():
    from fact22_assets.core.casework.disclosure import _withhold

    frame = mart({"term": ["a", "b"]}, {"n_cases": [3, 40]}, rate=[0.5, 0.25])
    _withhold(frame, 0, "n_cases")
    assert str(frame["n_cases"].dtype) == "Int64" and frame["n_cases"].isna().tolist() == [True, False]
    assert frame["n_cases_status"].tolist()[0] == C and pd.isna(frame["n_cases_status"].tolist()[1])
    _withhold(frame, 1, "rate")
    assert frame["rate"].tolist()[0] == 0.5 and np.isnan(frame["rate"].tolist()[1])
    assert "rate_status" not in frame


def test_row_of_a_label():
    from fact22_assets.core.casework.disclosure import SPECS, _row_of

    frame = trial()
    assert _row_of(frame, SPECS[R], "analysis=excluding_contaminated, outcome=escalated") == 1
    assert _row_of(frame, SPECS[R], "analysis=itt, outcome=escalated") == 0
    with pytest.raises(KeyError, match="'analysis=itt'"):
        _row_of(frame, SPECS[R], "analysis=itt")


def test_withhold_another_the_smallest_non_zero_partner():
    from fact22_assets.core.casework.disclosure import _withhold_another

    frame = mart({"measure": ["location"] * 4, "category": ["Crewe", "Leek", "Nantwich", "Unknown"]},
                 {"n_families": [300, 0, 76, 4], "n_total": [380] * 4}, {"n_families": [3]})
    _withhold_another(frame, S, 3, "n_families")
    assert frame["n_families_status"].fillna("").tolist() == ["", "", C, C]
    # nothing left to withhold in that sum's other cells but zeros: a zero goes
    years = mart({"start_year": [2019, 2020]}, {"n_started": [0, 3], "n_ended": [0, 0], "n_open": [0, 3]},
                 {"n_started": [0]})
    _withhold_another(years, Y, 0, "n_started")
    assert years["n_ended_status"].fillna("").tolist() == [C, ""]
    assert years["n_open_status"].fillna("").tolist() == ["", ""]
    # the next call takes the last published cell of that sum; then, as for a cell in no sum, nothing is left
    _withhold_another(years, Y, 0, "n_started")
    assert years["n_open_status"].fillna("").tolist() == [C, ""]
    before = years.copy()
    _withhold_another(years, Y, 0, "n_started")
    _withhold_another(years, Y, 0, "n_closed")
    pd.testing.assert_frame_equal(years, before)


def test_withhold_derived_columns_of_a_withheld_count():
    from fact22_assets.core.casework.disclosure import SPECS, _withhold_derived

    balance = mart({"analysis": ["itt", "itt"], "characteristic": ["male", "female"]},
                   {"n_treated": [84, 84], "n_control": [44, 44], "count_treated": [40, 44], "count_control": [3, 41]},
                   {"count_control": [0]}, share_treated=[40 / 84, 44 / 84], share_control=[3 / 44, 41 / 44],
                   statistic=[0.1, 0.2], p_value=[0.7, 0.6])
    without_first = balance.drop(columns=["share_treated", "n_control_status"])  # a count without status: never withheld
    _withhold_derived(without_first, SPECS["marts.rct_balance"])  # a share the mart lacks is skipped, not the rest
    assert without_first["share_control"].isna().tolist() == [True, False]
    _withhold_derived(balance, SPECS["marts.rct_balance"])
    assert balance["share_control"].isna().tolist() == [True, False]
    assert balance["statistic"].isna().tolist() == [True, False]
    assert balance["p_value"].isna().tolist() == [True, False]
    assert balance["share_treated"].isna().tolist() == [False, False]


def test_protect_applies_the_primary_rule_each_round():
    # service: Unknown 4 withheld by the primary rule; the sum then takes Macclesfield (76) too
    frame = primary(mart({"measure": ["location"] * 3, "category": ["Crewe", "Macclesfield", "Unknown"]},
                         {"n_families": [300, 76, 4], "n_total": [380] * 3}))
    calls = []

    def rule(out):
        calls.append(len(out))
        return primary(out)

    protected = protect(S, frame, rule)
    assert protected["n_families_status"].fillna("").tolist() == ["", C, C]
    assert protected["n_families"].tolist()[0] == 300 and protected["n_total"].tolist() == [380] * 3
    assert calls == [3]  # one round withheld, the next found nothing


def test_protect_withholds_an_undocumented_share():
    frame = trial().iloc[:1].assign(treated_rate_observed=np.nan, some_rate=3 / 84)
    protected = protect(R, frame, _keep)
    assert pd.isna(protected.loc[0, "some_rate"]) and protected.loc[0, "n_treated"] == 84
    assert attack({R: protected}).empty


def test_protect_gives_up_when_the_rule_undoes_it():
    frame = service(shares=False)
    calls = []

    def undo(out):
        calls.append(1)
        return frame.copy()

    with pytest.raises(RuntimeError, match=r"^marts.service_summary: secondary suppression did not settle in 3 rounds$"):
        protect(S, frame, undo, max_rounds=3)
    assert len(calls) == 3


def test_protect_leaves_a_safe_mart_alone():
    frame = service(hold=("Macclesfield", "Unknown"), shares=False).set_axis([5, 6, 7])
    protected = protect(S, frame, _keep)
    assert list(protected.index) == [0, 1, 2]
    pd.testing.assert_frame_equal(protected, frame.reset_index(drop=True))


def test_withhold_another_looks_through_every_sum_holding_the_cell():
    from fact22_assets.core.casework.disclosure import _withhold_another

    # 2020's start count sits in the second row's sum: ended 1 (the smallest non-zero) goes, not open 3
    years = mart({"start_year": [2019, 2020]}, {"n_started": [2, 4], "n_ended": [1, 1], "n_open": [1, 3]},
                 {"n_started": [1]})
    _withhold_another(years, Y, 1, "n_started")
    assert years["n_ended_status"].fillna("").tolist() == ["", C]
    assert years["n_open_status"].fillna("").tolist() == ["", ""]
    # the total is in the locations' sum (nothing else published there) and in the outcomes' sum: closed 2 goes
    service = mart({"measure": ["location", "location", "outcome", "outcome"],
                    "category": ["Crewe", "Unknown", "closed", "open"]},
                   {"n_families": [4, 2, 2, 4], "n_total": [6] * 4}, {"n_families": [0, 1], "n_total": [0]})
    _withhold_another(service, S, 0, "n_total")
    assert service["n_families_status"].fillna("").tolist() == [C, C, C, ""]


def test_withhold_another_skips_a_sum_with_nothing_else_published():
    from fact22_assets.core.casework import disclosure

    frame = mart({"measure": ["location", "location"], "category": ["Crewe", "Unknown"]},
                 {"n_families": [4, 2], "n_total": [6, 6]}, {"n_families": [1], "n_total": [0, 1]})
    frame.loc[0, "n_families_status"] = C  # every other cell of the locations' sum is withheld already
    before = frame.copy()
    disclosure._withhold_another(frame, S, 1, "n_families")
    pd.testing.assert_frame_equal(frame, before)


def test_two_labels_pick_one_row():
    # each outcome's category is also a category of another measure (listed first): only the outcome row counts
    frame = pd.DataFrame({"measure": ["escalated", "outcome", "location", "outcome", "location", "outcome",
                                      "days_to_close", "location", "outcome"],
                          "category": ["escalated_cp", "escalated_cp", "escalated_lac", "escalated_lac", "closed",
                                       "closed", "median", "open", "open"]})
    found = {r.why: (r.total, r.parts) for r in relations({S: frame, Y: pd.DataFrame({"start_year": [2019]})})}
    nf = "n_families"
    assert found["escalated to CP + to LAC = escalated"] == ((S, 0, nf), ((S, 1, nf), (S, 3, nf)))
    assert found["the days-to-close row counts the closed cases"] == ((S, 5, nf), ((S, 6, nf),))
    assert found["the start years add to closed"] == ((S, 5, nf), ((Y, 0, "n_closed"),))
    assert found["the start years add to open"] == ((S, 8, nf), ((Y, 0, "n_open"),))


def test_counts_printed_as_text_are_read_as_numbers():
    years = mart({"start_year": [2019]}, {"n_started": [3]}, {"n_started": [0]})
    years["n_ended"], years["n_open"] = pd.Series(["2"], dtype=object), pd.Series(["1"], dtype=object)
    assert routes(attack({Y: years})) == {("start_year=2019", "n_started",
                                           "totals minus parts: started = ended + still open", True)}
    assert attack({Y: years.assign(n_open="n/a")}).empty  # not a number: unknown, but not withheld either


def test_findings_name_their_mart_and_every_mart_is_searched():
    # the service mart (first) gives nothing away; the trial's Fisher p-value and its nested rows do
    from scipy import stats

    trial_frame = trial().assign(treated_rate_observed=np.nan, test=["fisher_exact", "none"],
                                 p_value=[stats.fisher_exact([[4, 80], [0, 44]]).pvalue, np.nan])
    findings = attack({S: service(hold=("Macclesfield", "Unknown"), shares=False), R: trial_frame})
    itt, excl = "analysis=itt, outcome=escalated", "analysis=excluding_contaminated, outcome=escalated"
    assert set(zip(findings["mart"], findings["row"], findings["column"], findings["route"], findings["small"])) == {
        (R, itt, "events_treated", "inverting Fisher's exact p_value", True),
        (R, excl, "n_control", "difference from the itt row", True), (R, excl, "n_cases", "difference from the itt row", True)}
    assert list(attack({}).columns) == ["mart", "row", "column", "route", "small"]
    assert set(attack({S: service(), "marts.other": service()})["mart"]) == {S}
    # an undocumented share reports its mart too
    tobit = mart({"term": ["a"]}, {"n_cases": [4], "n_right_censored": [1]}, {"n_right_censored": [0]}, rate=[0.5])
    assert list(attack({T: tobit})["mart"]) == [T]


def test_every_share_row_and_count_column_is_searched():
    # the first row's share is missing: the next row's is still used
    frame = service()
    frame.loc[0, "share"] = np.nan
    assert routes(attack({S: frame})) == {("measure=location, category=Unknown", "n_families", "share x n_total", True)}
    # the trial lacks its first documented share: the second one is still used
    cec = mart({"analysis": ["itt"], "outcome": ["escalated"]},
               {"n_treated": [84], "n_control": [44], "events_treated": [4], "events_control": [3]}, {"events_control": [0]},
               control_rate_observed=[3 / 44])
    assert routes(attack({R: cec})) == {("analysis=itt, outcome=escalated", "events_control", "control_rate_observed x n_control",
                                         True)}
    # the tobit mart lacks its first count column: the others are still read
    tobit = mart({"term": ["a", "b"]}, {"n_right_censored": [2, 2]}, {"n_right_censored": [1]})
    assert routes(attack({T: tobit})) == {("term=b", "n_right_censored",
                                           "totals minus parts: the same sample on every term", True)}


def test_a_share_of_two_withheld_counts_gives_nothing():
    frame = mart({"measure": ["age"], "category": ["0-4"]}, {"n_families": [3], "n_total": [12]},
                 {"n_families": [0], "n_total": [0]}, share=[0.25])
    assert attack({S: frame}).empty
    text = mart({"measure": ["age"], "category": ["0-4"]}, {"n_families": [3], "n_total": [12]}, {"n_families": [0]})
    assert attack({S: text.assign(share="n/a")}).empty  # a share printed as text is not a number


def test_every_fisher_row_and_every_row_with_a_withheld_count_is_searched():
    from scipy import stats

    # the first Fisher row has nothing withheld; the second gives its cell back
    p = stats.fisher_exact([[4, 80], [0, 44]]).pvalue
    frame = mart({"analysis": ["itt", "excluding_contaminated"], "outcome": ["escalated"] * 2},
                 {"n_treated": [84, 84], "n_control": [44, 44], "events_treated": [4, 4], "events_control": [0, 0]},
                 {"events_treated": [1]}, p_value=[p, p]).assign(test="fisher_exact")
    assert routes(attack({R: frame})) == {("analysis=excluding_contaminated, outcome=escalated", "events_treated",
                                           "inverting Fisher's exact p_value", True)}
    # the first row withholds nothing; the second's undocumented 0.5 x n_control 4 = 2
    mde = mart({"outcome": ["a", "b"]}, {"n_treated": [84, 84], "n_control": [4, 4]}, {"n_treated": [1]}, mde=[0.5, 0.5])
    assert routes(attack({"marts.rct_minimum_detectable_effects": mde})) == {
        ("outcome=b", "mde", "mde x n_control is a whole number from 1 to 5", True)}


# --- across marts: counts of one population (the route: 126 - 122 - 0 = 4)

def _population_marts(tobit_n=122, withhold_tobit=False):
    """FACT22's escalation row (4 FACT22 withheld, 0 CEC), the closed row (126 with an outcome) and the Tobit's
    n (122: outcome known, no escalation), with the members of each count over 128 cases."""
    from fact22_assets.core.casework.disclosure import Population

    cases = np.arange(128)
    treated = cases < 84
    known = ~np.isin(cases, [83, 127])           # two cases without an outcome
    escalated = np.isin(cases, [0, 1, 2, 3])     # 4 escalations, all treated, all with an outcome
    rct = pd.DataFrame({
        "analysis": ["itt", "itt"], "outcome": ["closed", "escalated"],
        "n_cases": pd.array([126, 128], dtype="Int64"), "n_cases_status": pd.array([None, None], dtype="string"),
        "n_treated": pd.array([83, 84], dtype="Int64"), "n_treated_status": pd.array([None, None], dtype="string"),
        "n_control": pd.array([43, 44], dtype="Int64"), "n_control_status": pd.array([None, None], dtype="string"),
        "events_treated": pd.array([59, pd.NA], dtype="Int64"), "events_treated_status": pd.array([None, C], dtype="string"),
        "events_control": pd.array([35, 0], dtype="Int64"), "events_control_status": pd.array([None, None], dtype="string"),
    })
    closed = known & (cases % 3 != 0)
    closed_t, closed_c = int((closed & treated).sum()), int((closed & ~treated).sum())
    rct.loc[0, ["events_treated", "events_control"]] = [closed_t, closed_c]
    tobit = pd.DataFrame({"term": ["const", "treated"],
                          "n_cases": pd.array([pd.NA, pd.NA] if withhold_tobit else [tobit_n] * 2, dtype="Int64"),
                          "n_cases_status": pd.array([C, C] if withhold_tobit else [None, None], dtype="string")})
    universe = "trial:fact22_crewe"
    populations = {
        ("marts.rct_results", 0, "n_cases"): Population(universe, known),
        ("marts.rct_results", 0, "n_treated"): Population(universe, known & treated),
        ("marts.rct_results", 0, "n_control"): Population(universe, known & ~treated),
        ("marts.rct_results", 0, "events_treated"): Population(universe, closed & treated),
        ("marts.rct_results", 0, "events_control"): Population(universe, closed & ~treated),
        ("marts.rct_results", 1, "n_cases"): Population(universe, np.ones(128, bool)),
        ("marts.rct_results", 1, "n_treated"): Population(universe, treated),
        ("marts.rct_results", 1, "n_control"): Population(universe, ~treated),
        ("marts.rct_results", 1, "events_treated"): Population(universe, escalated & treated),
        ("marts.rct_results", 1, "events_control"): Population(universe, escalated & ~treated),
    }
    for row in (0, 1):
        populations[("marts.case_length_tobit", row, "n_cases")] = Population(universe, known & ~escalated)
    return {"marts.rct_results": rct, "marts.case_length_tobit": tobit}, populations


def test_the_withheld_escalations_come_back_from_closed_n_less_the_tobits_n():
    from fact22_assets.core.casework.disclosure import ACROSS, attack, attack_populations

    marts, populations = _population_marts()
    assert attack(marts).empty  # each mart alone gives nothing away
    found = attack_populations(marts, populations)
    assert list(zip(found["mart"], found["row"], found["column"], found["route"])) == [
        ("marts.rct_results", "analysis=itt, outcome=escalated", "events_treated", ACROSS)]


def test_withholding_the_tobits_n_closes_the_route():
    from fact22_assets.core.casework.disclosure import attack_populations

    assert attack_populations(*_population_marts(withhold_tobit=True)).empty


def test_a_larger_withheld_count_in_the_span_is_no_finding():
    # 84 treated cases withheld (to protect something) but published elsewhere: it reveals nothing small
    from fact22_assets.core.casework.disclosure import attack_populations

    marts, populations = _population_marts(withhold_tobit=True)
    marts["marts.rct_results"].loc[1, "n_treated"] = pd.NA
    marts["marts.rct_results"].loc[1, "n_treated_status"] = C
    assert attack_populations(marts, populations).empty


def test_a_published_count_that_is_not_the_count_of_its_members_is_refused():
    from fact22_assets.core.casework.disclosure import attack_populations

    with pytest.raises(ValueError, match="populations are out of step"):
        attack_populations(*_population_marts(tobit_n=121))


def test_protect_together_withholds_across_marts_until_nothing_comes_back():
    from fact22_assets.core.casework.disclosure import attack, attack_populations, protect_together

    marts, populations = _population_marts()
    out = protect_together(marts, populations, {t: (lambda frame: frame) for t in marts})
    assert attack_populations(out, populations).empty and attack(out).empty
    # the Tobit's n is what goes (both rows: the same sample), the trial's own results stay
    assert out["marts.case_length_tobit"]["n_cases_status"].tolist() == [C, C]
    assert out["marts.rct_results"]["n_cases"].tolist() == [126, 128]


def test_echelon_gives_the_combination():
    from fact22_assets.core.casework.disclosure import _echelon

    vectors = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 1, 1]], dtype=float)
    basis = _echelon(vectors)
    weights = basis.coefficients(np.array([1, 0, -1, 0], dtype=float))
    assert weights is not None and np.allclose(weights @ vectors, [1, 0, -1, 0])
    assert basis.coefficients(np.array([1, 0, 0, 0], dtype=float)) is None
