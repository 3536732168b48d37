"""A release compared with the one before it, on tiny hand-made releases."""
import pandas as pd
import pytest

from fact22_assets.core.release_comparison import compare_releases, coverage_gaps, part_gaps, revisions, trend_jumps


def _release(release_id: str, rank: int, values: dict[tuple[str, int], float], file: str) -> pd.DataFrame:
    rows = []
    for row, ((la, year), value) in enumerate(sorted(values.items()), start=2):
        rows.append({"release_id": release_id, "release_rank": rank, "source_file": file, "source_row": row,
                     "source_column": "Ended_episodes", "geographic_level": "Local authority", "area_code": f"E{la}",
                     "old_la_code": la, "area_name": f"LA {la}", "collection_year": year, "measure": "closures",
                     "value_text": str(value), "value": value})
    return pd.DataFrame(rows)


OLD = {("895", 2021): 1300.0, ("895", 2022): 1350.0, ("896", 2021): 900.0, ("896", 2022): 950.0}
NEW = {**OLD, ("895", 2023): 1376.0, ("896", 2023): 980.0}


def test_the_same_history_extended_passes():
    found = compare_releases(pd.concat([_release("cin_2022", 2022, OLD, "old.csv"),
                                        _release("cin_2025", 2025, NEW, "landing/b1.csv")]))
    assert all(frame.empty for frame in found.values())


def test_a_row_cut_from_the_back_series_is_a_coverage_gap_named_in_the_new_file():
    cut = {k: v for k, v in NEW.items() if k != ("896", 2021)}
    gaps = coverage_gaps(_release("cin_2022", 2022, OLD, "old.csv"), _release("cin_2025", 2025, cut, "landing/b1.csv"))
    assert gaps[["source_file", "area_name", "collection_year", "previous_file", "previous_row"]].values.tolist() == [
        ["landing/b1.csv", "LA 896", 2021, "old.csv", 4]]


@pytest.mark.parametrize("value, blocked", [(137.0, True), (13760.0, True), (1100.0, False), (2500.0, False)])
def test_a_dropped_or_added_digit_breaks_the_authoritys_trend(value, blocked):
    jumps = trend_jumps(_release("cin_2025", 2025, {**NEW, ("895", 2023): value}, "landing/b1.csv"))
    assert (not jumps.empty) == blocked
    if blocked:
        assert jumps.loc[0, ["source_file", "source_row", "source_column", "collection_year"]].tolist() == [
            "landing/b1.csv", 4, "Ended_episodes", 2023]


def test_a_changed_published_number_is_a_revision_unless_declared():
    moved = {**NEW, ("895", 2021): 900.0, ("896", 2021): 1300.0}  # two authorities' values swapped
    old, new = _release("cin_2022", 2022, OLD, "old.csv"), _release("cin_2025", 2025, moved, "landing/b1.csv")
    assert sorted(revisions(old, new).area_name) == ["LA 895", "LA 896"]
    assert revisions(old, _release("cin_2025", 2025, {**NEW, ("895", 2021): 1305.0}, "b1.csv")).empty  # within bound
    assert compare_releases(pd.concat([old, new]), revision_releases={"cin_2025"})["revision"].empty
    assert len(compare_releases(pd.concat([old, new]))["revision"]) == 2


def test_rows_missing_from_one_file_of_a_release_name_that_file():
    b1 = _release("cin_2025", 2025, NEW, "landing/b1.csv")
    c1 = _release("cin_2025", 2025, {k: v for k, v in NEW.items() if k != ("896", 2023)}, "landing/c1.csv")
    gaps = part_gaps(pd.concat([b1, c1]))
    assert gaps[["source_file", "area_name", "collection_year"]].values.tolist() == [["landing/c1.csv", "LA 896", 2023]]
    assert part_gaps(pd.concat([b1, _release("cin_2025", 2025, NEW, "landing/c1.csv")])).empty


def test_a_changed_authority_code_in_one_file_names_that_file_only():
    b1 = _release("cin_2025", 2025, NEW, "landing/b1.csv")
    d3 = _release("cin_2025", 2025, NEW, "landing/d3.csv")
    c1 = _release("cin_2025", 2025, {**{k: v for k, v in NEW.items() if k != ("896", 2023)}, ("999", 2023): 980.0},
                  "landing/c1.csv")
    gaps = part_gaps(pd.concat([b1, c1, d3]))
    assert set(gaps.source_file) == {"landing/c1.csv"}
    assert sorted(gaps.problem) == ["missing from this file", "only this file has it"]


def _measure(frame: pd.DataFrame, measure: str, column: str) -> pd.DataFrame:
    return frame.assign(measure=measure, source_column=column)


def test_a_revision_of_one_file_is_compared_with_what_was_published_for_its_measures_only():
    # cin_2025 published closures and referrals; cin_2025_r1 re-issues the referrals file alone.
    published = pd.concat([_measure(_release("cin_2025", 2025, NEW, "b1.csv"), "closures", "Ended_episodes"),
                           _measure(_release("cin_2025", 2025, NEW, "c1.csv"), "referrals", "referral_count")])
    corrected = {**NEW, ("895", 2023): 1380.0}  # within the bound
    revision = _measure(_release("cin_2025_r1", 2025.01, corrected, "landing/c1.csv"), "referrals", "referral_count")
    found = compare_releases(pd.concat([published, revision]), partial_releases={"cin_2025_r1"})
    assert all(frame.empty for frame in found.values()), found
    # Without saying it re-issues part of a release, the closures it does not carry are a coverage gap.
    assert not compare_releases(pd.concat([published, revision]))["coverage"].empty
    # A dropped digit is named by the revision's cell, by the revision bound and by the trend.
    dropped = _measure(_release("cin_2025_r1", 2025.01, {**NEW, ("895", 2023): 137.0}, "landing/c1.csv"),
                       "referrals", "referral_count")
    found = compare_releases(pd.concat([published, dropped]), partial_releases={"cin_2025_r1"})
    for kind in ("revision", "trend"):
        assert found[kind][["source_file", "source_row", "source_column"]].values.tolist() == [
            ["landing/c1.csv", 4, "referral_count"]], kind
    # Declared a revision: exempt from the bound, not from the trend.
    found = compare_releases(pd.concat([published, dropped]), revision_releases={"cin_2025_r1"},
                             partial_releases={"cin_2025_r1"})
    assert found["revision"].empty and len(found["trend"]) == 1


def test_the_release_after_a_revision_is_compared_with_the_latest_published_value():
    def release(release_id, rank, closures, referrals, prefix=""):
        return pd.concat([_measure(_release(release_id, rank, closures, f"{prefix}b1.csv"), "closures", "Ended_episodes"),
                          _measure(_release(release_id, rank, referrals, f"{prefix}c1.csv"), "referrals",
                                   "referral_count")])

    revised = {**NEW, ("895", 2023): 1500.0}
    published = release("cin_2025", 2025, NEW, NEW)
    revision = _measure(_release("cin_2025_r1", 2025.01, revised, "landing/c1.csv"), "referrals", "referral_count")
    declared = {"revision_releases": {"cin_2025_r1"}, "partial_releases": {"cin_2025_r1"}}
    # cin_2026 agrees with the revised referrals and with the closures cin_2025 published beside them.
    following = release("cin_2026", 2026, NEW, revised, "landing/")
    found = compare_releases(pd.concat([published, revision, following]), **declared)
    assert all(frame.empty for frame in found.values()), found
    # A closures row cin_2025 published and cin_2026 lacks is a gap, though the revision before it had no closures.
    gone = release("cin_2026", 2026, {k: v for k, v in NEW.items() if k != ("896", 2021)}, revised, "landing/")
    found = compare_releases(pd.concat([published, revision, gone]), **declared)
    assert found["coverage"][["source_file", "area_name", "collection_year", "measure"]].values.tolist() == [
        ["landing/b1.csv", "LA 896", 2021, "closures"]]
    # A cin_2026 that goes back to cin_2025's referrals moves the revised number.
    back = release("cin_2026", 2026, NEW, NEW, "landing/")
    found = compare_releases(pd.concat([published, revision, back]), **declared)
    assert found["revision"][["previous_value", "value"]].values.tolist() == [[1500.0, 1376.0]]
