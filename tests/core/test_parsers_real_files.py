"""Parsers on the real published files, checked against figures published
elsewhere (the PROVENANCE notes and the evaluation's own tables)."""
import pytest

from fact22_assets.core import cin_parsers, population_parsers, reference_parsers
from fact22_assets.core.catalogue import load_catalogue, verify_source
from fact22_assets.settings import REPO_ROOT

CATALOGUE = load_catalogue(REPO_ROOT / "data" / "sources.yaml")
SOURCES = {s.source_id: s for s in CATALOGUE.sources}
# Cheshire East 2012-13 as DfE's SFR45/2013 publishes it (also quoted in PROVENANCE.md).
CHESHIRE_EAST_2013 = {"referrals": 2882, "rereferrals": 798, "cin_at_31_march": 1901, "closures": 2076, "escalations": 238}


def _values(cells, old_la_code, year):
    picked = cells[(cells.old_la_code == old_la_code) & (cells.collection_year == year)]
    return dict(zip(picked.measure, picked.value))


@pytest.mark.parametrize("source", CATALOGUE.sources, ids=lambda s: s.source_id)
def test_every_catalogued_file_matches_its_checksum(source):
    verify_source(source)


@pytest.mark.parametrize("source_id", ["cin_sfr_2012_13", "cin_ees_2022_b1", "cin_ees_2025_b1",
                                       "cin_ees_2025_c1", "cin_ees_2025_d3", "cin_ees_2022_c1"])
def test_cheshire_east_2012_13_in_every_release(source_id):
    source = SOURCES[source_id]
    parse = cin_parsers.parse_sfr if source.family == "dfe_cin_sfr" else cin_parsers.parse_ees
    got = _values(parse(source), "895", 2013)
    for measure, value in got.items():
        assert value == CHESHIRE_EAST_2013[measure], measure
    assert got


def test_old_release_thousands_separators_and_england_row():
    cells = cin_parsers.parse_sfr(SOURCES["cin_sfr_2010_11"])
    england = cells[cells.geographic_level == "National"]
    # OSR26/2011 prints England's CIN at 31 March 2011 as "382,400".
    assert england.loc[england.measure == "cin_at_31_march", "value"].item() == 382400
    assert england.area_code.unique().tolist() == ["E92000001"]
    assert (cells.geographic_level == "Local authority").sum() == 152 * 6


def test_2009_10_has_no_rereferrals_and_says_why():
    cells = cin_parsers.parse_sfr(SOURCES["cin_sfr_2009_10"])
    rereferrals = cells[cells.measure == "rereferrals"]
    assert rereferrals.value.isna().all()
    assert set(rereferrals.value_status) == {"not_collected"}
    assert rereferrals.problem.str.contains("not re-referrals within 12 months").all()


def test_suppressed_cells_stay_null_with_their_symbol():
    cells = cin_parsers.parse_ees(SOURCES["cin_ees_2025_b1"])
    hackney_2021 = cells[(cells.old_la_code == "204") & (cells.collection_year == 2021)]
    assert hackney_2021.value.isna().all() and set(hackney_2021.value_status) == {"x"}


def test_mye4_cumbria_successors_mid_2011():
    # PROVENANCE: Cumberland and Westmorland and Furness mid-2011 are 274,546 and 225,271.
    rows = population_parsers.parse_mye4(SOURCES["ons_mye4_mid2023"])
    mid_2011 = rows[rows.mid_year == 2011].set_index("area_code").population
    assert mid_2011["E06000063"] == 274546 and mid_2011["E06000064"] == 225271


def test_mye4_old_vintage_keeps_one_england_row():
    rows = population_parsers.parse_mye4(SOURCES["ons_mye4_mid2020"])
    assert (rows[rows.mid_year == 2010].area_code == "E92000001").sum() == 1


def test_mid_2024_matches_dfe_children_file_for_england():
    # PROVENANCE: summing ages 0..17 of the mid-2024 CSV gives 12,183,016 for England,
    # the figure in DfE's 0-17 file; our parser reads the DfE file.
    rows = population_parsers.parse_dfe_children(SOURCES["dfe_population_0_17"])
    england_2024 = rows[(rows.area_code == "E92000001") & (rows.mid_year == 2024)]
    assert england_2024.population.item() == 12183016


def test_statistical_neighbours_of_cheshire_east():
    # PROVENANCE lists both models' top-10 for Cheshire East.
    expected = {"2021": ["896", "937", "823", "815", "850", "877", "802", "811", "885", "855"],
                "2025": ["916", "937", "815", "877", "865", "850", "896", "931", "885", "855"]}
    for source_id in ("dfe_sn_2021", "dfe_sn_2025"):
        frame = reference_parsers.parse_statistical_neighbours(SOURCES[source_id])
        ours = frame[frame.old_la_code == "895"].sort_values("neighbour_rank")
        assert ours.neighbour_old_la_code.tolist() == expected[SOURCES[source_id].options["model"]]


def test_deprivation_cheshire_east():
    frame = reference_parsers.parse_deprivation(SOURCES["iod2019_utla"])
    row = frame[frame.utla_code == "E06000049"].iloc[0]
    assert round(row.imd_average_score, 3) == 14.475 and row.imd_rank_of_average_score == 128
