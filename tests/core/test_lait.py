"""Benchmark arithmetic on hand-made panels, against LAIT's conventions worked by hand: quartiles (R type 7),
bands by polarity with a value on a threshold taking the band below, ranks with ties at the lowest rank,
DfE's published figure as the default value, each neighbour beside the average."""
import numpy as np
import pandas as pd
import pytest

from fact22_assets.core import lait
from fact22_assets.core.measures import COUNT_NAMES, HIGH, LOW, NOT_APPLICABLE, PERCENTAGE_NAMES, RATE_NAMES


@pytest.mark.parametrize("year, model", [(2013, "2021"), (2022, "2021"), (2023, "2025"), (2025, "2025")])
def test_model_by_year(year, model):
    assert lait.sn_model(year) == model


def test_quartiles_are_r_type_7():
    # R: quantile(c(1, 2, 4, 8, 16)) -> 1, 2, 4, 8, 16; quantile(c(10, 20, 30, 40)) -> 10, 17.5, 25, 32.5, 40
    assert lait.quartile_thresholds([1, 2, 4, 8, 16]) == (1, 2, 4, 8, 16)
    assert lait.quartile_thresholds([40, 10, None, 30, 20]) == (10, 17.5, 25, 32.5, 40)
    assert lait.quartile_thresholds([None, np.nan]) is None


CUTS = (10, 17.5, 25, 32.5, 40)


@pytest.mark.parametrize("value, polarity, band", [
    (10, LOW, "A"), (17.5, LOW, "A"), (17.6, LOW, "B"), (25, LOW, "B"), (30, LOW, "C"), (32.5, LOW, "C"),
    (40, LOW, "D"), (10, HIGH, "D"), (17.5, HIGH, "D"), (20, HIGH, "C"), (32.5, HIGH, "B"), (33, HIGH, "A"),
    (40, HIGH, "A"), (20, None, NOT_APPLICABLE), (None, LOW, None), (None, None, NOT_APPLICABLE)])
def test_quartile_band_as_lait_letters_it(value, polarity, band):
    assert lait.quartile_band(value, CUTS, polarity) == band


def test_every_registry_measure_is_benchmarked_with_its_polarity():
    assert set(lait.MEASURE_NAMES) == {*COUNT_NAMES, *RATE_NAMES, *PERCENTAGE_NAMES}
    polarity = {m.name: m.polarity for m in lait.MEASURES}
    assert polarity["rereferral_percentage"] == LOW and polarity["escalations_per_10k_children"] == LOW
    assert polarity["cin_per_10k_children"] == NOT_APPLICABLE and polarity["referrals"] == NOT_APPLICABLE
    assert {m.name for m in lait.MEASURES if m.headline} == {
        "cin_per_10k_children", "escalations_per_10k_children", "rereferral_percentage"}


def _panel(values_2023=None):
    """England, one region, five authorities 801..805 in 2022 and 2023; every measure = base x i."""
    rows = []
    areas = [("National", "E92000001", "England", None, None), ("Regional", "E12000001", "North", None, "E12000001"),
             *[("Local authority", f"E0600000{i}", f"LA{i}", f"80{i}", "E12000001") for i in range(1, 6)]]
    for year, base in ((2022, 10.0), (2023, 20.0)):
        for level, code, name, old, region in areas:
            i = int(old[-1]) if old else 0
            row = {"geographic_level": level, "area_code": code, "area_name": name, "old_la_code": old,
                   "region_code": region, "region_name": "North" if region else None, "collection_year": year,
                   "collection_year_label": f"{year - 1}-{year % 100}"}
            for m in (*COUNT_NAMES, *RATE_NAMES):
                row[m] = base * (i or 5)
            row["referrals"], row["rereferrals"] = 100.0, 10.0 * (i or 2)
            row["rereferral_percentage"] = row["rereferrals"]  # of 100 referrals
            rows.append(row)
    frame = pd.DataFrame(rows)
    if values_2023 is not None:  # escalations_per_10k_children of LA1..LA5 in 2023
        for i, v in enumerate(values_2023, start=1):
            frame.loc[(frame.area_name == f"LA{i}") & (frame.collection_year == 2023),
                      "escalations_per_10k_children"] = v
    return frame


NEIGHBOURS = pd.DataFrame({"model": ["2021", "2021", "2025", "2025"], "old_la_code": ["801", "801", "801", "801"],
                           "neighbour_rank": [1, 2, 1, 2], "neighbour_old_la_code": ["802", "803", "804", "802"],
                           "closeness": "Close"})


def _row(out, la, measure, year):
    found = out[(out.old_la_code == la) & (out.measure == measure) & (out.collection_year == year)]
    assert len(found) == 1
    return found.iloc[0]


def test_each_neighbour_beside_the_average_under_the_model_in_force():
    out = lait.la_benchmarks(_panel(), NEIGHBOURS)
    # 2022: 2021 model, neighbours 802 (20) and 803 (30); 2023: 2025 model, 804 (80) and 802 (40)
    y22, y23 = (_row(out, "801", "cin_per_10k_children", y) for y in (2022, 2023))
    assert y22.sn_model == "2021" and y22.sn_average == 25.0
    assert (y22.sn_1_la_name, y22.sn_1_value, y22.sn_2_la_name, y22.sn_2_value) == ("LA2", 20.0, "LA3", 30.0)
    assert y23.sn_model == "2025" and y23.sn_average == 60.0
    assert (y23.sn_1_la_name, y23.sn_1_value, y23.sn_2_la_name, y23.sn_2_value) == ("LA4", 80.0, "LA2", 40.0)
    assert pd.isna(y23.sn_3_value) and y23.sn_count == 2 and y23.sn_neighbours == 2
    assert y23.england_value == 100.0 and y23.region_value == 100.0
    lone = out[out.old_la_code == "803"]
    assert (lone.sn_count == 0).all() and lone.sn_average.isna().all()


def test_a_measure_without_polarity_has_thresholds_but_no_rank_or_band():
    out = lait.la_benchmarks(_panel(), NEIGHBOURS)
    cin = _row(out, "801", "cin_per_10k_children", 2023)  # 20, 40, 60, 80, 100 across LA1..LA5
    assert cin.polarity == NOT_APPLICABLE and cin.quartile_band == NOT_APPLICABLE and pd.isna(cin.national_rank)
    assert (cin.quartile_0, cin.quartile_25, cin.quartile_50, cin.quartile_75, cin.quartile_100) == \
        (20, 40, 60, 80, 100)
    assert cin.ranked_authorities == 5


def test_low_polarity_ranks_and_bands_with_ties_and_a_gap():
    # LA1..LA5 in 2023: 30, 10, 10, NULL, 50.  With a value: 4 authorities; quartiles of (10, 10, 30, 50):
    # 10, 10, 20, 35, 50.  Lower is better: LA2 and LA3 tie at rank 1, LA1 is 3rd, LA5 4th.
    out = lait.la_benchmarks(_panel([30, 10, 10, None, 50]), NEIGHBOURS)
    rows = {la: _row(out, la, "escalations_per_10k_children", 2023) for la in ("801", "802", "803", "804", "805")}
    assert [rows[la].national_rank for la in ("801", "802", "803", "805")] == [3, 1, 1, 4]
    assert pd.isna(rows["804"].national_rank) and rows["804"].quartile_band is None
    assert rows["801"].ranked_authorities == 4  # those with a value, not the five authorities
    assert (rows["801"].quartile_25, rows["801"].quartile_50, rows["801"].quartile_75) == (10, 20, 35)
    # 10 is on the 25% threshold: band A; 30 is between the median and 75%: C; 50 above: D
    assert [rows[la].quartile_band for la in ("801", "802", "803", "805")] == ["C", "A", "A", "D"]
    # In 2022 (10, 20, 30, 40, 50) 801 was first; now third: two places away from rank 1
    assert _row(out, "801", "escalations_per_10k_children", 2022).national_rank == 1
    assert rows["801"].rank_change == -2 and rows["801"].change_on_previous_year == 20.0


def test_dfe_s_published_figure_is_the_default_value_and_both_stay_beside_it():
    panel = _panel()
    panel["cin_per_10k_children_published"] = np.where(panel.collection_year == 2022, 11.1, np.nan)
    out = lait.la_benchmarks(panel, NEIGHBOURS)
    y22, y23 = (_row(out, "801", "cin_per_10k_children", y) for y in (2022, 2023))
    assert (y22.value, y22.value_basis, y22.value_published, y22.value_warehouse) == (11.1, "published", 11.1, 10.0)
    assert (y23.value, y23.value_basis, y23.value_warehouse) == (20.0, "rebased", 20.0) and pd.isna(y23.value_published)
    assert y22.england_value == 11.1 and y22.sn_average == 11.1  # England and neighbours on the same basis
    assert _row(out, "801", "referrals", 2022).value_basis == "counts"


def test_wide_view_has_a_column_per_measure_and_part():
    out = lait.la_benchmarks(_panel([30, 10, 10, None, 50]), NEIGHBOURS)
    wide = lait.la_benchmarks_wide(out)
    assert len(wide) == 10
    row = wide[(wide.old_la_code == "801") & (wide.collection_year == 2023)].iloc[0]
    assert row["cin_per_10k_children"] == 20.0 and row["cin_per_10k_children_sn_average"] == 60.0
    assert row["cin_per_10k_children_band"] == NOT_APPLICABLE and row["escalations_per_10k_children_band"] == "C"
    assert row["escalations_per_10k_children_rank"] == 3 and row["cin_per_10k_children_basis"] == "rebased"


def test_neighbour_table_says_which_years_each_model_serves():
    names = pd.DataFrame({"old_la_code": ["801", "802", "803", "804"], "la_name": ["LA1", "LA2", "LA3", "LA4"],
                          "area_code": ["E1", "E2", "E3", "E4"]})
    table = lait.neighbour_table(NEIGHBOURS, names)
    years = table.drop_duplicates("model").set_index("model")[["first_collection_year", "last_collection_year"]]
    assert pd.isna(years.loc["2021", "first_collection_year"]) and years.loc["2021", "last_collection_year"] == 2022
    assert years.loc["2025", "first_collection_year"] == 2023 and pd.isna(years.loc["2025", "last_collection_year"])
