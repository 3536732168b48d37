"""Rejection rates: recomputed by plain numpy, the interval against statsmodels, the did_results join."""
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from fact22_assets.core.calibration.design import design_of
from fact22_assets.core.calibration.rates import binomial_interval, estimator_calibration, with_calibration
from fact22_assets.core.did.config import StudyEntry
from fact22_assets.core.did.study import FACT22


@pytest.mark.parametrize("k,n", [(0, 300), (1, 300), (15, 300), (45, 300), (300, 300), (7, 19), (3, 1000)])
def test_interval_is_clopper_pearson(k, n):
    low, high = binomial_interval(k, n)
    expected = proportion_confint(k, n, alpha=0.05, method="beta")
    assert (low, high) == pytest.approx(expected, abs=1e-12)


def _studies(rng, design="d", method="m", outcome="o", n=300, share_small=0.05, placebo=True) -> pd.DataFrame:
    p = rng.uniform(0.2, 1, n)
    small = rng.uniform(size=n) < share_small
    p[small] = rng.uniform(0, 0.05, small.sum())
    return pd.DataFrame({"design": design, "method": method, "outcome": outcome, "placebo": placebo,
                         "unit_code": [f"E{k:08d}" for k in range(n)], "first_post_year": 2016,
                         "pre_period_noise": np.arange(n, dtype=float) % 97,
                         "p_classical": p, "p_hc1": np.nan, "permutation_p_value": np.where(small, 0.01, 0.5),
                         "reselected_p_value": np.nan, "post_rmspe_p_value": np.nan})


def test_rejection_rates_recomputed_from_the_studies():
    rng = np.random.default_rng(7)
    studies = pd.concat([_studies(rng), _studies(rng, method="n", share_small=0.30),
                         _studies(rng, placebo=False, share_small=1.0)], ignore_index=True)
    table = estimator_calibration(studies)
    placebo = studies[studies["placebo"]]
    # Two kinds per method (p_classical and permutation_p_value have values; the others none), four bands (all and
    # thirds of pre-period noise), two alphas.
    assert len(table) == 2 * 2 * 4 * 2
    noise = placebo.drop_duplicates(["unit_code", "first_post_year"])["pre_period_noise"]
    cuts = np.quantile(noise, [1 / 3, 2 / 3])
    members = {"all": np.ones(300, bool), "lowest third": noise.to_numpy() <= cuts[0],
               "middle third": (noise.to_numpy() > cuts[0]) & (noise.to_numpy() <= cuts[1]),
               "highest third": noise.to_numpy() > cuts[1]}
    for row in table.itertuples():
        column = {"classical": "p_classical", "permutation": "permutation_p_value"}[row.p_value_kind]
        p = placebo.loc[placebo["method"] == row.method, column].to_numpy()[members[row.noise_band]]
        assert row.n_placebo_studies == p.size and (row.noise_band != "all" or p.size == 300)
        assert row.rejections == int(np.sum(p <= row.alpha))
        assert row.rejection_rate == pytest.approx(np.mean(p <= row.alpha))
        low, high = proportion_confint(row.rejections, p.size, alpha=0.05, method="beta")
        assert (row.rejection_rate_ci_low, row.rejection_rate_ci_high) == pytest.approx((low, high))
        assert row.calibrated == (low <= row.alpha)
    everyone = table[table["noise_band"] == "all"]
    # About 5% rejections is calibrated; about 30% is not, at either alpha.
    assert everyone.loc[everyone["method"] == "m", "calibrated"].all()
    assert not everyone.loc[everyone["method"] == "n", "calibrated"].any()
    assert table.loc[table["noise_band"] == "lowest third", "noise_to"].iloc[0] == pytest.approx(cuts[0])


def test_noise_bands_show_a_placebo_test_that_is_calibrated_only_on_average():
    """Placebo p-values uniform over all authorities, but small for the noisiest third: the 'all' row is calibrated,
    the noisy band is not."""
    rng = np.random.default_rng(3)
    n = 900
    noise = rng.uniform(1, 10, n)
    p = np.where(noise > np.quantile(noise, 2 / 3), rng.uniform(0, 0.15, n), rng.uniform(0.05, 1, n))
    studies = pd.DataFrame({"design": "d", "method": "m", "outcome": "o", "placebo": True,
                            "unit_code": [f"E{k:08d}" for k in range(n)], "first_post_year": 2016,
                            "pre_period_noise": noise, "p_classical": np.nan, "p_hc1": np.nan,
                            "permutation_p_value": p, "reselected_p_value": np.nan, "post_rmspe_p_value": np.nan})
    table = estimator_calibration(studies, alphas=(0.05,)).set_index("noise_band")
    assert table.loc["all", "rejection_rate"] == pytest.approx(np.mean(p <= 0.05))
    assert table.loc["highest third", "rejection_rate"] > 0.25 and not table.loc["highest third", "calibrated"]
    assert table.loc["lowest third", "rejections"] == 0 and table.loc["lowest third", "calibrated"]


def test_a_conservative_test_counts_as_calibrated():
    studies = pd.DataFrame({"design": "d", "method": "m", "outcome": "o", "placebo": True,
                            "unit_code": [f"E{k:08d}" for k in range(300)], "first_post_year": 2016,
                            "pre_period_noise": np.arange(300.0),
                            "p_classical": np.full(300, 0.5), "p_hc1": np.nan, "permutation_p_value": np.nan,
                            "reselected_p_value": np.nan, "post_rmspe_p_value": np.nan})
    row = estimator_calibration(studies, alphas=(0.05,)).iloc[0]
    assert row.noise_band == "all"
    assert row.rejections == 0 and row.rejection_rate_ci_low == 0 and row.calibrated


def _entry(study=FACT22, **kwargs) -> StudyEntry:
    return StudyEntry(study=study, description="", neighbour_model="2021", **kwargs)


def test_did_results_gain_the_calibration_of_their_headline_p_value():
    entry = _entry()
    fixed = _entry(study=FACT22.__class__(**{**{f: getattr(FACT22, f) for f in
                                                ("treated_unit_code", "first_post_year", "pre_years",
                                                 "post_years", "outcomes", "covariate")},
                                             "study_id": "fixed", "comparators": {"closures_per_10k": "E09000010"}}))
    design = design_of(entry).label
    calibration = pd.DataFrame([
        {"design": design, "method": m, "outcome": "closures_per_10k", "alpha": a, "p_value_kind": k,
         "noise_band": band, "calibrated": c if band == "lowest third" else True,
         "rejection_rate": r if band == "lowest third" else 0.05}
        for m, k, c, r in [("ols_with_covariate", "reselected", True, 0.04), ("ols_with_covariate", "classical", False, 0.3),
                           ("ols", "classical", False, 0.31), ("synthetic_did", "permutation", False, 0.2)]
        for a in (0.05, 0.10) for band in ("all", "lowest third")])
    # The treated authority's pre-period noise is in the lowest third: its rows read that band.
    detectable = pd.DataFrame({"design": [design], "unit_code": [FACT22.treated_unit_code],
                               "first_post_year": [FACT22.first_post_year], "outcome": ["closures_per_10k"],
                               "noise_band": ["lowest third"]})
    results = pd.DataFrame([
        {"study_id": s, "outcome": "closures_per_10k", "method": m, "p_classical": pc, "permutation_p_value": pp}
        for s in ("fact22_strand1", "fixed")
        for m, pc, pp in [("difference_of_means", np.nan, np.nan), ("ols", 0.2, np.nan),
                          ("ols_with_covariate", 0.2, 0.4), ("synthetic_did", np.nan, 0.03)]])
    out = with_calibration(results, calibration, {"fact22_strand1": entry, "fixed": fixed}, detectable)
    assert set(out.loc[out["calibration_p_value_kind"].notna(), "calibration_noise_band"]) == {"lowest third"}
    # Without the band (no detectable effect for the authority), every placebo study: here all calibrated.
    assert with_calibration(results, calibration, {"fact22_strand1": entry})["inference_calibrated"].dropna().all()
    got = {(r.study_id, r.method): (r.calibration_p_value_kind, r.inference_calibrated, r.calibrated_rejection_rate)
           for r in out.itertuples()}
    assert got[("fact22_strand1", "ols_with_covariate")] == ("reselected", True, 0.04)
    assert got[("fact22_strand1", "ols")] == ("classical", False, 0.31)
    assert got[("fact22_strand1", "synthetic_did")] == ("permutation", False, 0.2)
    kind, flag, rate = got[("fact22_strand1", "difference_of_means")]
    assert pd.isna(kind) and pd.isna(flag) and np.isnan(rate)
    # A fixed comparator is not the ranking rule's design: its DiD rows are not measured; its whole-pool rows are.
    assert pd.isna(got[("fixed", "ols_with_covariate")][1]) and pd.isna(got[("fixed", "ols")][1])
    assert got[("fixed", "synthetic_did")] == ("permutation", False, 0.2)
    # No calibration at all: every flag NULL.
    assert with_calibration(results, None, {"fact22_strand1": entry})["inference_calibrated"].isna().all()


def test_the_first_screens_family_wise_rate_recomputes_on_the_shipped_calibration():
    """On the shipped calibration, recomputed with duckdb and plain pandas (not the code under test): over placebo
    studies where all five first-screen p-values exist (the specification's re-selected placebo p, the four other
    methods' placebo p), how often at least one is at most alpha; far above any one method's rate."""
    import duckdb
    from scipy import stats

    from fact22_assets.core.calibration.files import read_results
    from fact22_assets.core.calibration.marts import calibration_studies
    from fact22_assets.settings import REPO_ROOT

    folder = REPO_ROOT / "data" / "calibration"
    raw = duckdb.sql(f"SELECT * FROM read_parquet('{(folder / '*.parquet').as_posix()}')").df()
    raw = raw[raw["placebo"].astype(bool)]
    key = ["design", "unit_code", "first_post_year", "outcome"]
    spec = raw[raw["method"] == "ols_with_covariate"].set_index(key)["reselected_p_value"].rename("spec")
    others = raw[raw["method"].isin(["synthetic_did", "penalised_synthetic_control", "twfe_all_donors",
                                     "synthetic_control"])].pivot_table(index=key, columns="method",
                                                                        values="permutation_p_value")
    wide = others.join(spec, how="inner").dropna()
    assert wide.shape[1] == 5
    table = estimator_calibration(calibration_studies(read_results(folder)[0]))
    family = table[(table["method"] == "any_first_screen_method") & (table["noise_band"] == "all")]
    assert len(family) == 6  # 3 outcomes x 2 alphas
    for outcome, group in wide.groupby(level="outcome"):
        n = len(group)
        assert n >= 300
        for alpha in (0.05, 0.10):
            rejections = int((group.min(axis=1) <= alpha).sum())
            row = family[(family["outcome"] == outcome) & (family["alpha"] == alpha)].iloc[0]
            assert (row["n_placebo_studies"], row["rejections"]) == (n, rejections), (outcome, alpha)
            assert row["rejection_rate"] == pytest.approx(rejections / n, abs=1e-12)
            ci = stats.binomtest(rejections, n).proportion_ci(0.95, method="exact")
            assert (row["rejection_rate_ci_low"], row["rejection_rate_ci_high"]) == pytest.approx((ci.low, ci.high))
            assert row["calibrated"] == (ci.low <= alpha)
    # The measured numbers (shipped calibration, cin_2025): 11.0-14.8% at 5%, none calibrated.
    at_5 = family[family["alpha"] == 0.05].set_index("outcome")
    assert at_5["rejections"].to_dict() == {"closures_per_10k": 46, "escalations_per_10k": 36,
                                            "rereferrals_per_10k": 48}
    assert at_5["n_placebo_studies"].to_dict() == {"closures_per_10k": 325, "escalations_per_10k": 326,
                                                   "rereferrals_per_10k": 325}
    assert not at_5["calibrated"].any()
