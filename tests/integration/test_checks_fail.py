"""Every asset check of the code location, shown failing.

The warehouse is built once (``built_warehouse``); each case copies the
DuckDB files, damages one table with SQL, calls the check function on the
copy and asserts that it fails and names the damaged row. A check that
cannot be made to fail here guards nothing; `test_every_check_has_a_failing_case`
keeps the list complete as checks are added.
"""
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource

from fact22_assets.defs.casework import checks as casework
from fact22_assets.defs.did import checks as did
from fact22_assets.defs.report.assets import REPORT_FILE, report_completeness, report_figure_names
from fact22_assets.defs.statistics.marts import checks as marts
from fact22_assets.defs.statistics.raw import checks as raw
from fact22_assets.defs.statistics.staging import checks as staging
from fact22_assets.lifecycle.dictionary import every_column_described

CE_2012 = "area_name = 'Cheshire East' AND collection_year = 2012"


def _name(check) -> str:
    return next(iter(check.check_specs)).name


def _case(check, damage: list[str], names: str, restricted: bool = False, both: bool = False):
    return pytest.param(check, damage, names, restricted, both, id=_name(check))


# check function, SQL that damages one table, text the failure must show (the row it names)
CASES = [
    _case(raw.raw_cin_sfr_cells_valid,
          [f"UPDATE raw.cin_sfr SET value = -7 WHERE {CE_2012} AND measure = 'closures'"], "Cheshire East"),
    _case(raw.raw_cin_ees_cells_valid,
          ["UPDATE raw.cin_ees SET value_status = 'invalid' "
           "WHERE area_name = 'Cheshire East' AND collection_year = 2016 AND measure = 'referrals'"], "Cheshire East"),
    _case(raw.raw_ons_population_valid,
          ["UPDATE raw.ons_population SET population = 0 WHERE area_code = 'E06000049' AND mid_year = 2012 "
           "AND age_group = 'all_ages'"], "Cheshire East"),
    _case(raw.raw_la_lookup_valid,
          ["UPDATE raw.la_lookup SET region_code = 'North West' WHERE old_la_code = '895'"], "Cheshire East"),
    _case(staging.cin_area_year_valid,
          [f"UPDATE staging.cin_area_year SET closures = -1 WHERE {CE_2012}"], "Cheshire East"),
    _case(staging.rereferrals_within_referrals,
          [f"UPDATE staging.cin_area_year SET rereferrals = referrals + 1 WHERE {CE_2012}"], "Cheshire East"),
    _case(staging.cin_every_authority_in_exactly_its_years,
          ["DELETE FROM staging.cin_area_year WHERE area_name = 'Cumbria' AND collection_year = 2015"],
          "area_name=Cumbria, collection_year=2015"),
    _case(staging.authority_codes_live,
          ["UPDATE staging.cin_area_year_vintages SET area_code = 'E06000050' "
           f"WHERE {CE_2012} AND geographic_level = 'Local authority'"], "Cheshire East"),
    _case(staging.authorities_sum_to_published_totals,
          ["UPDATE staging.cin_area_year SET referrals = 2 * referrals "
           "WHERE area_name = 'Cheshire East' AND collection_year = 2016"], "area=E12000002"),
    _case(staging.population_sums_to_england_less_known_gaps,
          ["UPDATE staging.population_area_year SET population_all_ages = 2 * population_all_ages "
           "WHERE area_code = 'E06000049' AND mid_year = 2012"], "mid_year=2012"),
    _case(staging.population_valid,
          ["UPDATE staging.population_area_year SET population_all_ages = 5 "
           "WHERE area_code = 'E06000049' AND mid_year = 2012"], "895"),
    _case(marts.cin_rates_unique_and_within_bounds,
          # a per-1,000 slip: every closures rate ten times too small
          ["UPDATE marts.cin_rates SET closures_per_10k = closures_per_10k / 10"], "Shropshire"),
    _case(marts.cin_rates_coverage,
          ["DELETE FROM marts.cin_rates WHERE geographic_level = 'National' AND collection_year = 2016"],
          "year=2015-16"),
    _case(marts.releases_agree_on_overlap,
          ["UPDATE marts.revisions SET kind = 'revised value', new_value = 6 "
           "WHERE area_name = 'City of London' AND collection_year_label = '2021-22' AND measure = 'rereferrals'"],
          "City of London"),
    _case(did.did_results_valid,
          ["UPDATE marts.did_results SET p_classical = 1.5 WHERE method = 'ols' AND outcome = 'closures_per_10k'"],
          "closures_per_10k"),
    _case(did.did_two_by_two_recomputes,
          ["UPDATE marts.did_results SET estimate = estimate + 1 "
           "WHERE method = 'difference_of_means' AND outcome = 'escalations_per_10k'"], "escalations_per_10k"),
    _case(did.one_valid_comparator,
          ["UPDATE marts.comparator_ranking SET selected = false WHERE outcome = 'rereferrals_per_10k'"],
          "rereferrals_per_10k"),
    _case(every_column_described,
          ["COMMENT ON COLUMN marts.cin_rates.closures_per_10k IS ''"], "closures_per_10k"),
    _case(casework.restricted_randomisation_valid,
          ["UPDATE restricted.randomisation SET child_key = (SELECT child_key FROM restricted.randomisation "
           "WHERE source_row = 2 AND trial_id = 'fact22_crewe') WHERE source_row = 3 AND trial_id = 'fact22_crewe'"],
          "source_row=3", restricted=True),
    _case(casework.restricted_risk_notes_valid,
          ["UPDATE restricted.risk_notes SET arm = 'PILOT' WHERE source_row = 5"], "source_row=5", restricted=True),
    _case(casework.restricted_risk_scores_valid,
          ["UPDATE restricted.risk_scores SET total_score = total_score + 1 WHERE source_row = 7"], "source_row=7",
          restricted=True),
    _case(casework.restricted_service_mi_valid,
          ["UPDATE restricted.service_mi SET data_origin = 'COUNCIL' WHERE source_row = 9"], "data_origin",
          restricted=True),
    _case(casework.rct_results_valid,
          ["UPDATE marts.rct_results SET p_value = 1.5 WHERE analysis = 'itt' AND subgroup = 'all' "
           "AND outcome = 'closed' AND trial_id = 'fact22_crewe'"], "closed"),
    _case(casework.rct_results_too_few_events_flagged,
          ["UPDATE marts.rct_results SET status = 'estimated' WHERE analysis = 'itt' AND outcome = 'escalated' "
           "AND trial_id = 'fact22_crewe'"], "escalated", both=True),
    # the disclosure checks: a share put back beside its denominator, a sum with one withheld cell, a small count shown
    _case(casework.rct_results_no_count_1_to_5_recoverable,
          ["UPDATE marts.rct_results SET treated_rate_observed = 4 / 84 WHERE analysis = 'itt' AND subgroup = 'all' "
           "AND outcome = 'escalated' AND trial_id = 'fact22_crewe'"], "treated_rate_observed x n_treated", both=True),
    _case(casework.rct_balance_no_count_1_to_5_recoverable,
          ["UPDATE marts.rct_balance SET share_treated = 2 / 84 WHERE analysis = 'itt' AND characteristic = 'disabled' "
           "AND trial_id = 'fact22_crewe'"], "characteristic=disabled", both=True),
    _case(casework.service_summary_no_count_1_to_5_recoverable,
          ["UPDATE marts.service_summary SET share = 4 / 380 WHERE category = 'Unknown'"], "category=Unknown",
          both=True),
    _case(casework.service_case_length_by_year_no_count_1_to_5_recoverable,
          # 3 cases of 2019 still open, withheld without a partner: started - ended gives them back
          ["UPDATE marts.service_case_length_by_year SET n_ended = 53, n_open = NULL, n_open_status = 'c' "
           "WHERE start_year = 2019",
           "UPDATE marts.service_summary SET n_families = 30 WHERE measure = 'outcome' AND category = 'open'"],
          "start_year=2019", both=True),
    _case(casework.rct_minimum_detectable_effects_no_count_1_to_5_recoverable,
          ["UPDATE marts.rct_minimum_detectable_effects SET n_control = 4 WHERE outcome = 'closed' "
           "AND trial_id = 'fact22_crewe'"], "closed", both=True),
    _case(casework.case_length_tobit_no_count_1_to_5_recoverable,
          ["UPDATE marts.case_length_tobit SET n_left_censored = 3 WHERE term = 'treated' "
           "AND trial_id = 'fact22_crewe'"], "treated", both=True),
    _case(casework.risk_scores_by_arm_no_count_1_to_5_recoverable,
          ["UPDATE marts.risk_scores_by_arm SET n_cases = 2 WHERE arm = 'CEC' AND time_point = 'latest_2019'"],
          "latest_2019", both=True),
    _case(casework.risk_score_changes_no_count_1_to_5_recoverable,
          ["UPDATE marts.risk_score_changes SET n_cases = 5 WHERE arm = 'FACT22' AND to_time_point = 'latest_2019' "
           "AND from_time_point = 'referral_2015'"], "referral_2015", both=True),
]


@pytest.fixture
def warehouse_copy(built_warehouse, tmp_path) -> tuple[Path, Path]:
    """Private copies of the built warehouse and its restricted file."""
    restricted = built_warehouse.parent / "restricted" / "casework.duckdb"
    copies = tmp_path / "fact22.duckdb", tmp_path / "casework.duckdb"
    shutil.copy(built_warehouse, copies[0])
    shutil.copy(restricted, copies[1])
    return copies


def _evidence(result: dg.AssetCheckResult) -> str:
    parts = [result.description or ""]
    for value in result.metadata.values():
        parts.append(str(getattr(value, "value", value)))
    return "\n".join(parts)


def _damage(path: Path, statements: list[str]) -> None:
    con = duckdb.connect(str(path))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


@pytest.mark.parametrize(("check", "damage", "names", "restricted", "both"), CASES)
def test_check_passes_on_the_build_and_fails_on_damage(warehouse_copy, check, damage, names, restricted, both):
    warehouse, restricted_file = warehouse_copy
    resources = {"duckdb": DuckDBResource(database=str(warehouse))}
    if restricted:
        resources = {"restricted_duckdb": DuckDBResource(database=str(restricted_file))}
    if both:
        resources["restricted_duckdb"] = DuckDBResource(database=str(restricted_file))
    assert check(**resources).passed, _name(check)
    _damage(restricted_file if restricted else warehouse, damage)
    result = check(**resources)
    assert not result.passed
    assert names in _evidence(result), _evidence(result)[:2000]


def test_coverage_fails_on_a_row_after_an_authority_ended(warehouse_copy):
    warehouse, _ = warehouse_copy
    _damage(warehouse, ["INSERT INTO staging.cin_area_year SELECT * REPLACE (2024 AS collection_year) "
                        "FROM staging.cin_area_year WHERE area_name = 'Cumbria' AND collection_year = 2023"])
    result = staging.cin_every_authority_in_exactly_its_years(duckdb=DuckDBResource(database=str(warehouse)))
    assert not result.passed
    assert "row outside the years the authority existed (2010 to 2023)" in result.description


def test_population_fails_on_an_authority_without_estimate_outside_the_known_gaps(warehouse_copy):
    warehouse, _ = warehouse_copy
    _damage(warehouse, ["UPDATE staging.population_area_year SET population_all_ages = NULL "
                        "WHERE area_code = 'E06000049' AND mid_year = 2015"])
    result = staging.population_sums_to_england_less_known_gaps(duckdb=DuckDBResource(database=str(warehouse)))
    assert not result.passed
    assert "unexplained_missing=895" in result.description


def test_published_totals_fail_on_a_shortfall_where_nothing_is_withheld(warehouse_copy):
    warehouse, _ = warehouse_copy
    _damage(warehouse, ["UPDATE staging.cin_area_year SET closures = 0 "
                        "WHERE area_name = 'Cheshire East' AND collection_year = 2016"])
    result = staging.authorities_sum_to_published_totals(duckdb=DuckDBResource(database=str(warehouse)))
    assert not result.passed
    assert "authorities fall short although none is withheld" in result.description


def test_rate_bounds_fail_on_a_rate_per_100000(warehouse_copy):
    warehouse, _ = warehouse_copy
    _damage(warehouse, ["UPDATE marts.cin_rates SET escalations_per_10k = escalations_per_10k * 10"])
    result = marts.cin_rates_unique_and_within_bounds(duckdb=DuckDBResource(database=str(warehouse)))
    assert not result.passed
    assert "escalations_per_10k_unless_zero" in result.description


def test_report_complete_fails_on_a_missing_figure(built_warehouse):
    from fact22_assets.glue.studies import studies

    html = (built_warehouse.parent / "outputs" / REPORT_FILE).read_text()
    names = report_figure_names(studies()[0].study.outcomes)
    assert report_completeness(html, names, synthetic=True) == []
    broken = html.replace(f'data-figure="{names[0]}"', 'data-figure="gone"')
    assert report_completeness(broken, names, synthetic=True) == [f"figure {names[0]} not embedded"]


# Checks shown failing elsewhere, where their bad input is a whole refresh or a run's history.
SHOWN_ELSEWHERE = {
    "report_complete": "test_report_complete_fails_on_a_missing_figure (above)",
    "raw_cin_ees_consistent_with_earlier_releases": "tests/integration/test_refresh.py: a landed release with a "
                                                    "dropped digit, cut at a line boundary, values moved between rows",
    "serves_latest_build": "tests/integration/test_publication_status.py: a failed attempt after a publication",
}


def test_every_check_has_a_failing_case():
    from fact22_assets.definitions import defs

    names = {key.name for key in defs().resolve_asset_graph().asset_check_keys}
    shown = {_name(c.values[0]) for c in CASES} | set(SHOWN_ELSEWHERE)
    assert names == shown, (sorted(names - shown), sorted(shown - names))


# --- the disclosure attack against the marts as built before secondary suppression (frozen) and now

BEFORE = Path(__file__).resolve().parents[1] / "fixtures" / "casework_marts_before_issue11"


# The frozen marts predate trials as configuration: their FACT22 and CEC columns are the treated and control ones.
RENAMED = {"n_fact22": "n_treated", "n_cec": "n_control", "events_fact22": "events_treated",
           "events_cec": "events_control", "fact22_rate_observed": "treated_rate_observed",
           "cec_rate_observed": "control_rate_observed", "cec_rate_if_fact22": "control_rate_if_treated",
           "count_fact22": "count_treated", "count_cec": "count_control", "share_fact22": "share_treated",
           "share_cec": "share_control", "cec_base_rate": "control_base_rate"}


def _frozen_marts() -> dict[str, pd.DataFrame]:
    def renamed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.rename(columns={old + suffix: new + suffix for old, new in RENAMED.items()
                                     for suffix in ("", "_status", "_ci_low", "_ci_high")})

    return {f"marts.{p.stem}": renamed(pd.read_csv(p)) for p in sorted(BEFORE.glob("*.csv"))}


def test_the_attack_recovers_what_the_old_marts_leaked():
    from fact22_assets.core.casework.disclosure import attack

    findings = attack(_frozen_marts())
    found = set(zip(findings["mart"], findings["row"], findings["column"], findings["route"], strict=True))
    assert ("marts.rct_results", "analysis=itt, outcome=escalated", "events_treated",
            "treated_rate_observed x n_treated") in found                     # 0.047619 x 84 = 4 escalations
    assert ("marts.rct_balance", "analysis=itt, characteristic=disabled", "count_treated",
            "share_treated x n_treated") in found                             # 0.0238 x 84 = 2 disabled children
    assert ("marts.service_summary", "measure=location, category=Macclesfield", "n_families",
            "share x n_total") in found                                       # 0.1895 x 380 = 72
    assert ("marts.service_summary", "measure=location, category=Unknown", "n_families",
            "share x n_total") in found                                       # 0.0105 x 380 = 4
    assert ("marts.rct_results", "analysis=excluding_contaminated, outcome=closed", "n_control",
            "difference from the itt row") in found                           # 44 - 39 = 5
    assert findings["small"].sum() >= 20


def test_disclosure_checks_fail_on_the_old_marts_and_pass_on_the_new(warehouse_copy):
    warehouse, restricted = warehouse_copy
    resources = {"duckdb": DuckDBResource(database=str(warehouse)),
                 "restricted_duckdb": DuckDBResource(database=str(restricted))}
    checks = {"marts.rct_results": casework.rct_results_no_count_1_to_5_recoverable,
              "marts.rct_balance": casework.rct_balance_no_count_1_to_5_recoverable,
              "marts.service_summary": casework.service_summary_no_count_1_to_5_recoverable}
    for check in checks.values():
        assert check(**resources).passed
    con = duckdb.connect(str(warehouse))
    for table, frame in _frozen_marts().items():
        con.register("frozen", frame)
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM frozen")
        con.unregister("frozen")
    con.close()
    for table, check in checks.items():
        result = check(**resources)
        assert not result.passed, table
        assert "counts of 1 to 5 a reader can work out" in result.description


def test_the_attack_recovers_nothing_from_the_built_marts(built_warehouse):
    from fact22_assets.core.casework.disclosure import SPECS, attack

    con = duckdb.connect(str(built_warehouse), read_only=True)
    marts_now = {table: con.execute(f"SELECT * FROM {table}").df() for table in SPECS}
    con.close()
    findings = attack(marts_now)
    assert findings.empty, findings.to_string()


# --- census and trials (data/trials.yaml): each check of the census returns, the trials' tables and every
# casework mart's own invariants, shown failing on damage. Added to CASES (collected after this module loads),
# so the test above runs them and the completeness test counts them.

_FACT22 = "trial_id = 'fact22_crewe'"
CENSUS_CASES = [
    _case(casework.census_returns_follow_dfe_rules,
          # an episode closed the day before its referral (DfE rule 8630)
          ["UPDATE restricted.census_episodes SET closure_date = referral_date - INTERVAL 1 DAY, "
           "reason_for_closure = 'RC7' WHERE rowid = (SELECT min(rowid) FROM restricted.census_episodes "
           "WHERE closure_date IS NOT NULL AND referral_date > DATE '2015-04-02' AND collection_year = 2016)"],
          "8630", restricted=True),
    _case(casework.census_children_one_per_return,
          ["INSERT INTO restricted.census_children SELECT * FROM restricted.census_children "
           "WHERE rowid = (SELECT min(rowid) FROM restricted.census_children)"], "source_line=", restricted=True),
    _case(casework.restricted_trial_cases_valid,
          [f"UPDATE restricted.trial_cases SET closed = NULL WHERE {_FACT22} AND rereferred IS NOT NULL "
           "AND rowid = (SELECT min(rowid) FROM restricted.trial_cases WHERE rereferred IS NOT NULL)"],
          "known_together", restricted=True),
    _case(casework.rct_balance_shares_follow_counts,
          [f"UPDATE marts.rct_balance SET share_treated = share_treated + 0.1 WHERE {_FACT22} AND analysis = 'itt' "
           "AND characteristic = 'female'"], "characteristic=female"),
    _case(casework.rct_minimum_detectable_effects_bracket_the_base,
          [f"UPDATE marts.rct_minimum_detectable_effects SET mde_below = mde_below + 0.05 WHERE {_FACT22} "
           "AND outcome = 'closed'"], "outcome=closed"),
    _case(casework.case_length_tobit_terms_and_intervals,
          [f"UPDATE marts.case_length_tobit SET ci_low = estimate + 1 WHERE {_FACT22} AND term = 'treated'"],
          "term=treated"),
    _case(casework.risk_scores_by_arm_total_is_sum,
          ["UPDATE marts.risk_scores_by_arm SET mean_total_score = mean_total_score + 1 WHERE arm = 'CEC' "
           "AND time_point = 'six_months_2016'"], "time_point=six_months_2016"),
    _case(casework.risk_score_changes_change_is_difference,
          ["UPDATE marts.risk_score_changes SET mean_change = mean_change + 1 WHERE arm = 'FACT22' "
           "AND to_time_point = 'latest_2019' AND from_time_point = 'six_months_2016'"], "to_time_point=latest_2019"),
    _case(casework.service_summary_shares_follow_counts,
          ["UPDATE marts.service_summary SET share = share + 0.01 WHERE category = 'Crewe'"], "category=Crewe"),
    _case(casework.service_case_length_by_year_started_is_ended_plus_open,
          ["UPDATE marts.service_case_length_by_year SET n_ended = n_ended + 1 WHERE start_year = 2016"],
          "start_year=2016"),
    # a council's 2016-17 closures that do not match what DfE published: the build is refused naming the cell
    _case(casework.census_reconciles_with_published,
          ["UPDATE marts.census_reconciliation SET census_value = census_value - 12, difference = -12, "
           "within_tolerance = false WHERE authority_code = 'E06000049' AND collection_year = 2017 "
           "AND measure = 'closures'"], "collection_year=2017, measure=closures"),
    _case(casework.census_reconciliation_no_count_1_to_5_recoverable,
          ["UPDATE marts.census_reconciliation SET census_value = 3 WHERE authority_code = 'E09000010' "
           "AND collection_year = 2021 AND measure = 'escalations'"], "collection_year=2021", both=True),
]
CASES.extend(CENSUS_CASES)


def test_a_difference_outside_the_tolerance_fails_even_if_marked_within(warehouse_copy):
    """The reconciliation check recomputes: a census value 12 below what DfE published is outside a tolerance of 0,
    whatever the mart's within_tolerance says."""
    warehouse, _ = warehouse_copy
    _damage(warehouse, ["UPDATE marts.census_reconciliation SET census_value = census_value - 12, difference = -12 "
                        "WHERE authority_code = 'E06000049' AND collection_year = 2018 AND measure = 'referrals'"])
    result = casework.census_reconciles_with_published(duckdb=DuckDBResource(database=str(warehouse)))
    assert not result.passed
    assert "collection_year=2018, measure=referrals" in _evidence(result)


def test_the_escalations_come_back_across_marts_when_the_tobits_n_is_published(warehouse_copy):
    """RR1067's route, on the built marts: put the Tobit's sample size (122) back beside closed n (126) and 0
    control escalations, and the check on rct_results finds the withheld 4."""
    from fact22_assets.core.casework.disclosure import ACROSS

    warehouse, restricted_file = warehouse_copy
    resources = {"duckdb": DuckDBResource(database=str(warehouse)),
                 "restricted_duckdb": DuckDBResource(database=str(restricted_file))}
    check = casework.rct_results_no_count_1_to_5_recoverable
    assert check(**resources).passed
    cases = duckdb.connect(str(restricted_file), read_only=True)
    n = cases.execute("SELECT count(*) FROM restricted.trial_cases WHERE trial_id = 'fact22_crewe' AND closed IS NOT "
                      "NULL AND escalated = 0 AND female IS NOT NULL AND under_11 IS NOT NULL").fetchone()[0]
    censored = cases.execute("SELECT count(*) FROM restricted.trial_cases WHERE trial_id = 'fact22_crewe' AND closed "
                             "= 0 AND escalated = 0 AND under_11 IS NOT NULL").fetchone()[0]
    cases.close()
    assert n == 122
    _damage(warehouse, [f"UPDATE marts.case_length_tobit SET n_cases = {n}, n_cases_status = NULL, "
                        f"n_right_censored = {censored}, n_right_censored_status = NULL WHERE trial_id = 'fact22_crewe'"])
    result = check(**resources)
    assert not result.passed
    evidence = _evidence(result)
    assert "outcome=escalated" in evidence and "events_treated" in evidence and ACROSS in evidence
