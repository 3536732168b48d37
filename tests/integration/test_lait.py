"""The rates and benchmark marts against DfE's own published files, read here with plain pandas (not the
warehouse's parsers), and against recomputations that do not use core/lait.py."""
import numpy as np
import pandas as pd
import pytest

from fact22_assets.settings import REPO_ROOT

DATA = REPO_ROOT / "data"
EES_2025 = DATA / "dfe_cin" / "ees_cin_2025_release"
EES_2022 = DATA / "dfe_cin" / "ees_cin_2022_release" / "data"
DFE_POPULATION = DATA / "ons_population" / "ons_mid-year_population_estimates_2012_to_2024.csv"


def _file(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, encoding="utf-8-sig")


def _cell(path, column: str, year: int, la_name: str | None = None) -> str:
    """One published cell, as printed: an authority's, or England's when ``la_name`` is None."""
    frame = _file(path)
    at = frame["time_period"].astype(int) == year
    at &= (frame["la_name"] == la_name) if la_name else (frame["geographic_level"] == "National")
    (value,) = frame.loc[at, column]
    return value


def _dfe(path, column: str) -> pd.DataFrame:
    """England and regional values of one column of a DfE EES file, as printed."""
    frame = _file(path)
    frame = frame[frame["geographic_level"].isin(["National", "Regional"])]
    return pd.DataFrame({"level": frame["geographic_level"],
                         "code": frame["region_code"].where(frame["geographic_level"] == "Regional",
                                                            frame["country_code"]),
                         "collection_year": frame["time_period"].astype(int),
                         "dfe": pd.to_numeric(frame[column], errors="coerce")}).dropna()


def _rates(warehouse_sql, column: str) -> pd.DataFrame:
    """England's and each region's value of a column of marts.cin_rates (the warehouse's own)."""
    return warehouse_sql(f"""
        SELECT geographic_level AS level, area_code AS code, collection_year, {column} AS ours
        FROM marts.cin_rates WHERE geographic_level IN ('National', 'Regional')""")


# --- DfE's published rate beside the warehouse's ------------------------------------------------------------


def test_westminster_2021_22_shows_dfe_s_268_6_beside_the_rebased_445_0(warehouse_sql):
    printed = _cell(EES_2022 / "b1_children_in_need_2013_to_2022.csv", "At31_episodes_rate", 2022, "Westminster")
    assert printed == "268.6"
    # Rebased, worked from the files: the 2025 release's count over DfE's mid-2021 0-17 estimate.
    count = float(_cell(EES_2025 / "b1_children_in_need_2013_to_2025.csv", "At31_episodes", 2022, "Westminster"))
    population = _file(DFE_POPULATION)
    (children,) = population.loc[(population["la_name"] == "Westminster") & (population["time_period"] == "2021"),
                                 "population_estimate"].astype(float)
    rebased = 10000 * count / children
    assert children == 30607 and round(rebased, 1) == 445.0  # docs/warehouse.md quotes both
    row = warehouse_sql("SELECT cin_per_10k_children, cin_per_10k_children_published, population_0_17, "
                        "population_0_17_published FROM marts.cin_rates WHERE la_name = 'Westminster' "
                        "AND collection_year = 2022").iloc[0]
    assert row.cin_per_10k_children_published == float(printed)
    assert row.cin_per_10k_children == pytest.approx(rebased, abs=1e-9)
    assert row.population_0_17 == children and row.population_0_17_published == 50701  # DfE's mid-2020 estimate
    bench = warehouse_sql("SELECT value, value_basis, value_published, value_warehouse, polarity, quartile_band, "
                          "national_rank FROM marts.la_benchmarks WHERE la_name = 'Westminster' "
                          "AND collection_year = 2022 AND measure = 'cin_per_10k_children'").iloc[0]
    assert (bench.value, bench.value_basis, bench.value_published) == (268.6, "published", 268.6)
    assert bench.value_warehouse == pytest.approx(rebased, abs=1e-9)
    assert bench.polarity == bench.quartile_band == "Not applicable" and pd.isna(bench.national_rank)


def test_england_2021_22_shows_dfe_s_334_3_beside_the_rebased_343_7(warehouse_sql):
    printed = _cell(EES_2022 / "b1_children_in_need_2013_to_2022.csv", "At31_episodes_rate", 2022)
    assert printed == "334.3"
    count = float(_cell(EES_2025 / "b1_children_in_need_2013_to_2025.csv", "At31_episodes", 2022))
    population = _file(DFE_POPULATION)
    (children,) = population.loc[(population["geographic_level"] == "National")
                                 & (population["time_period"] == "2021"), "population_estimate"].astype(float)
    assert round(10000 * count / children, 1) == 343.7
    row = warehouse_sql("SELECT cin_per_10k_children, cin_per_10k_children_published FROM marts.cin_rates "
                        "WHERE geographic_level = 'National' AND collection_year = 2022").iloc[0]
    assert round(row.cin_per_10k_children, 1) == 343.7 and row.cin_per_10k_children_published == 334.3
    england = warehouse_sql("SELECT DISTINCT england_value FROM marts.la_benchmarks WHERE collection_year = 2022 "
                            "AND measure = 'cin_per_10k_children'")
    assert england.england_value.tolist() == [334.3]


@pytest.mark.parametrize("measure, path, column", [
    ("cin_per_10k_children", EES_2022 / "b1_children_in_need_2013_to_2022.csv", "At31_episodes_rate"),
    ("closures_per_10k_children", EES_2022 / "b1_children_in_need_2013_to_2022.csv", "Ended_episodes_rate"),
    ("escalations_per_10k_children", EES_2022 / "d1_child_protection_plans_2013_to_2022.csv", "CPP_start_rate"),
    ("referrals_per_10k_children", EES_2022 / "c1_children_in_need_referrals_and_rereferrals_2013_to_2022.csv",
     "Referrals_rate"),
    ("rereferral_percentage", EES_2025 / "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
     "rereferral_percent"),
])
def test_every_authority_s_published_figure_is_dfe_s_cell(warehouse_sql, measure, path, column):
    frame = _file(path)
    frame = frame[frame["geographic_level"] == "Local authority"]
    dfe = pd.DataFrame({"old_la_code": frame["old_la_code"], "collection_year": frame["time_period"].astype(int),
                        "dfe": pd.to_numeric(frame[column], errors="coerce")})
    ours = warehouse_sql(f"SELECT old_la_code, collection_year, {measure}_published AS ours FROM marts.cin_rates "
                         "WHERE geographic_level = 'Local authority'")
    both = dfe.merge(ours, on=["old_la_code", "collection_year"])
    assert len(both) >= 1400
    assert ((both.ours == both.dfe) | (both.ours.isna() & both.dfe.isna())).all(), both[both.ours != both.dfe]


def test_rereferral_percentage_from_the_counts_matches_dfe_for_england_and_every_region(warehouse_sql):
    dfe = _dfe(EES_2025 / "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv", "rereferral_percent")
    both = dfe.merge(_rates(warehouse_sql, "rereferral_percentage"), on=["level", "code", "collection_year"])
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
def test_england_rebased_rates_differ_from_dfe_s_only_by_the_population_revision(warehouse_sql, measure, path,
                                                                                 column):
    """DfE's 2022 release printed rates on the populations of its day; the warehouse's own rates use the
    estimates revised after the 2021 Census: England's differs by up to 3%, less in earlier years."""
    dfe = _dfe(path, column)
    both = dfe[dfe.level == "National"].merge(_rates(warehouse_sql, measure), on=["level", "code", "collection_year"])
    assert set(both.collection_year) == set(range(2013, 2023))
    relative = (both.ours - both.dfe).abs() / both.dfe
    assert relative.max() < 0.03, both
    early = both[both.collection_year <= 2015]
    assert ((early.ours - early.dfe).abs() / early.dfe).max() < 0.01, early


def test_england_counts_match_the_2025_release_exactly(warehouse_sql):
    b1 = _dfe(EES_2025 / "b1_children_in_need_2013_to_2025.csv", "At31_episodes")
    ours = _rates(warehouse_sql, "cin_at_31_march")
    both = b1[b1.level == "National"].merge(ours, on=["level", "code", "collection_year"])
    assert len(both) == 13 and (both.ours == both.dfe).all(), both


# --- LAIT's conventions ---------------------------------------------------------------------------------------


def _lait(values: pd.Series, polarity: str) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Rank and band as LAIT's R code gives them, written out by hand: rank(+/-value, ties 'min'); quartiles
    quantile(type 7); Low: A <= q25 < B <= q50 < C <= q75 < D; High lettered the other way."""
    present = values.dropna()
    cuts = np.percentile(present.to_numpy(float), [0, 25, 50, 75, 100])  # numpy's default = R's type 7
    rank = (present if polarity == "Low" else -present).rank(method="min")
    quarter = present.map(lambda v: 0 if v <= cuts[1] else 1 if v <= cuts[2] else 2 if v <= cuts[3] else 3)
    band = quarter.map(lambda q: "ABCD"[q] if polarity == "Low" else "DCBA"[q])
    return rank, band, cuts


def test_cheshire_east_2024_25_ranked_and_banded_as_lait_would(warehouse_sql):
    c1 = _file(EES_2025 / "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv")
    c1 = c1[(c1["geographic_level"] == "Local authority") & (c1["time_period"] == "2025")]
    values = pd.to_numeric(c1.set_index("la_name")["rereferral_percent"], errors="coerce")
    rank, band, cuts = _lait(values, "Low")  # LAIT: re-referrals within 12 months, polarity Low
    row = warehouse_sql("SELECT * FROM marts.la_benchmarks WHERE la_name = 'Cheshire East' AND collection_year = 2025 "
                        "AND measure = 'rereferral_percentage'").iloc[0]
    assert row.value == values["Cheshire East"] == 15.8 and row.value_basis == "published"
    assert row.polarity == "Low"
    assert row.national_rank == rank["Cheshire East"] and row.quartile_band == band["Cheshire East"] == "A"
    assert row.ranked_authorities == values.notna().sum()
    assert [row.quartile_0, row.quartile_25, row.quartile_50, row.quartile_75, row.quartile_100] == \
        pytest.approx(list(cuts))
    # A measure without polarity: no rank, band "Not applicable"; its thresholds are still shown.
    cin = warehouse_sql("SELECT * FROM marts.la_benchmarks WHERE la_name = 'Cheshire East' AND collection_year = 2025 "
                        "AND measure = 'cin_per_10k_children'").iloc[0]
    assert cin.polarity == cin.quartile_band == "Not applicable" and pd.isna(cin.national_rank)
    assert cin.quartile_25 < cin.quartile_50 < cin.quartile_75


def test_escalation_rate_ranked_lower_is_better_on_an_independent_recomputation(warehouse_sql):
    # The warehouse's own 2024-25 rate (no DfE rate for 2024-25 in the files), recomputed in plain SQL.
    la = warehouse_sql("SELECT la_name, 10000.0 * escalations / population_0_17 AS v FROM marts.cin_rates "
                       "WHERE geographic_level = 'Local authority' AND collection_year = 2025").set_index("la_name")["v"]
    rank, band, cuts = _lait(la, "Low")
    got = warehouse_sql("SELECT la_name, value, national_rank, quartile_band, ranked_authorities FROM "
                        "marts.la_benchmarks WHERE collection_year = 2025 AND measure = 'escalations_per_10k_children'"
                        ).set_index("la_name")
    assert (got.ranked_authorities == la.notna().sum()).all()
    present = la.dropna().index
    assert (got.loc[present, "national_rank"].astype(int) == rank[present].astype(int)).all()
    assert (got.loc[present, "quartile_band"] == band[present]).all()
    assert got.loc[la[la.isna()].index, "quartile_band"].isna().all()


def test_cheshire_east_neighbours_each_beside_the_average_on_the_2025_model(warehouse_sql):
    row = warehouse_sql("SELECT * FROM marts.la_benchmarks WHERE la_name = 'Cheshire East' "
                        "AND collection_year = 2025 AND measure = 'cin_per_10k_children'").iloc[0]
    # Plain SQL over marts.cin_rates and DfE's published neighbour list (2025 model from 2022-23).
    expected = warehouse_sql("""
        SELECT n.neighbour_rank, r.la_name, r.cin_per_10k_children AS v
        FROM raw.statistical_neighbours AS n
        JOIN marts.cin_rates AS r ON r.old_la_code = n.neighbour_old_la_code AND r.collection_year = 2025
        WHERE n.model = '2025' AND n.old_la_code = '895' ORDER BY n.neighbour_rank""")
    assert len(expected) == 10 and row.sn_model == "2025" and row.sn_count == 10
    for k, e in enumerate(expected.itertuples(), start=1):
        assert row[f"sn_{k}_la_name"] == e.la_name and row[f"sn_{k}_value"] == pytest.approx(e.v)
    assert row.sn_average == pytest.approx(expected.v.mean())


def test_the_cookbook_s_neighbour_model_is_the_one_in_force(warehouse_sql):
    models = warehouse_sql("SELECT DISTINCT model, first_collection_year, last_collection_year "
                           "FROM marts.statistical_neighbours ORDER BY model")
    assert models.model.tolist() == ["2021", "2025"]
    assert models.last_collection_year[0] == 2022 and models.first_collection_year[1] == 2023
    used = warehouse_sql("SELECT DISTINCT collection_year, sn_model FROM marts.la_benchmarks WHERE collection_year "
                         "IN (2022, 2023, 2025) ORDER BY 1")
    assert used.sn_model.tolist() == ["2021", "2025", "2025"]


def test_neighbours_table_names_both_sides(warehouse_sql):
    ce = warehouse_sql("SELECT * FROM marts.statistical_neighbours WHERE la_name = 'Cheshire East' AND model = '2025' "
                       "ORDER BY neighbour_rank")
    assert list(ce.neighbour_rank) == list(range(1, 11))
    assert ce.neighbour_la_name.notna().all() and ce.neighbour_area_code.str.startswith("E").all()
    raw = warehouse_sql("SELECT neighbour_old_la_code FROM raw.statistical_neighbours WHERE model = '2025' "
                        "AND old_la_code = '895' ORDER BY neighbour_rank")
    assert list(ce.neighbour_old_la_code) == list(raw.neighbour_old_la_code)


def test_wide_view_agrees_with_the_long_table(warehouse_sql):
    wide = warehouse_sql("SELECT rereferral_percentage, rereferral_percentage_sn_average, rereferral_percentage_band, "
                         "rereferral_percentage_basis FROM marts.la_benchmarks_wide WHERE la_name = 'Cheshire East' "
                         "AND collection_year = 2025")
    long = warehouse_sql("SELECT value, sn_average, quartile_band, value_basis FROM marts.la_benchmarks WHERE "
                         "la_name = 'Cheshire East' AND collection_year = 2025 AND measure = 'rereferral_percentage'")
    assert wide.iloc[0].tolist() == long.iloc[0].tolist()


def test_only_one_published_figure_is_declared_to_disagree_with_dfe_s_own_counts(warehouse_sql):
    # docs/warehouse.md: County Durham's 2009-10 referral rate, DfE's own file disagreeing with itself.
    declared = warehouse_sql("SELECT area_name, collection_year, source_column, problem FROM raw.cin_published_rates "
                             "WHERE value_status = 'published' AND problem IS NOT NULL")
    assert declared[["area_name", "collection_year", "source_column"]].values.tolist() == [
        ["Durham", 2010, "Referrals0910Rate"]]  # the name as the 2009-10 file prints it


def test_the_explorer_is_small_and_self_contained(built_warehouse):
    from fact22_assets.defs.report.explorer import EXPLORER_FILE

    page = built_warehouse.parent / "outputs" / EXPLORER_FILE
    text = page.read_text(encoding="utf-8")
    assert page.stat().st_size < 0.6e6  # docs/warehouse.md: about 0.5 MB (with plotly.js embedded it was 7.3 MB)
    assert "<script src" not in text and "Plotly" not in text and "https://" not in text
