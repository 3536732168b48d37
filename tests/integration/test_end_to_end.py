"""Tier 3: the whole graph materialised into a temporary DuckDB file, read back with SQL."""
# Cheshire East 2012-13, as published in SFR45/2013 and the EES releases.
CHESHIRE_EAST_2012_13 = {"referrals": 2882, "rereferrals": 798, "cin_at_31_march": 1901, "closures": 2076,
                         "escalations": 238}


def test_cheshire_east_every_year_with_three_rates(warehouse_sql):
    rows = warehouse_sql("SELECT * FROM marts.cin_rates WHERE la_name = 'Cheshire East' ORDER BY collection_year")
    expected = [f"{y - 1}-{y % 100:02d}" for y in range(2011, 2026)]
    assert set(expected) <= set(rows.collection_year_label)
    in_range = rows[rows.collection_year >= 2011]
    assert in_range[["closures_per_10k", "rereferrals_per_10k", "escalations_per_10k"]].notna().all().all()
    year = rows[rows.collection_year_label == "2012-13"].iloc[0]
    for measure, value in CHESHIRE_EAST_2012_13.items():
        assert year[measure] == value, measure


def test_rate_is_count_over_mid_year_population(warehouse_sql):
    # 2012-13 uses the mid-2012 all-ages estimate: Cheshire East 372,501 in ONS MYE4 (mid-2023 release).
    row = warehouse_sql("SELECT * FROM marts.cin_rates WHERE la_name = 'Cheshire East' AND collection_year = 2013").iloc[0]
    assert row.population_mid_year == 2012 and row.population_all_ages == 372501
    assert abs(row.closures_per_10k - 2076 * 10000 / 372501) < 1e-9


def test_at_least_150_authorities_every_year(warehouse_sql):
    counts = warehouse_sql("SELECT collection_year, count(*) AS n FROM marts.cin_rates "
                           "WHERE geographic_level = 'Local authority' GROUP BY 1")
    assert (counts.n >= 150).all() and set(range(2010, 2026)) <= set(counts.collection_year)


def test_england_and_regions_come_from_published_rows(warehouse_sql):
    # England's CIN at 31 March 2025 as DfE published it (rounded to 10), not a sum of authorities.
    england = warehouse_sql("SELECT cin_at_31_march FROM marts.cin_rates "
                            "WHERE geographic_level = 'National' AND collection_year = 2025")
    assert england.cin_at_31_march.item() == 402400
    regions = warehouse_sql("SELECT count(DISTINCT area_code) AS n FROM marts.cin_rates "
                            "WHERE geographic_level = 'Regional' AND collection_year = 2025")
    assert regions.n.item() == 11  # nine regions plus Inner and Outer London


def test_suppressed_counts_stay_null_with_their_symbol(warehouse_sql):
    hackney = warehouse_sql("SELECT closures, closures_status, closures_per_10k FROM marts.cin_rates "
                            "WHERE la_name = 'Hackney' AND collection_year = 2021").iloc[0]
    assert hackney.closures_status == "x"
    assert hackney.closures != hackney.closures and hackney.closures_per_10k != hackney.closures_per_10k  # NaN


def test_boundary_changes_are_flagged(warehouse_sql):
    status = warehouse_sql("SELECT DISTINCT panel_status FROM marts.cin_rates WHERE old_la_code = '909'").panel_status
    assert status.str.startswith("series ends 2022-23").all()
    recoded = warehouse_sql("SELECT DISTINCT area_code, panel_unit_code, panel_status FROM marts.cin_rates "
                            "WHERE old_la_code = '825' ORDER BY area_code")
    # Buckinghamshire changed its ONS code in 2020 on the same boundary: one consistent panel unit.
    assert set(recoded.area_code) == {"E10000002", "E06000060"}
    assert set(recoded.panel_unit_code) == {"E06000060"} and set(recoded.panel_status) == {"consistent"}


def test_cumbria_population_is_its_successors(warehouse_sql):
    row = warehouse_sql("SELECT population_all_ages, population_area_codes FROM staging.population_area_year "
                        "WHERE old_la_code = '909' AND mid_year = 2011").iloc[0]
    assert row.population_area_codes == "E06000063+E06000064" and row.population_all_ages == 274546 + 225271


def test_every_raw_row_carries_provenance(warehouse_sql):
    for table in ("raw.cin_sfr", "raw.cin_ees", "raw.ons_population"):
        missing = warehouse_sql(f"SELECT count(*) AS n FROM {table} WHERE source_file IS NULL "
                                "OR source_sha256 IS NULL OR publication IS NULL OR loaded_at IS NULL")
        assert missing.n.item() == 0, table
