"""The calibration shipped in data/calibration/ on a fresh site (the session's build: no `make calibrate`), its
numbers recomputed here without the code under test (scipy's binomial test, a brute-force permutation power), and
a stale or damaged shipped calibration."""
import json
import re
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fact22_assets.core.calibration.files import calibration_code
from fact22_assets.settings import REPO_ROOT
from tests.conftest import run_assets, step_errors
from tests.core.test_report_calibration import _plain_small_p_values

SHIPPED = REPO_ROOT / "data" / "calibration"
OUTCOMES = ["closures_per_10k", "escalations_per_10k", "rereferrals_per_10k"]
P_COLUMNS = {"classical": "p_classical", "hc1": "p_hc1", "permutation": "permutation_p_value",
             "reselected": "reselected_p_value", "post_rmspe": "post_rmspe_p_value", "first_screen": "first_screen"}
FIRST_SCREEN_OTHERS = ["synthetic_did", "penalised_synthetic_control", "twfe_all_donors", "synthetic_control"]
CHESHIRE_EAST = "E06000049"
CALIBRATION_MARTS = ["marts.calibration_runs", "marts.calibration_studies", "marts.estimator_calibration",
                     "marts.detectable_effects"]


def _query(warehouse, sql, params=None) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or None).df()
    finally:
        con.close()


def _build_file(warehouse, result):
    """A run of a few assets writes its own build copy of the warehouse (write-audit-publish) and publishes nothing."""
    return warehouse.parent / "build" / result.run_id / warehouse.name


def test_the_repository_ships_a_calibration_of_every_analysed_outcome():
    manifests = {p.stem: json.loads(p.read_text()) for p in SHIPPED.glob("*.json")}
    assert sorted(manifests) == OUTCOMES
    assert all((SHIPPED / f"{o}.parquet").is_file() for o in OUTCOMES)
    assert all(m["vintage"] == "cin_2025" and m["n_placebo_studies"] >= 300 for m in manifests.values())


def test_the_shipped_calibration_is_current():
    """The shipped files were computed by today's estimator code: after changing it, run `make calibrate` and copy
    warehouse/calibration/ here (data/calibration/README.md), or the report calls the calibration stale."""
    for path in SHIPPED.glob("*.json"):
        assert json.loads(path.read_text())["calibration_code"] == calibration_code(REPO_ROOT), path.name


def test_a_fresh_site_shows_the_shipped_calibration(built_site):
    warehouse = built_site.warehouse
    runs = _query(warehouse, "SELECT * FROM marts.calibration_runs ORDER BY outcome")
    assert runs["outcome"].tolist() == OUTCOMES
    assert (runs["origin"] == "shipped").all() and not runs["stale"].any() and runs["stale_reasons"].isna().all()
    rates = _query(warehouse, """SELECT method, outcome, alpha, min(n_placebo_studies) AS n
                                  FROM marts.estimator_calibration WHERE noise_band = 'all' GROUP BY ALL""")
    assert set(rates["alpha"].round(2)) == {0.05, 0.10} and set(rates["outcome"]) == set(OUTCOMES)
    wide = rates[rates["n"] >= 300].groupby("method")[["outcome", "alpha"]].apply(lambda g: len(set(map(tuple,
                                                                                                       g.values))))
    assert (wide == 6).sum() >= 5, rates  # at least 5 methods x 3 outcomes x 2 alphas, each of 300+ studies
    flagged = _query(warehouse, """SELECT count(*) AS n FROM marts.did_results
                                   WHERE study_id = 'fact22_cheshire_east' AND inference_calibrated IS NOT NULL""")
    assert flagged["n"].iloc[0] > 0
    html = (warehouse.parent / "outputs" / "evaluation_report.html").read_text()
    assert "(shipped with the repository)" in html and "STALE" not in html
    assert "has not been run" not in html


@pytest.fixture(scope="module")
def calibration(built_warehouse):
    return (_query(built_warehouse, "SELECT * FROM marts.estimator_calibration"),
            _query(built_warehouse, "SELECT * FROM marts.calibration_studies"))


def test_every_rejection_rate_recomputes_with_scipy(calibration):
    """Count, rate and Clopper-Pearson interval by scipy.stats.binomtest, the noise thirds by numpy's quantiles."""
    table, studies = calibration
    assert len(table) > 200
    assert (table["p_value_kind"] == "first_screen").sum() == 3 * 2 * 4  # outcomes x alphas x noise bands
    for (design, outcome), group in studies.groupby(["design", "outcome"]):
        noise = group.drop_duplicates(["unit_code", "first_post_year"])["pre_period_noise"].to_numpy(float)
        low, high = np.quantile(noise, [1 / 3, 2 / 3])
        bands = {"all": lambda x: np.ones(len(x), bool), "lowest third": lambda x: x <= low,
                 "middle third": lambda x: (x > low) & (x <= high), "highest third": lambda x: x > high}
        rows = table[(table["design"] == design) & (table["outcome"] == outcome)]
        # The first screen's family: per study with all five p-values (the specification's re-selected placebo p,
        # four other methods' placebo p), the smallest; the study's noise from the specification's row.
        key = ["unit_code", "first_post_year"]
        spec = group[group["method"] == "ols_with_covariate"].set_index(key)[["reselected_p_value",
                                                                              "pre_period_noise"]]
        others = group[group["method"].isin(FIRST_SCREEN_OTHERS)].pivot(index=key, columns="method",
                                                                         values="permutation_p_value")
        family = others.join(spec, how="inner").dropna(subset=[*FIRST_SCREEN_OTHERS, "reselected_p_value"])
        family = family.assign(method="any_first_screen_method", first_screen=family[
            [*FIRST_SCREEN_OTHERS, "reselected_p_value"]].min(axis=1))
        for row in rows.itertuples():
            chosen = family if row.p_value_kind == "first_screen" else group[group["method"] == row.method]
            chosen = chosen[bands[row.noise_band](chosen["pre_period_noise"].to_numpy(float))]
            p = chosen[P_COLUMNS[row.p_value_kind]].dropna().to_numpy(float)
            k = int((p <= row.alpha).sum())
            assert (row.n_placebo_studies, row.rejections) == (p.size, k), row
            test = stats.binomtest(k, p.size)
            interval = test.proportion_ci(confidence_level=0.95, method="exact")
            assert row.rejection_rate == pytest.approx(test.statistic, abs=1e-12)
            assert (row.rejection_rate_ci_low, row.rejection_rate_ci_high) == pytest.approx(
                (interval.low, interval.high), abs=1e-9)
            assert row.calibrated == (interval.low <= row.alpha)


def test_the_main_specifications_rejection_rates(calibration):
    """The numbers the report states: how often each permutation p of the 'all' band falls to 5% and 10%."""
    table, _ = calibration
    chosen = table[(table["noise_band"] == "all") & (table["p_value_kind"].isin(["permutation", "reselected"]))]
    assert set(chosen["method"]) >= {"ols_with_covariate", "twfe_all_donors", "synthetic_control",
                                     "penalised_synthetic_control", "synthetic_did"}
    assert (chosen["n_placebo_studies"] >= 300).all()


def _power_by_brute_force(deltas: np.ndarray, placebos: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """For each delta, the share of placebo draws e whose estimate delta + e has a permutation p-value
    (1 + #{|e_j| >= |delta + e|}) / (1 + n) at most alpha: the test itself, counted, with no critical value."""
    magnitude = np.sort(np.abs(placebos))
    estimates = np.abs(deltas[:, None] + placebos[None, :])
    at_least = magnitude.size - np.searchsorted(magnitude, estimates, side="left")
    return ((1 + at_least) / (1 + magnitude.size) <= alpha).mean(axis=1)


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("method", ["twfe_all_donors", "synthetic_control"])
def test_cheshire_easts_detectable_effect_by_hand(built_warehouse, outcome, method):
    """Cheshire East ran FACT22, so it is no placebo: its design's placebos are the placebo studies of its start year
    (each authority against the same pool without Cheshire East).  The MDE is found on a 0.001 grid by counting
    the permutation test's rejections of delta + e over those placebos."""
    row = _query(built_warehouse, """SELECT * FROM marts.detectable_effects WHERE unit_code = $u AND outcome = $o
                                     AND method = $m AND first_post_year = 2016""",
                 {"u": CHESHIRE_EAST, "o": outcome, "m": method}).iloc[0]
    placebos = _query(built_warehouse, """SELECT estimate FROM marts.calibration_studies WHERE outcome = $o
                                          AND method = $m AND first_post_year = 2016 AND design = $d""",
                      {"o": outcome, "m": method, "d": row["design"]})["estimate"].to_numpy(float)
    assert row["n_placebos"] == placebos.size and bool(row["ran_listed_programme"])
    grid = np.arange(0, 3 * np.abs(placebos).max(), 0.001)
    power = np.minimum(_power_by_brute_force(grid, placebos), _power_by_brute_force(-grid, placebos))
    assert (power >= 0.8).any()
    first = grid[np.argmax(power >= 0.8)]
    assert row["mde"] == pytest.approx(first, abs=0.0011)
    assert row["placebo_sd"] == pytest.approx(np.std(placebos, ddof=1), rel=1e-9)
    assert row["mde_normal"] == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * np.std(placebos, ddof=1))


def test_the_enfield_illustration_shows_no_small_p_value_unmarked(built_site):
    """Enfield ran no programme. Its pre-specified test (the specification's re-selected placebo p) is above 0.05
    for every outcome; every p < 0.05 the report prints is greyed: not calibrated, or calibrated alone but one of
    the first screen's five methods, of which at least one reaches 0.05 in 11-15% of placebo studies."""
    html = (built_site.warehouse.parent / "outputs" / "evaluation_report_illustration_enfield_2019.html").read_text()
    assert 'data-table="first_screen"' in html and 'class="uncalibrated"' in html
    inference = _query(built_site.warehouse, """SELECT outcome, reselected_p_value FROM marts.did_inference
                                                WHERE study_id = 'illustration_enfield_2019' AND vintage = 'cin_2025'
                                                ORDER BY outcome""")
    assert (inference["reselected_p_value"] > 0.05).all(), inference
    results = _query(built_site.warehouse, """SELECT method, outcome, permutation_p_value, inference_calibrated
                                              FROM marts.did_results WHERE study_id = 'illustration_enfield_2019'
                                              AND vintage = 'cin_2025'""")
    # The measured case: calibrated placebo p-values of other methods below 0.05 (synthetic DiD, the synthetic
    # controls), each now printed grey with the family-wise rate.
    small = results[results["inference_calibrated"].fillna(False).astype(bool) & (results["permutation_p_value"] < 0.05)]
    assert len(small) >= 1, results
    assert _plain_small_p_values(html) == []
    screen = html.split('data-table="first_screen"')[1].split("</table>")[0]
    for p in small["permutation_p_value"]:
        assert re.search(rf'<span class="uncalibrated" title="calibrated: [^"]*no evidence on its own: one of 5 '
                         rf'methods on the first screen[^"]*">{p:.3f}</span>', html), p
    assert "no evidence on its own" in screen


def test_a_stale_shipped_calibration_is_flagged(monkeypatch, tmp_path, data_copy, built_warehouse):
    """A manifest computed by other code: loaded, but calibration_runs says stale and why."""
    path = data_copy / "calibration" / "escalations_per_10k.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(manifest | {"calibration_code": "0000000000000000", "code_version": "0123abcd"}))
    monkeypatch.setenv("FACT22_CALIBRATION_DIR", str(tmp_path / "no_calibration_here"))
    warehouse = tmp_path / "stale.duckdb"
    shutil.copy(built_warehouse, warehouse)
    result = run_assets(monkeypatch, data_copy, warehouse, CALIBRATION_MARTS)
    assert result.success
    runs = _query(_build_file(warehouse, result),
                  "SELECT outcome, origin, stale, stale_reasons FROM marts.calibration_runs ORDER BY 1")
    assert runs["stale"].tolist() == [False, True, False] and (runs["origin"] == "shipped").all()
    assert runs["stale_reasons"].iloc[1].startswith("computed by other estimator code (0123abcd, calibration code "
                                                    "0000000000000000, now ")


def test_a_damaged_shipped_calibration_is_refused_naming_the_file(monkeypatch, tmp_path, data_copy, built_warehouse):
    path = data_copy / "calibration" / "rereferrals_per_10k.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))
    monkeypatch.setenv("FACT22_CALIBRATION_DIR", str(tmp_path / "no_calibration_here"))
    warehouse = tmp_path / "damaged.duckdb"
    shutil.copy(built_warehouse, warehouse)
    before = _query(warehouse, "SELECT count(*) AS n FROM marts.calibration_studies")["n"].iloc[0]
    result = run_assets(monkeypatch, data_copy, warehouse, CALIBRATION_MARTS)
    assert not result.success
    assert any(f"{path}: its bytes are not those rereferrals_per_10k.json describes" in e for e in step_errors(result))
    assert _query(warehouse, "SELECT count(*) AS n FROM marts.calibration_studies")["n"].iloc[0] == before
