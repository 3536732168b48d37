"""Estimators that use the whole donor pool and give one answer, as registry entries.

- Synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens
  and Wager, AER 2021; `synthetic_did`): ridge-regularised unit weights and
  time weights, placebo standard error (their Algorithm 4, every donor once).
- Penalised synthetic control (Abadie and L'Hour, JASA 2021;
  `penalised_synthetic_control`): unique weights favouring nearby donors,
  lambda by their leave-one-out rule; the treated unit and every placebo
  fitted alike (each from its own K nearest donors, its own lambda), and a
  placebo p-value from a post/pre RMSPE ratio floored at the noise level.
- The plain synthetic control's identification (`synthetic_control_identification`):
  whether the treated unit lies inside the donors' convex hull, and the
  lowest and highest mean post-period gap over every weighting with the best
  pre-period fit (two linear programmes).

Each fits on the prepared outcome's eligible donors (the same pool as every
other estimator) and is cached on the numbers it reads, so studies that
share a treated unit, years and pool (a study that only fixes other
comparators) do not pay twice.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import pandas as pd

from .contract import RESULTS, Selection, results_rows
from .penalised_synthetic_control import penalised_study
from .prepared import PreparedOutcome
from .synthetic_control import synthetic_weights
from .synthetic_control_identification import synthetic_control_identification
from .synthetic_did import synthetic_did

SYNTHETIC_DID = "synthetic_did"
PENALISED_SC = "penalised_synthetic_control"
PENALISED_POOL = 50  # K: the treated unit and each placebo are fitted from their own 50 nearest donors
SDID_INFERENCE = ("placebo variance (Arkhangelsky et al. 2021, Algorithm 4), exact: every donor once as the "
                  "pseudo-treated unit; normal p and 95% interval")
PENALISED_INFERENCE = ("placebo penalised synthetic controls, each donor fitted by the treated unit's rule (its own K "
                       "nearest donors, its own leave-one-out lambda): post/pre RMSPE ratio, the pre-period RMSPE "
                       "floored at the donors' noise level")


def _arrays(prepared: PreparedOutcome) -> tuple[np.ndarray, np.ndarray, int, list[str], list[int]]:
    study = prepared.study
    years = list(study.study_years)
    donors = list(prepared.candidates)
    treated = prepared.values(prepared.outcome, [study.treated_unit_code], years)[0]
    return treated, prepared.values(prepared.outcome, donors, years), len(study.pre_years), donors, years


def _fingerprint(*arrays: np.ndarray, labels: tuple = ()) -> str:
    digest = hashlib.sha256(repr(labels).encode())
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=float).tobytes())
    return digest.hexdigest()


_CACHE: OrderedDict[tuple[str, str], object] = OrderedDict()
_CACHE_SIZE = 64


def _cached(kind: str, key: str, compute: Callable[[], object]):
    """One fit per (estimator, numbers read): the latest 64 kept."""
    if (kind, key) not in _CACHE:
        _CACHE[(kind, key)] = compute()
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return _CACHE[(kind, key)]


def _base_row(prepared: PreparedOutcome, method: str) -> dict:
    study = prepared.study
    return {"study_id": study.study_id, "outcome": prepared.outcome, "treated_unit_code": study.treated_unit_code,
            "method": method, "first_post_year": study.first_post_year}


def _ids(prepared: PreparedOutcome, table: pd.DataFrame) -> pd.DataFrame:
    table.insert(0, "study_id", prepared.study.study_id)
    table.insert(1, "outcome", prepared.outcome)
    return table


class SyntheticDidEstimator:
    name = SYNTHETIC_DID
    marts = (RESULTS, "synthetic_did_weights")
    methods = {SYNTHETIC_DID: "Synthetic DiD (Arkhangelsky et al. 2021), all eligible authorities"}
    cross_check = ("tests/core/did/test_synthetic_did.py: synthdid's California Proposition 99 estimate and "
                   "weights, a line-by-line port of its solver, an exact QP, the exact placebo variance as the limit "
                   "of Algorithm 4's draws and unchanged by the donor order")

    def estimate(self, prepared: PreparedOutcome, selection: Selection) -> dict[str, pd.DataFrame]:
        treated, donors, n_pre, codes, years = _arrays(prepared)
        key = _fingerprint(treated, donors, labels=(n_pre, tuple(codes), tuple(years)))
        fit = _cached(SYNTHETIC_DID, key, lambda: synthetic_did(treated, donors, n_pre, donor_codes=codes, years=years))
        row = _base_row(prepared, SYNTHETIC_DID) | {
            "estimate": fit.estimate, "se_placebo": fit.se, "ci_low_placebo": fit.ci_low,
            "ci_high_placebo": fit.ci_high, "permutation_p_value": fit.p_value, "n_placebos": fit.n_placebos,
            "permutation_inference": SDID_INFERENCE, "n_obs": (fit.n_donors + 1) * len(years),
        }
        names = prepared.panel.names
        units = fit.unit_weights.assign(kind="unit", year=pd.NA)
        units["unit_name"] = names.reindex(units["unit_code"]).to_numpy()
        times = fit.time_weights.assign(kind="time", unit_code=None, unit_name=None)
        weights = pd.concat([units, times], ignore_index=True)[["kind", "unit_code", "unit_name", "year", "weight"]]
        weights["year"] = weights["year"].astype("Int64")
        return {RESULTS: results_rows([row]), "synthetic_did_weights": _ids(prepared, weights)}


class PenalisedSyntheticControlEstimator:
    name = PENALISED_SC
    marts = (RESULTS, "penalised_synthetic_control_weights")
    methods = {PENALISED_SC: "Penalised synthetic control (Abadie and L'Hour 2021), mean post-period gap"}
    cross_check = ("tests/core/did/test_penalised_synthetic_control.py: pysyncon's PenalizedSynth, hand-worked "
                   "cases, the leave-one-out lambda and every placebo's fit recomputed by plain loops, the floored "
                   "ratio; tests/golden/test_golden_did.py: scipy's SLSQP on the warehouse's panel")

    def estimate(self, prepared: PreparedOutcome, selection: Selection) -> dict[str, pd.DataFrame]:
        treated, donors, n_pre, codes, years = _arrays(prepared)
        key = _fingerprint(treated, donors, labels=(n_pre, tuple(codes), tuple(years)))
        study = _cached(PENALISED_SC, key, lambda: penalised_study(treated, donors, n_pre, codes, years,
                                                                   max_donors=PENALISED_POOL))
        fit = study.fit
        row = _base_row(prepared, PENALISED_SC) | {
            "estimate": fit.mean_post_gap, "pre_rmspe": fit.pre_rmspe, "post_rmspe": fit.post_rmspe,
            "rmspe_ratio": study.rmspe_ratio, "permutation_p_value": study.p_value,
            "n_placebos": len(study.placebos), "permutation_inference": f"{PENALISED_INFERENCE}, K = {study.k}",
        }
        weights = fit.weights.copy()
        weights["unit_name"] = prepared.panel.names.reindex(weights["unit_code"]).to_numpy()
        weights["lambda"] = fit.lambda_
        weights["lambda_rule"] = fit.lambda_rule
        return {RESULTS: results_rows([row]),
                "penalised_synthetic_control_weights": _ids(prepared, weights[
                    ["unit_code", "unit_name", "weight", "lambda", "lambda_rule"]])}


class SyntheticControlIdentificationEstimator:
    name = "synthetic_control_identification"
    marts = ("synthetic_control_identification",)
    methods: dict[str, str] = {}
    cross_check = ("tests/core/did/test_synthetic_control_identification.py: hand-worked hulls and brute-force "
                   "vertex enumeration")

    def estimate(self, prepared: PreparedOutcome, selection: Selection) -> dict[str, pd.DataFrame]:
        treated, donors, n_pre, _, _ = _arrays(prepared)
        key = _fingerprint(treated, donors, labels=(n_pre,))
        found = _cached("identification", key, lambda: synthetic_control_identification(treated, donors, n_pre))
        # The plain synthetic control's own answer (synthetic_control.synthetic_weights), one of the best fits.
        weights = synthetic_weights(treated[:n_pre], donors[:, :n_pre])
        plain_gap = float(np.mean(treated[n_pre:] - weights @ donors[:, n_pre:]))
        row = {"inside_hull": found.inside_hull, "best_pre_rmspe": found.best_pre_rmspe,
               "post_gap_low": found.post_gap_low, "post_gap_high": found.post_gap_high,
               "published_post_gap": plain_gap, "n_donors": found.n_donors, "n_pre_years": n_pre,
               "identified": bool(found.post_gap_high - found.post_gap_low <= 1e-6)}
        return {"synthetic_control_identification": _ids(prepared, pd.DataFrame([row]))}
