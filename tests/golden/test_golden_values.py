"""Golden values: marts.cin_rates (current vintage) against an independent
recomputation from the raw published files (tests/golden/raw_published.py),
and against a few numbers typed in by hand from the publications.

Counts and populations must agree exactly, rates to 1e-9 relative. A NULL in
the warehouse must be a NULL here (a suppressed or missing cell), never a 0.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from . import raw_published as raw

YEARS = list(range(2010, 2026))  # collection years 2009-10 .. 2024-25
COUNTS = list(raw.MEASURES)
POPULATIONS = ["population_mid_year", "population_all_ages", "population_0_17"]
RATES = [*raw.RESIDENT_RATES, *raw.CHILD_RATES]
REL = 1e-9

# DfE number -> why it is pinned. Regions, types and boundary histories vary.
AREAS = {
    "England": "England (DfE's published national rows, rounded in EES years)",
    "895": "Cheshire East, the treated unitary (North West)",
    "896": "Cheshire West and Chester, unitary, the report's nearest neighbour",
    "308": "Enfield, Outer London borough (re-referrals missing 2010-11)",
    "212": "Wandsworth, Inner London borough",
    "204": "Hackney, Inner London borough (no return 2020-21 and 2021-22)",
    "352": "Manchester, metropolitan district",
    "390": "Gateshead, metropolitan district recoded E08000020 -> E08000037 in 2013",
    "886": "Kent, shire county (South East; 2009-10 CIN count not supplied)",
    "908": "Cornwall, unitary (South West; 2013-14 not returned)",
    "909": "Cumbria, county split in 2023 (population from its successors' back-cast)",
    "942": "Cumberland, created 2023 from Cumbria",
    "928": "Northamptonshire, county split in 2021 (population = North + West)",
    "837": "Bournemouth, merged into BCP in 2019 (no all-ages estimate on its boundary)",
    "839": "Bournemouth, Christchurch and Poole, created 2019",
    "815": "North Yorkshire, county -> unitary on the same boundary in 2023 (recoded)",
}


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    """The raw recomputation for England and every authority-year, keyed by (key, year)."""
    return raw.rates().rename(columns={"year": "collection_year"}).set_index(["key", "collection_year"])


@pytest.fixture(scope="module")
def actual(warehouse_sql_module) -> pd.DataFrame:
    frame = warehouse_sql_module(
        "SELECT * FROM marts.cin_rates WHERE geographic_level IN ('National', 'Local authority')")
    frame["key"] = np.where(frame["geographic_level"] == "National", raw.NATIONAL_KEY, frame["old_la_code"])
    return frame.set_index(["key", "collection_year"]).sort_index()


@pytest.fixture(scope="module")
def warehouse_sql_module(built_warehouse):
    import duckdb

    con = duckdb.connect(str(built_warehouse), read_only=True)
    yield lambda sql, params=None: con.execute(sql, params or None).df()
    con.close()


def _mismatches(expected: pd.DataFrame, actual: pd.DataFrame, columns: list[str], rel: float = 0.0) -> list[str]:
    """Every cell where the two frames disagree (NULL must meet NULL)."""
    joined = expected[columns].join(actual[columns], how="outer", lsuffix="_raw", rsuffix="_warehouse")
    problems = []
    for column in columns:
        mine, theirs = joined[f"{column}_raw"].astype(float), joined[f"{column}_warehouse"].astype(float)
        both_null = mine.isna() & theirs.isna()
        close = (mine - theirs).abs() <= rel * np.maximum(mine.abs(), theirs.abs())
        for key in joined.index[~(both_null | close)]:
            problems.append(f"{key} {column}: raw {mine[key]!r} warehouse {theirs[key]!r}")
    return problems


def test_recomputation_has_every_year_for_england_and_the_pinned_authorities(expected):
    years = expected.index.to_frame(index=False).groupby("key")["collection_year"].agg(list)
    assert years["England"] == YEARS
    assert years["895"] == YEARS
    assert years["837"] == list(range(2010, 2020))  # Bournemouth ends 2018-19
    assert years["839"] == list(range(2020, 2026))  # BCP starts 2019-20
    assert years["928"] == list(range(2010, 2022))  # Northamptonshire ends 2020-21
    assert years["942"] == [2024, 2025]
    assert set(AREAS) <= set(years.index)


def test_same_area_years_as_the_warehouse(expected, actual):
    assert sorted(expected.index) == sorted(actual.index)


@pytest.mark.parametrize("key", list(AREAS))
def test_counts_exact(key, expected, actual):
    assert _mismatches(expected.loc[[key]], actual.loc[[key]], COUNTS) == []


@pytest.mark.parametrize("key", list(AREAS))
def test_null_counts_carry_a_status(key, actual):
    rows = actual.loc[key]
    for measure in COUNTS:
        null = rows[measure].isna()
        assert (rows.loc[null, f"{measure}_status"] != "published").all(), measure
        assert (rows.loc[~null, f"{measure}_status"] == "published").all(), measure


@pytest.mark.parametrize("key", list(AREAS))
def test_populations_exact(key, expected, actual):
    assert _mismatches(expected.loc[[key]], actual.loc[[key]], POPULATIONS) == []


@pytest.mark.parametrize("key", list(AREAS))
def test_rates(key, expected, actual):
    assert _mismatches(expected.loc[[key]], actual.loc[[key]], RATES, REL) == []


def test_every_authority_year(expected, actual):
    """Beyond the pinned areas: all 150-odd authorities, every year, every column."""
    problems = _mismatches(expected, actual, COUNTS + POPULATIONS) + _mismatches(expected, actual, RATES, REL)
    assert problems == [], problems[:20]


def test_known_gaps_are_null(expected):
    """The recomputation itself: gaps the PROVENANCE documents are NULL, not zero."""
    assert expected["rereferrals"].xs(2010, level="collection_year").isna().all()  # not collected 2009-10
    assert np.isnan(expected.loc[("308", 2011), "rereferrals"])  # Enfield 2010-11 '..'
    assert expected.loc[("204", 2021), COUNTS].isna().all()  # Hackney 2020-21 'x'
    assert np.isnan(expected.loc[("886", 2010), "cin_at_31_march"])  # Kent 2009-10 '..'
    assert np.isnan(expected.loc[("837", 2015), "population_all_ages"])  # no Bournemouth estimate


# --------------------------------------------------------------------------- hand-typed anchors
# Values read by eye from the published files (paths under data/); line
# numbers count the header as line 1.
B1_2025 = "dfe_cin/ees_cin_2025_release/b1_children_in_need_2013_to_2025.csv"
C1_2025 = "dfe_cin/ees_cin_2025_release/c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"
D3_2025 = "dfe_cin/ees_cin_2025_release/d3_cpps_subsequent_plan_2013_to_2025.csv"
ANCHORS = [
    # (key, collection year, column, value)
    ("England", 2016, "closures", 353590),  # B1_2025 line 1478, Ended_episodes (2016, National)
    ("895", 2014, "referrals", 2856),  # C1_2025 line 1834, referral_count (2014, Cheshire East)
    ("895", 2014, "rereferrals", 645),  # C1_2025 line 1834, rereferral_count
    ("895", 2025, "referrals", 2599),  # C1_2025 line 30, referral_count (2025, Cheshire East)
    ("895", 2025, "escalations", 340),  # D3_2025 line 30, CPP_start (2025, Cheshire East)
    ("886", 2019, "escalations", 1404),  # D3_2025 line 1088, CPP_start (2019, Kent)
    ("895", 2013, "closures", 2076),  # SFR45-2013ud.csv line 138 CINEnding1213 = EES 2013 (PROVENANCE check)
    ("352", 2011, "referrals", 10072),  # sfr_underlying_data/2010-11/osr26-2011ud.csv line 50, col 105 Referrals1011
    ("352", 2011, "rereferrals", 3322),  # same row, col 118 ReferralsWithin12mths1011
    ("England", 2010, "referrals", 603700),  # .../2009-10/osr28-2010udv4/osr28-2010ud.csv line 2, Referrals0910
    ("895", 2010, "cin_at_31_march", 2232),  # osr28-2010ud.csv line 138, CINAt310310 "2,232"
    ("895", 2010, "closures", 1603),  # osr28-2010ud.csv line 138, CINEnding0910 "1,603"
    ("895", 2025, "population_0_17", 83041),  # ons_population/ons_mid-year_population_estimates_2012_to_2024.csv line 30
    ("England", 2025, "population_0_17", 12183016),  # same file line 2 (2024, National)
    ("895", 2025, "population_all_ages", 421298),  # ons_population/mye24tablesew.csv line 21, All ages
]


@pytest.mark.parametrize(("key", "year", "column", "value"), ANCHORS,
                         ids=[f"{k}-{y}-{c}" for k, y, c, _ in ANCHORS])
def test_hand_typed_anchor(key, year, column, value, expected, actual):
    assert expected.loc[(key, year), column] == value
    assert actual.loc[(key, year), column] == value


def test_hackney_2020_21_closures_printed_x_are_null(actual):
    # B1_2025 line 792: 2021, Hackney, every measure printed "x"
    assert np.isnan(actual.loc[("204", 2021), "closures"])
    assert actual.loc[("204", 2021), "closures_status"] != "published"


# --------------------------------------------------------------------------- the study's panel


STUDY = raw.study()
# Split after the study window, so eligible throughout it (an earlier warehouse
# excluded them as "broken series": the golden test below found it).
SPLIT_AFTER_WINDOW = {"E10000021": "Northamptonshire (split 2021)", "E10000006": "Cumbria (split 2023)"}


@pytest.fixture(scope="module")
def ranking(warehouse_sql_module) -> pd.DataFrame:
    return warehouse_sql_module(
        "SELECT * FROM marts.comparator_ranking WHERE study_id = $s AND vintage = "
        "(SELECT vintage FROM marts.cin_rates LIMIT 1)", {"s": STUDY.study_id})


@pytest.mark.parametrize("outcome", STUDY.outcomes)
def test_warehouse_eligible_units_are_eligible_from_raw(outcome, ranking):
    theirs = set(ranking.loc[(ranking["outcome"] == outcome) & ranking["eligible"], "unit_code"])
    mine = set(raw.eligible_units(STUDY, outcome))
    assert theirs <= mine, sorted(theirs - mine)
    assert len(theirs) > 100


@pytest.mark.parametrize("outcome", STUDY.outcomes)
def test_eligible_units_equal(outcome, ranking):
    theirs = set(ranking.loc[(ranking["outcome"] == outcome) & ranking["eligible"], "unit_code"])
    assert theirs == set(raw.eligible_units(STUDY, outcome))
    assert set(SPLIT_AFTER_WINDOW) <= theirs


@pytest.mark.parametrize("outcome", STUDY.outcomes)
def test_panel_pre_and_post_rates(outcome, ranking, actual):
    """Every eligible authority's pre-period mean (as ranked) and its yearly rates."""
    eligible = ranking[(ranking["outcome"] == outcome) & ranking["eligible"]].set_index("unit_code")
    means = raw.pre_post_means(STUDY, outcome, list(eligible.index))
    assert list(means.index) == sorted(eligible.index)
    np.testing.assert_allclose(eligible.loc[means.index, "pre_mean"], means["pre"], rtol=REL, atol=0)
    assert means.notna().all().all()
    # The post-period mean from the warehouse's yearly rates of the same units.
    mart = actual.reset_index()
    mart = mart[mart["panel_unit_code"].isin(eligible.index) & mart["collection_year"].isin(STUDY.post_years)]
    post = mart.groupby("panel_unit_code")[outcome].mean()
    np.testing.assert_allclose(post.loc[means.index], means["post"], rtol=REL, atol=0)
