"""The measure registry: one entry per measure, and the SQL, checks, labels
and descriptions generated from it."""
import re

import duckdb
import pandas as pd
import pytest

from fact22_assets.core import measures
from fact22_assets.core.did.config import load_studies
from fact22_assets.core.did.study import StudyConfigError
from fact22_assets.settings import REPO_ROOT, SQL_DIR


def test_every_rate_divides_a_registered_count_by_a_population():
    for rate in measures.RATES:
        assert rate.count in measures.COUNT_NAMES
        assert rate.denominator in ("population_all_ages", "population_0_17")
        low, high = rate.bounds
        assert 0 < low < high


@pytest.mark.parametrize("rate", measures.RATES, ids=lambda r: r.name)
def test_bounds_catch_a_tenfold_slip_of_the_values_on_record(rate):
    # Below the lowest non-zero value on record and above the highest, but
    # within a factor of 10 of them: a rate per 1,000 (or per 100,000) moves
    # that extreme row outside.
    low, high = rate.bounds
    observed_low, _, observed_high, _ = measures.OBSERVED[rate.name]
    assert observed_low / 10 < low < observed_low
    assert observed_high < high < observed_high * 10


def test_rate_fragment_computes_per_10000_by_hand():
    # One authority-year worked by hand: 120 closures among 40,000 residents and 8,000 children.
    select = measures.render_sql("SELECT {{ rates c p }} FROM c, p")
    con = duckdb.connect()
    con.execute("CREATE TABLE c AS SELECT 120 AS closures, 30 AS rereferrals, 12 AS escalations, "
                "400 AS referrals, 250 AS cin_at_31_march")
    con.execute("CREATE TABLE p AS SELECT 40000 AS population_all_ages, 8000 AS population_0_17")
    row = con.execute(select).df().iloc[0]
    assert row["closures_per_10k"] == pytest.approx(30.0)  # 120 / 40,000 x 10,000
    assert row["escalations_per_10k"] == pytest.approx(3.0)
    assert row["closures_per_10k_children"] == pytest.approx(150.0)  # 120 / 8,000 x 10,000
    assert row["cin_per_10k_children"] == pytest.approx(312.5)
    assert row["rereferral_percentage"] == pytest.approx(7.5)  # 30 / 400 x 100
    assert list(row.index) == [m.name for m in measures.DERIVED]


def test_no_referrals_gives_no_percentage():
    select = measures.render_sql("SELECT {{ rates c p }} FROM c, p")
    con = duckdb.connect()
    con.execute("CREATE TABLE c AS SELECT 0 AS closures, 0 AS rereferrals, 0 AS escalations, 0 AS referrals, "
                "0 AS cin_at_31_march")
    con.execute("CREATE TABLE p AS SELECT 100 AS population_all_ages, 50 AS population_0_17")
    assert pd.isna(con.execute(select).df().iloc[0]["rereferral_percentage"])


def test_polarity_is_lait_s_and_published_figures_are_what_dfe_prints():
    # DfE's LAIT data dictionary: re-referral percentage and the rate of CP plans started are "Low"; the CIN
    # rate and the referral rate carry "-" (no polarity).
    assert measures.polarity("rereferral_percentage") == measures.LOW
    assert measures.polarity("escalations_per_10k_children") == measures.LOW
    assert measures.polarity("cin_per_10k_children") is None and measures.polarity("referrals") is None
    assert set(measures.PUBLISHED_FIGURES) == {"cin_per_10k_children", "closures_per_10k_children",
                                               "referrals_per_10k_children", "escalations_per_10k_children",
                                               "rereferral_percentage", "population_0_17"}


def test_published_figures_recompute_from_counts_on_dfe_s_denominator():
    # Westminster 2021-22 as DfE printed it: 1,362 children in need at 31 March over its 50,701 children
    # (mid-2020) is 268.6 per 10,000.
    select = measures.render_sql("SELECT {{ recomputed_published c denominator }} AS v FROM c, d")
    con = duckdb.connect()
    con.execute("CREATE TABLE c AS SELECT 1362 AS cin_at_31_march, 10 AS referrals, 2 AS rereferrals, "
                "0 AS closures, 0 AS escalations")
    con.execute("CREATE TABLE d AS SELECT * FROM (VALUES ('cin_per_10k_children', 50701), "
                "('rereferral_percentage', NULL)) AS t(measure, denominator)")
    got = {measure: value for value, measure in con.execute(select.replace("AS v", "AS v, measure")).fetchall()}
    assert round(got["cin_per_10k_children"], 1) == 268.6
    assert got["rereferral_percentage"] == pytest.approx(20.0)


def test_count_pivot_and_columns_follow_the_registry():
    pivot = measures.render_sql("{{ count_pivot }}")
    for count in measures.COUNT_NAMES:
        assert f"FILTER (WHERE measure = '{count}') AS {count}," in pivot + ","
        assert f"AS {count}_status" in pivot
    assert measures.render_sql("{{ counts c }}").count("c.") == 2 * len(measures.COUNT_NAMES)
    assert measures.render_sql("{{ count_names }}") == ", ".join(f"'{c}'" for c in measures.COUNT_NAMES)


def test_an_unknown_fragment_is_refused():
    with pytest.raises(ValueError, match="unknown SQL fragment"):
        measures.render_sql("SELECT {{ outcomes }}")


def test_no_sql_file_retypes_a_measure():
    """Counts and rates appear in sql/ only through the registry's fragments."""
    listed = re.compile(r"\b(" + "|".join(measures.RATE_NAMES) + r")\b")
    for path in SQL_DIR.rglob("*.sql"):
        code = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
        assert not listed.search(code), f"{path.relative_to(REPO_ROOT)} names a rate: use a {{{{ fragment }}}}"


def test_labels_and_descriptions_come_from_one_place():
    assert measures.label("closures_per_10k") == "Closures per 10,000 residents"
    assert measures.title("escalations_per_10k") == "Escalations (child protection plans started) per 10,000 residents"
    assert measures.short("rereferrals_per_10k") == "Re-referrals"
    assert measures.label("not_a_measure") == "not_a_measure"
    described = measures.column_descriptions()
    published = {f"{n}_published" for n in measures.PUBLISHED_FIGURES}
    assert set(described) == {*measures.COUNT_NAMES, *measures.RATE_NAMES, *measures.PERCENTAGE_NAMES, *published}
    assert all(text.strip() for text in described.values())
    # Each rate states its population basis; DfE's own figure says it is on the published basis.
    assert "Population basis: rebased" in described["cin_per_10k_children"]
    assert "cin_per_10k_children_published" in described["cin_per_10k_children"]
    assert "Population basis: published" in described["cin_per_10k_children_published"]


def test_a_study_naming_an_unregistered_outcome_is_refused(tmp_path):
    text = (REPO_ROOT / "data" / "studies.yaml").read_text(encoding="utf-8")
    path = tmp_path / "studies.yaml"
    path.write_text(text.replace("escalations_per_10k]", "escalations_per_1k]", 1), encoding="utf-8")
    with pytest.raises(StudyConfigError, match="escalations_per_1k.*not rates of marts.cin_rates"):
        load_studies(path)


def test_the_registry_refuses_a_rate_of_an_unknown_count(monkeypatch):
    broken = (*measures.RATES, measures.Rate("x_per_10k", "x", measures.RESIDENTS, "x", "x", "x", "x", (0, 1)))
    monkeypatch.setattr(measures, "RATES", broken)
    with pytest.raises(ValueError, match="rates of unknown counts"):
        measures._check_registry()
