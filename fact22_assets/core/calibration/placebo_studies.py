"""One slice of the national placebo study: every authority's study at one start year, for one outcome.

For a slice (a design, a start year, an outcome; see `design`) the study of
authority i is the configured studies' analysis with i as the treated unit:
its donors and candidates are the slice's pool without i.  Every registered
estimator that publishes a p-value is run as that study runs it, its
comparator rule and placebo inference included, and its estimate and every
p-value it publishes are kept (`STUDY_COLUMNS`, named as in
marts.did_results).

Running ~140 studies one at a time repeats most of the work: study i's
placebos are the other authorities' fits, and they barely depend on i.  So
a slice computes what its studies share once and assembles each study from
it, exactly where that is cheap and otherwise as stated:

- report's DiD (`ols`, `ols_with_covariate`): the comparator rule for the
  treated unit and, for the re-selected placebo, for every placebo with i
  out of the candidates (`rank_all_pairs`, once per study: exact); the OLS
  rows (classical and HC1 p) by `did_estimates` itself; every pair's DiD
  once per slice (`pair_did` against each possible control), from which the
  fixed-comparator and re-selected placebo p-values are read: exact;
- two-way fixed effects: `twfe_all_donors` per study: exact;
- synthetic control: every authority's fit from the pool without it, once;
  study i's placebo j reuses j's fit when it gives i no weight (the same
  NNLS optimum) and is refitted without i otherwise: exact up to ties among
  equally good weightings;
- synthetic DiD: the estimate exact (i against the pool without i); the
  placebo standard error from the other authorities' own fits against
  the pool without each (`LOO_APPROXIMATION`), drawn as the estimator draws;
- penalised synthetic control: the estimate exact (its lambda rule
  included); placebos fitted once per lambda value from each authority's K
  nearest in the pool without it, which may include i (the estimator
  leaves i out): approximate, as stated in `LOO_APPROXIMATION`.

`registry_rows` runs the registered estimators on one study the ordinary
way; tests compare the two on simulated panels, and the calibration job can
audit a seeded sample of real studies with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..did.closed_form import pair_did
from ..did.donor_pool import nearest_others
from ..did.estimation import DIFFERENCE_OF_MEANS, OLS, OLS_WITH_COVARIATE, main_method
from ..did.estimators import SYNTHETIC_CONTROL, select_comparator
from ..did.penalised_synthetic_control import (
    LAMBDA_GRID,
    VALIDATION_DONORS,
    one_standard_error_choice,
    penalised_fits,
    penalised_study,
)
from ..did.placebo import permutation_p_value, rmspe_ratio
from ..did.prepared import PreparedOutcome, PreparedPanel
from ..did.selection_placebo import rank_all_pairs
from ..did.synthetic_control import COMPARABLE_FIT_MULTIPLE, EXACT_FIT_TOLERANCE, synthetic_weights
from ..did.synthetic_did import noise_level, sdid_weights, synthetic_did
from ..did.twfe import TWFE, twfe_all_donors
from ..did.whole_pool import PENALISED_POOL, PENALISED_SC, SYNTHETIC_DID
from .design import Design, SliceUnits, sample, slice_units, study_of
from .power import detectable_effect

# p-value kind -> the did_results column that holds it (did_inference's re-selected p for the report's DiD).
P_VALUE_COLUMNS = {
    "classical": "p_classical",
    "hc1": "p_hc1",
    "permutation": "permutation_p_value",
    "reselected": "reselected_p_value",
    "post_rmspe": "post_rmspe_p_value",
}
P_VALUE_KINDS = {
    "classical": "OLS t-test, classical (homoskedastic) standard error",
    "hc1": "OLS t-test, HC1 heteroskedasticity-robust standard error",
    "permutation": "the method's placebo test as its did_results row publishes it (permutation_p_value)",
    "reselected": "placebo-in-space with every placebo re-selecting its own comparator (did_inference)",
    "post_rmspe": "post-period RMSPE among placebos with a comparable pre-period fit",
}
# The placebo estimates each method's detectable effect is read from.
MDE_PLACEBOS = {
    OLS: "re-selected placebo-in-space estimates (no covariate)",
    OLS_WITH_COVARIATE: "re-selected placebo-in-space estimates",
    SYNTHETIC_CONTROL: "placebo synthetic controls' mean post-period gaps",
    TWFE: "each donor against all other donors",
    SYNTHETIC_DID: "placebo estimates behind the placebo standard error",
    PENALISED_SC: "placebo penalised synthetic controls' mean post-period gaps",
}
SDID_APPROXIMATE_PLACEBOS = ("each other authority's own synthetic DiD against the pool without it (an approximation "
                             "of the placebo estimates; this study's inference was not run)")
METHODS = tuple(MDE_PLACEBOS)
# Synthetic DiD's exact placebo variance costs ~0.3 s of CPU a study: it runs for a seeded sample of at least this
# many placebo studies per outcome (and always for the programme authorities and the configured studies' treated
# authorities); every other study gets its estimate and a detectable effect from shared fits.
SDID_SAMPLE_PER_OUTCOME = 320
LOO_APPROXIMATION = {
    SYNTHETIC_DID: f"the exact estimator (its placebo variance included) for a seeded sample of at least "
                   f"{SDID_SAMPLE_PER_OUTCOME} placebo studies per outcome; the other studies carry the estimate and a "
                   "detectable effect from each other authority's own fit, and no p-value",
}
STUDY_COLUMNS = [
    "unit_code", "first_post_year", "outcome", "method", "placebo", "comparator_code", "estimate",
    "p_classical", "p_hc1", "permutation_p_value", "reselected_p_value", "post_rmspe_p_value", "se_placebo",
    "n_placebos", "mde", "mde_normal", "placebo_sd", "n_placebos_mde", "mde_placebos", "pre_period_noise",
]


@dataclass(frozen=True)
class SliceInputs:
    """What one slice reads: the panel of one vintage and the context the comparator rule scores against."""

    panel: PreparedPanel
    design: Design
    start_year: int
    outcome: str
    entries: Sequence = ()  # the configured studies (StudyEntry), for the programme exclusions
    interventions: Sequence = ()
    deprivation: pd.DataFrame | None = None
    neighbours_by_unit: pd.DataFrame | None = None
    # unit_code -> that authority's statistical neighbours as did/neighbours.sql gives them for a treated unit
    neighbours_of: Callable[[str], pd.DataFrame | None] | None = None
    # Synthetic DiD's exact inference for this many seeded placebo studies of the slice (None: every study), and
    # always for these authorities (the configured studies' treated ones); programme authorities always.
    sdid_sample: int | None = None
    sdid_always: tuple[str, ...] = ()
    seed: int = 20251


def run_slice(inputs: SliceInputs, treated: Sequence[str] | None = None,
              methods: Sequence[str] = METHODS) -> pd.DataFrame:
    """Every study of the slice (or of ``treated`` only): one row per study and method, STUDY_COLUMNS."""
    units = slice_units(inputs.panel, inputs.design, inputs.start_year, inputs.outcome, inputs.entries,
                        inputs.interventions, inputs.deprivation, inputs.neighbours_by_unit)
    chosen = list(units.pool + units.programme) if treated is None else list(treated)
    unknown = [u for u in chosen if u not in units.pool and u not in units.programme]
    if unknown:
        raise ValueError(f"{unknown} have no complete window for {inputs.outcome} starting "
                         f"{inputs.start_year}, or are not in the panel")
    data = _SliceData(units, inputs)
    rows: list[dict] = []
    if OLS in methods or OLS_WITH_COVARIATE in methods:
        rows += _two_unit_rows(data, chosen, inputs, methods)
    if TWFE in methods:
        rows += _twfe_rows(data, chosen)
    if SYNTHETIC_CONTROL in methods:
        rows += _synthetic_control_rows(data, chosen)
    if SYNTHETIC_DID in methods:
        exact = set(units.programme) | set(inputs.sdid_always) | set(
            sample(units.pool, inputs.sdid_sample, inputs.seed + inputs.start_year))
        rows += _synthetic_did_rows(data, chosen, exact)
    if PENALISED_SC in methods:
        rows += _penalised_rows(data, chosen)
    table = pd.DataFrame(rows, columns=STUDY_COLUMNS)
    # How noisy the treated authority's own outcome is: the sd of its year-to-year changes over the pre-period
    # (rejection rates are also read by thirds of it: a placebo test can be calibrated on average and not for
    # authorities as steady, or as noisy, as a given treated one).
    changes = np.diff(data.y[:, :data.n_pre], axis=1)
    noise = dict(zip(data.codes, np.std(changes, axis=1, ddof=1)))
    table["pre_period_noise"] = table["unit_code"].map(noise)
    table["first_post_year"] = inputs.start_year
    table["outcome"] = inputs.outcome
    for column in ("n_placebos", "n_placebos_mde"):
        table[column] = table[column].astype("Int64")
    table["placebo"] = table["placebo"].astype(bool)
    order = {m: k for k, m in enumerate(METHODS)}
    return table.sort_values(["unit_code", "method"], key=lambda s: s.map(order) if s.name == "method" else s,
                             ignore_index=True)


class _SliceData:
    """The slice's arrays: rows are the pool then the programme authorities."""

    def __init__(self, units: SliceUnits, inputs: SliceInputs):
        study = units.template.study
        self.units = units
        self.pool = list(units.pool)
        self.codes = self.pool + list(units.programme)
        self.row = {code: k for k, code in enumerate(self.codes)}
        self.years = list(study.study_years)
        self.n_pre = len(study.pre_years)
        self.post = np.isin(self.years, study.post_years)
        self.y = inputs.panel.complete(inputs.outcome, self.codes, self.years)
        self.x = inputs.panel.complete(study.covariate, self.codes, self.years) if study.covariate else None
        self.n_pool = len(self.pool)
        self.neighbours_of = inputs.neighbours_of

    def donors(self, treated: str) -> np.ndarray:
        """Rows of the treated unit's donors: the pool without it, in pool (unit_code) order."""
        return np.array([k for k in range(self.n_pool) if self.codes[k] != treated], dtype=int)

    def prepared(self, treated: str) -> PreparedOutcome:
        neighbours = self.neighbours_of(treated) if self.neighbours_of else None
        return study_of(self.units, treated, neighbours)

    def is_placebo(self, treated: str) -> bool:
        return self.row[treated] < self.n_pool


def _row(data: _SliceData, treated: str, method: str, **values) -> dict:
    return {"unit_code": treated, "method": method, "placebo": data.is_placebo(treated), **values}


def _with_mde(row: dict, placebos: np.ndarray, described: str | None = None) -> dict:
    found = detectable_effect(placebos)
    return row | {"mde": found.mde, "mde_normal": found.mde_normal, "placebo_sd": found.placebo_sd,
                  "n_placebos_mde": found.n_placebos, "mde_placebos": described or MDE_PLACEBOS[row["method"]]}


# ----------------------------------------------------------------------------- the report's DiD


def _pair_matrix(data: _SliceData, with_covariate: bool) -> np.ndarray:
    """estimate[k, c]: the report's DiD of slice row k against pool row c (NaN on the diagonal)."""
    out = np.full((len(data.codes), data.n_pool), np.nan)
    for c in range(data.n_pool):
        if with_covariate and data.x is not None:
            fits = pair_did(data.y, data.y[c], data.post, data.x, data.x[c])
        else:
            fits = pair_did(data.y, data.y[c], data.post)
        out[:, c] = fits.estimate
    out[np.arange(data.n_pool), np.arange(data.n_pool)] = np.nan
    return out


def _two_unit_rows(data: _SliceData, chosen: list[str], inputs: SliceInputs, methods: Sequence[str]) -> list[dict]:
    study = data.units.template.study
    main = main_method(study)
    plain = _pair_matrix(data, with_covariate=False)
    covariate = _pair_matrix(data, with_covariate=True) if study.covariate else plain
    studies = []
    for treated in chosen:
        prepared = data.prepared(treated)
        candidates = list(prepared.candidates)
        # Row 0 is the treated unit's own pick by the rule (select_comparator's, which tests check); the
        # other rows are each placebo's pick with the treated unit out of its candidates.
        picks = rank_all_pairs(prepared, [treated, *candidates], candidates, prepared.neighbours_by_unit)
        codes = picks["comparator_code"].tolist()
        studies.append((treated, codes[0], np.array([data.row[c] for c in candidates]),
                        np.array([data.row[c] if isinstance(c, str) else -1 for c in codes[1:]])))
    treated_rows = np.array([data.row[t] for t, _, _, _ in studies], dtype=int)
    control_rows = np.array([data.row[c] for _, c, _, _ in studies], dtype=int)
    fits = {OLS: ols_fits(data.y[treated_rows], data.y[control_rows], data.post)}
    if study.covariate:
        fits[OLS_WITH_COVARIATE] = ols_fits(data.y[treated_rows], data.y[control_rows], data.post,
                                            data.x[treated_rows], data.x[control_rows])
    rows = []
    for n, (treated, comparator, placebo_rows, pick_columns) in enumerate(studies):
        k, c = data.row[treated], data.row[comparator]
        for method, fit in fits.items():
            if method not in methods:
                continue
            matrix = covariate if method == OLS_WITH_COVARIATE else plain
            reselected = np.where(pick_columns >= 0, matrix[placebo_rows, np.maximum(pick_columns, 0)], np.nan)
            row = _row(data, treated, method, comparator_code=comparator, estimate=fit["estimate"][n],
                       p_classical=fit["p_classical"][n], p_hc1=fit["p_hc1"][n])
            if method == main:
                fixed = matrix[placebo_rows[placebo_rows != c], c]
                row |= {"permutation_p_value": permutation_p_value(matrix[k, c], fixed),
                        "reselected_p_value": permutation_p_value(matrix[k, c], reselected),
                        "n_placebos": int(np.isfinite(fixed).sum())}
            rows.append(_with_mde(row, reselected))
    return rows


def ols_fits(treated_y: np.ndarray, control_y: np.ndarray, post: np.ndarray,
             treated_x: np.ndarray | None = None, control_x: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """`estimation.did_fits`' OLS for many (treated, control) pairs at once: row b fits
    Y = b0 + b1 T + b2 Post + bTE T x Post [+ b3 X] to treated_y[b] and control_y[b] stacked (treated
    first), and gives bTE with its classical and HC1 p-values (t on n - k degrees of freedom), as
    statsmodels' OLS and fit(cov_type="HC1", use_t=True) do; tests check them against `did_estimates`.
    """
    n_pairs, n_years = treated_y.shape
    treated = np.repeat([1.0, 0.0], n_years)
    post_rows = np.tile(np.asarray(post, dtype=float), 2)
    columns = [np.ones(2 * n_years), treated, post_rows, treated * post_rows]
    design = np.broadcast_to(np.column_stack(columns), (n_pairs, 2 * n_years, 4))
    if treated_x is not None:
        x = np.concatenate([treated_x, control_x], axis=1)
        design = np.concatenate([design, x[:, :, None]], axis=2)
    y = np.concatenate([treated_y, control_y], axis=1)
    n, k = design.shape[1], design.shape[2]
    bread = np.linalg.inv(np.einsum("bni,bnj->bij", design, design))
    beta = np.einsum("bij,bnj,bn->bi", bread, design, y)
    residual = y - np.einsum("bnk,bk->bn", design, beta)
    df = n - k
    classical = np.sqrt(np.einsum("bn,bn->b", residual, residual) / df * bread[:, 3, 3])
    meat = np.einsum("bni,bn,bnj->bij", design, residual**2, design)
    hc1 = np.sqrt(np.einsum("bi,bij,bj->b", bread[:, 3], meat, bread[:, 3]) * n / df)
    estimate = beta[:, 3]
    from scipy import stats  # imported when a study runs, not when the definitions load

    with np.errstate(divide="ignore", invalid="ignore"):
        return {"estimate": estimate,
                "p_classical": 2 * stats.t.sf(np.abs(estimate / classical), df),
                "p_hc1": 2 * stats.t.sf(np.abs(estimate / hc1), df)}


# ----------------------------------------------------------------------------- two-way fixed effects


def _twfe_rows(data: _SliceData, chosen: list[str]) -> list[dict]:
    rows = []
    for treated in chosen:
        donors = data.donors(treated)
        tau, placebos = twfe_all_donors(data.y[data.row[treated]], data.y[donors], data.post)
        row = _row(data, treated, TWFE, estimate=tau, permutation_p_value=permutation_p_value(tau, placebos),
                   n_placebos=len(placebos))
        rows.append(_with_mde(row, placebos))
    return rows


# ----------------------------------------------------------------------------- synthetic control


@dataclass(frozen=True)
class _Fit:
    weights: np.ndarray  # over pool rows (0 for rows not in the donor set)
    pre_rmspe: float
    post_rmspe: float
    mean_post_gap: float


def _sc_fit(data: _SliceData, target: int, donors: np.ndarray) -> _Fit:
    pre = ~data.post
    w = synthetic_weights(data.y[target, pre], data.y[donors][:, pre])
    gap = data.y[target] - w @ data.y[donors]
    weights = np.zeros(data.n_pool)
    weights[donors] = w
    return _Fit(weights, float(np.sqrt(np.mean(gap[pre] ** 2))), float(np.sqrt(np.mean(gap[~pre] ** 2))),
                float(np.mean(gap[~pre])))


def _synthetic_control_rows(data: _SliceData, chosen: list[str]) -> list[dict]:
    pool = np.arange(data.n_pool)
    own = {j: _sc_fit(data, j, pool[pool != j]) for j in range(data.n_pool)}  # each pool unit from the others
    rows = []
    for treated in chosen:
        k = data.row[treated]
        donors = data.donors(treated)
        actual = own[k] if k < data.n_pool else _sc_fit(data, k, donors)
        # The placebo of donor j leaves the treated unit out too: j's own fit stands where it gives k no weight.
        placebos = [own[j] if k >= data.n_pool or own[j].weights[k] == 0 else
                    _sc_fit(data, j, donors[donors != j]) for j in donors]
        floor = EXACT_FIT_TOLERANCE * max(np.abs(data.y[donors]).max(), np.abs(data.y[k]).max())
        ratio = float(rmspe_ratio(actual.pre_rmspe, actual.post_rmspe, floor))
        pre = np.array([p.pre_rmspe for p in placebos])
        post = np.array([p.post_rmspe for p in placebos])
        ratios = rmspe_ratio(pre, post, floor)
        comparable = pre <= COMPARABLE_FIT_MULTIPLE * max(actual.pre_rmspe, floor)
        row = _row(data, treated, SYNTHETIC_CONTROL, estimate=actual.mean_post_gap,
                   permutation_p_value=permutation_p_value(ratio, ratios), n_placebos=len(placebos),
                   post_rmspe_p_value=permutation_p_value(actual.post_rmspe, post[comparable]))
        rows.append(_with_mde(row, np.array([p.mean_post_gap for p in placebos])))
    return rows


# ----------------------------------------------------------------------------- synthetic DiD


def _synthetic_did_rows(data: _SliceData, chosen: list[str], exact: set[str]) -> list[dict]:
    """The estimator itself (`synthetic_did`, exact placebo variance) for the studies in ``exact``; for the others the
    estimate (the study's own unit weights and time weights) and a detectable effect from shared fits."""
    pool = np.arange(data.n_pool)
    shared = [t for t in chosen if t not in exact]
    own = np.array([sdid_weights(data.y[j], data.y[pool[pool != j]], data.n_pre).estimate
                    for j in range(data.n_pool)]) if shared else None
    rows = []
    for treated in chosen:
        k = data.row[treated]
        donors = data.donors(treated)
        if treated in exact:
            fit = synthetic_did(data.y[k], data.y[donors], data.n_pre)
            row = _row(data, treated, SYNTHETIC_DID, estimate=fit.estimate, se_placebo=fit.se,
                       permutation_p_value=fit.p_value, n_placebos=fit.n_placebos)
            rows.append(_with_mde(row, fit.placebo_estimates))
            continue
        estimate = own[k] if k < data.n_pool else sdid_weights(data.y[k], data.y[donors], data.n_pre).estimate
        rows.append(_with_mde(_row(data, treated, SYNTHETIC_DID, estimate=float(estimate)), own[donors],
                              SDID_APPROXIMATE_PLACEBOS))
    return rows


# ----------------------------------------------------------------------------- penalised synthetic control


def _penalised_rows(data: _SliceData, chosen: list[str]) -> list[dict]:
    """`penalised_study`'s rule for every study of the slice, from one set of leave-one-out fits (see the module).

    Every pool authority j is fitted from its K nearest other pool authorities at every lambda of the grid, once.
    Study i's donors are the pool without i: donor j's fits stand unless i is among j's K nearest, and are refitted
    from its next nearest otherwise; each lambda (the treated unit's on every donor, placebo j's on every donor but
    j, by the one-standard-error rule) is then chosen from the study's own table, as `penalised_study` does.
    Exact; slices too small or too large for the shared table (fewer than K + 3 or more than the validation
    limit of authorities) run `penalised_study` itself.
    """
    n, grid = data.n_pool, np.asarray(LAMBDA_GRID)
    if not PENALISED_POOL + 3 <= n <= VALIDATION_DONORS:
        return [_penalised_row(data, t) for t in chosen]
    k_pool = PENALISED_POOL
    pre = data.y[:n, :data.n_pre]
    neighbours = nearest_others(pre, k_pool + 1)  # each one's K + 1 nearest: its pool without i is at most one away
    shared = _penalised_table(data, np.arange(n), neighbours[:, :k_pool], grid)  # (n, G, 3)
    rows = []
    for treated in chosen:
        k = data.row[treated]
        donors = data.donors(treated)  # pool rows, in pool order
        table = shared[donors].copy()
        if k < n:
            moved = np.flatnonzero((neighbours[donors, :k_pool] == k).any(axis=1))
            if moved.size:
                pools = np.array([[x for x in neighbours[donors[m]] if x != k][:k_pool] for m in moved])
                table[moved] = _penalised_table(data, donors[moved], pools, grid)
        mspe = table[:, :, 1] ** 2
        chosen_g = one_standard_error_choice(mspe)[0]
        if k < n:
            fit = shared[k, chosen_g]  # its pool is its K nearest in the pool without it: its own table row
        else:
            pool = donors[np.argsort(np.sqrt(np.mean((data.y[donors, :data.n_pre] - data.y[k, :data.n_pre]) ** 2,
                                                     axis=1)), kind="stable")[:k_pool]]
            fit = _penalised_table(data, np.array([k]), pool[None, :], grid[[chosen_g]])[0, 0]
        placebo_g = np.array([one_standard_error_choice(np.delete(mspe, m, axis=0))[0] for m in range(donors.size)])
        placebos = table[np.arange(donors.size), placebo_g]
        noise = noise_level(data.y[donors, :data.n_pre])
        ratio = float(rmspe_ratio(fit[0], fit[1], noise))
        ratios = rmspe_ratio(placebos[:, 0], placebos[:, 1], noise)
        row = _row(data, treated, PENALISED_SC, estimate=float(fit[2]),
                   permutation_p_value=permutation_p_value(ratio, ratios), n_placebos=donors.size)
        rows.append(_with_mde(row, placebos[:, 2]))
    return rows


def _penalised_table(data: _SliceData, targets: np.ndarray, pools: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Summaries (pre RMSPE, post RMSPE, mean post gap) of each target from its pool at every lambda: (P, G, 3)."""
    _, summary = penalised_fits(data.y, data.n_pre, np.repeat(targets, grid.size), np.repeat(pools, grid.size, axis=0),
                                np.tile(grid, targets.size))
    return summary.reshape(targets.size, grid.size, 3)


def _penalised_row(data: _SliceData, treated: str) -> dict:
    """`penalised_study` itself, for one study."""
    k = data.row[treated]
    donors = data.donors(treated)
    study = penalised_study(data.y[k], data.y[donors], data.n_pre, max_donors=PENALISED_POOL)
    row = _row(data, treated, PENALISED_SC, estimate=study.fit.mean_post_gap, permutation_p_value=study.p_value,
               n_placebos=len(study.placebos))
    return _with_mde(row, study.placebos["mean_post_gap"].to_numpy())


# ----------------------------------------------------------------------------- the ordinary way


def registry_rows(prepared: PreparedOutcome, estimators: Sequence | None = None) -> pd.DataFrame:
    """One study the ordinary way: the registered estimators' did_results rows (and did_inference's
    re-selected p) for ``prepared``, in STUDY_COLUMNS without the detectable effect."""
    from ..did.estimators import ESTIMATORS

    chosen = [e for e in (estimators or ESTIMATORS) if set(getattr(e, "methods", {})) & set(METHODS)
              or e.name == "selection_aware_placebo"]
    selection = select_comparator(prepared)
    results, reselected = [], None
    for estimator in chosen:
        out = estimator.estimate(prepared, selection)
        if "did_results" in out:
            results.append(out["did_results"])
        if "did_inference" in out:
            reselected = out["did_inference"]["reselected_p_value"].iloc[0]
    table = pd.concat(results, ignore_index=True)
    table = table[table["method"].isin(METHODS)].copy()
    main = main_method(prepared.study)
    table["reselected_p_value"] = np.where(table["method"] == main, reselected, np.nan)
    table["unit_code"] = prepared.study.treated_unit_code
    table["first_post_year"] = prepared.study.first_post_year
    return table[[c for c in STUDY_COLUMNS if c in table.columns or c == "reselected_p_value"]
                 ].reset_index(drop=True)


def p_value_kinds_of(table: pd.DataFrame) -> Mapping[str, list[str]]:
    """method -> the p-value kinds it publishes in ``table`` (a column with at least one value)."""
    return {method: [kind for kind, column in P_VALUE_COLUMNS.items() if rows[column].notna().any()]
            for method, rows in table.groupby("method", sort=False)}


__all__ = ["DIFFERENCE_OF_MEANS", "METHODS", "P_VALUE_COLUMNS", "P_VALUE_KINDS", "STUDY_COLUMNS", "SliceInputs",
           "registry_rows", "run_slice"]
