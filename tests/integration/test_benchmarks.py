"""marts.la_benchmarks against DfE's own published figures and against plain
SQL recomputations that do not use core/benchmarks.py."""
import pandas as pd
import pytest

from fact22_assets.settings import REPO_ROOT

EES_2025 = REPO_ROOT / "data" / "dfe_cin" / "ees_cin_2025_release"
EES_2022 = REPO_ROOT / "data" / "dfe_cin" / "ees_cin_2022_release" / "data"


def _dfe(path, column: str) -> pd.DataFrame:
    """England and regional values of one column of a DfE EES file, as printed."""
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    frame = frame[frame["geographic_level"].isin(["National", "Regional"])]
    return pd.DataFrame({"level": frame["geographic_level"],
                         "code": frame["region_code"].where(frame["geographic_level"] == "Regional",
                                                            frame["country_code"]),
                         "collection_year": frame["time_period"].astype(int),
                         "dfe": pd.to_numeric(frame[column], errors="coerce")}).dropna()


def _ours(warehouse_sql, measure: str) -> pd.DataFrame:
    """England's and each region's value as marts.la_benchmarks carries it beside each authority."""
    return warehouse_sql("""
        SELECT 'National' AS level, 'E92000001' AS code, collection_year, any_value(england_value) AS ours
        FROM marts.la_benchmarks WHERE measure = ? GROUP BY collection_year
        UNION ALL
        SELECT 'Regional', region_code, collection_year, any_value(region_value)
        FROM marts.la_benchmarks WHERE measure = ? AND region_value IS NOT NULL GROUP BY region_code, collection_year
    """, [measure, measure])


def test_rereferral_percentage_matches_dfe_for_england_and_every_region(warehouse_sql):
    dfe = _dfe(EES_2025 / "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv", "rereferral_percent")
    both = dfe.merge(_ours(warehouse_sql, "rereferral_percentage"), on=["level", "code", "collection_year"])
    assert len(both) >= 13 * 9  # England and the regions, 2012-13 to 2024-25
    assert set(both[both.level == "National"].collection_year) == set(range(2013, 2026))
    # DfE prints one decimal from unrounded counts; the counts it publishes are rounded to the nearest 10.
    gap = (both.ours - both.dfe).abs()
    assert gap.max() < 0.1, both.assign(gap=gap).sort_values("gap").tail()


@pytest.mark.parametrize("measure, path, column", [
    ("cin_per_10k_children", EES_2022 / "b1_children_in_need_2013_to_2022.csv", "At31_episodes_rate"),
    ("escalations_per_10k_children", EES_2022 / "d1_child_protection_plans_2013_to_2022.csv", "CPP_start_rate"),
    ("referrals_per_10k_children", EES_2022 / "c1_children_in_need_referrals_and_rereferrals_2013_to_2022.csv",
     "Referrals_rate"),
])
def test_england_rates_per_10k_children_match_dfe_within_the_population_revisions(warehouse_sql, measure, path, column):
    """DfE's 2022 release printed rates on the populations of its day; the warehouse uses populations revised
    after the 2021 Census, so England's rate may differ by up to 3%, and by less in earlier years."""
    dfe = _dfe(path, column)
    both = dfe[dfe.level == "National"].merge(_ours(warehouse_sql, measure), on=["level", "code", "collection_year"])
    assert set(both.collection_year) == set(range(2013, 2023))
    relative = (both.ours - both.dfe).abs() / both.dfe
    assert relative.max() < 0.03, both
    early = both[both.collection_year <= 2015]
    assert ((early.ours - early.dfe).abs() / early.dfe).max() < 0.01, early


def test_england_counts_match_the_2025_release_exactly(warehouse_sql):
    b1 = _dfe(EES_2025 / "b1_children_in_need_2013_to_2025.csv", "At31_episodes")
    ours = _ours(warehouse_sql, "cin_at_31_march")
    both = b1[b1.level == "National"].merge(ours, on=["level", "code", "collection_year"])
    assert len(both) == 13 and (both.ours == both.dfe).all(), both


def test_cheshire_east_2024_25_against_an_independent_recomputation(warehouse_sql):
    row = warehouse_sql("SELECT * FROM marts.la_benchmarks WHERE la_name = 'Cheshire East' "
                        "AND collection_year = 2025 AND measure = 'cin_per_10k_children'")
    assert len(row) == 1
    row = row.iloc[0]
    # Plain SQL over marts.cin_rates and the published neighbour list (2025 model from 2022-23).
    expected = warehouse_sql("""
        WITH la AS (SELECT old_la_code, cin_per_10k_children AS v FROM marts.cin_rates
                    WHERE geographic_level = 'Local authority' AND collection_year = 2025),
        me AS (SELECT v FROM la WHERE old_la_code = '895'),
        sn AS (SELECT avg(la.v) AS sn_average, count(la.v) AS sn_count FROM raw.statistical_neighbours n
               JOIN la ON la.old_la_code = n.neighbour_old_la_code WHERE n.model = '2025' AND n.old_la_code = '895')
        SELECT me.v AS value, sn.sn_average, sn.sn_count,
               (SELECT count(*) + 1 FROM la WHERE la.v > me.v) AS national_rank,
               (SELECT count(v) FROM la) AS ranked,
               (SELECT 10000.0 * sum(cin_at_31_march) / sum(population_0_17) FROM marts.cin_rates
                WHERE geographic_level = 'National' AND collection_year = 2025) AS england
        FROM me, sn""").iloc[0]
    assert row.value == pytest.approx(expected.value)
    assert row.sn_average == pytest.approx(expected.sn_average) and row.sn_count == expected.sn_count == 10
    assert row.national_rank == expected.national_rank and row.ranked_authorities == expected.ranked
    quarter = -(-4 * int(expected.national_rank) // int(expected.ranked))  # ceil
    assert row.quartile_band == "ABCD"[quarter - 1]
    assert row.england_value == pytest.approx(expected.england)
    assert row.sn_model == "2025"


def test_neighbours_table_names_both_sides(warehouse_sql):
    ce = warehouse_sql("SELECT * FROM marts.statistical_neighbours WHERE la_name = 'Cheshire East' AND model = '2025' "
                       "ORDER BY neighbour_rank")
    assert list(ce.neighbour_rank) == list(range(1, 11))
    assert ce.neighbour_la_name.notna().all() and ce.neighbour_area_code.str.startswith("E").all()
    raw = warehouse_sql("SELECT neighbour_old_la_code FROM raw.statistical_neighbours WHERE model = '2025' "
                        "AND old_la_code = '895' ORDER BY neighbour_rank")
    assert list(ce.neighbour_old_la_code) == list(raw.neighbour_old_la_code)


def test_wide_view_agrees_with_the_long_table(warehouse_sql):
    wide = warehouse_sql("SELECT cin_per_10k_children, cin_per_10k_children_sn_average, cin_per_10k_children_band "
                         "FROM marts.la_benchmarks_wide WHERE la_name = 'Cheshire East' AND collection_year = 2025")
    long = warehouse_sql("SELECT value, sn_average, quartile_band FROM marts.la_benchmarks WHERE la_name = "
                         "'Cheshire East' AND collection_year = 2025 AND measure = 'cin_per_10k_children'")
    assert wide.iloc[0].tolist() == long.iloc[0].tolist()
