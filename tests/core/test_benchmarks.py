"""Benchmark arithmetic on a hand-made panel: neighbours' mean, rank, band, changes."""
import pandas as pd
import pytest

from fact22_assets.core import benchmarks
from fact22_assets.core.measures import COUNT_NAMES, RATE_NAMES


@pytest.mark.parametrize("year, model", [(2013, "2021"), (2022, "2021"), (2023, "2025"), (2025, "2025")])
def test_model_by_year(year, model):
    assert benchmarks.sn_model(year) == model


@pytest.mark.parametrize("rank, ranked, band", [(1, 8, "A"), (2, 8, "A"), (3, 8, "B"), (4, 8, "B"), (5, 8, "C"),
                                                (7, 8, "D"), (8, 8, "D"), (1, 153, "A"), (38, 153, "A"),
                                                (39, 153, "B"), (118, 153, "D"), (None, 8, None)])
def test_quartile_band(rank, ranked, band):
    assert benchmarks.quartile_band(rank, ranked) == band


def test_every_registry_measure_and_the_headline_percentage_are_benchmarked():
    assert set(benchmarks.MEASURE_NAMES) == {*COUNT_NAMES, *RATE_NAMES, "rereferral_percentage"}
    assert {m.name for m in benchmarks.MEASURES if m.headline} == {
        "cin_per_10k_children", "escalations_per_10k_children", "rereferral_percentage"}


def _panel():
    rows = []
    areas = [("National", "E92000001", "England", None, None), ("Regional", "E12000001", "North", None, "E12000001"),
             *[("Local authority", f"E0600000{i}", f"LA{i}", f"80{i}", "E12000001") for i in range(1, 5)]]
    for year, base in ((2022, 10.0), (2023, 20.0)):
        for level, code, name, old, region in areas:
            i = int(old[-1]) if old else 0
            row = {"geographic_level": level, "area_code": code, "area_name": name, "old_la_code": old,
                   "region_code": region, "region_name": "North" if region else None, "collection_year": year,
                   "collection_year_label": f"{year - 1}-{year % 100}"}
            for m in (*COUNT_NAMES, *RATE_NAMES):
                row[m] = base * (i or 5)
            row["referrals"], row["rereferrals"] = 100.0, 10.0 * (i or 2)
            rows.append(row)
    return pd.DataFrame(rows)


NEIGHBOURS = pd.DataFrame({"model": ["2021", "2021", "2025", "2025"], "old_la_code": ["801", "801", "801", "801"],
                           "neighbour_rank": [1, 2, 1, 2], "neighbour_old_la_code": ["802", "803", "804", "802"],
                           "closeness": "Close"})


def test_benchmarks_of_one_authority():
    out = benchmarks.la_benchmarks(_panel(), NEIGHBOURS)
    cin = out[(out.old_la_code == "801") & (out.measure == "cin_per_10k_children")].set_index("collection_year")
    # 2022: 2021 model, neighbours 802 (20) and 803 (30); 2023: 2025 model, 804 (80) and 802 (40)
    assert cin.loc[2022, "sn_model"] == "2021" and cin.loc[2022, "sn_average"] == 25.0
    assert cin.loc[2023, "sn_model"] == "2025" and cin.loc[2023, "sn_average"] == 60.0
    assert cin.loc[2023, "sn_count"] == 2 and cin.loc[2023, "sn_neighbours"] == 2
    assert cin.loc[2023, "england_value"] == 100.0 and cin.loc[2023, "region_value"] == 100.0
    assert cin.loc[2023, "national_rank"] == 4 and cin.loc[2023, "ranked_authorities"] == 4
    assert cin.loc[2023, "quartile_band"] == "D"
    assert cin.loc[2023, "change_on_previous_year"] == 10.0 and cin.loc[2023, "rank_change"] == 0
    assert pd.isna(cin.loc[2022, "value_previous_year"])
    pct = out[(out.old_la_code == "804") & (out.measure == "rereferral_percentage")].set_index("collection_year")
    assert pct.loc[2023, "value"] == 40.0 and pct.loc[2023, "national_rank"] == 1 and pct.loc[2023, "quartile_band"] == "A"
    assert pct.loc[2023, "england_value"] == 20.0
    lone = out[(out.old_la_code == "803")]
    assert (lone.sn_count == 0).all() and lone.sn_average.isna().all()


def test_wide_view_has_a_column_per_measure_and_part():
    out = benchmarks.la_benchmarks(_panel(), NEIGHBOURS)
    wide = benchmarks.la_benchmarks_wide(out)
    assert len(wide) == 8
    row = wide[(wide.old_la_code == "801") & (wide.collection_year == 2023)].iloc[0]
    assert row["cin_per_10k_children"] == 20.0 and row["cin_per_10k_children_sn_average"] == 60.0
    assert row["cin_per_10k_children_band"] == "D" and row["rereferral_percentage_rank"] == 4
