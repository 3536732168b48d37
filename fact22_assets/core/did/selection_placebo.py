"""Placebo-in-space that repeats the selection step (issue 12, item 3).

`placebo.placebo_in_space` pairs every pseudo-treated authority with the
comparator the treated unit got. The treated unit's comparator, though, was
chosen by a data-driven rule (`ranking`): the most parallel, most alike
candidate out of ~130. A permutation test is valid only if every
permutation repeats every data-driven step, so here each pseudo-treated
authority chooses ITS OWN comparator by exactly the rule of `ranking`, and
its DiD is fitted against that pick.

Ranking every unit against every other is N^2 pairs; `rank_all_pairs` does
it without a Python loop over pairs, in blocks of pseudo-treated rows:

- each unit's own OLS line over the pre-years gives its slope s, residual
  vector r and residual sum of squares RSS (the sums of
  `closed_form.differential_slopes`); the pair's differential slope is
  s_i - s_j with RSS_i + RSS_j on 2n - 4 degrees of freedom, and its yearly
  gap (j minus i) has residuals r_j - r_i, so
  n * pre_gap_rmse^2 = RSS_i + RSS_j - 2 r_i.r_j (one matrix product).
  Where that difference cancels to almost nothing (gaps that are nearly
  straight lines) it is recomputed from r_j - r_i directly, so gaps that
  are exact lines still tie at 0 after the rule's rounding to 9 decimals;
- the pre-trend gate p >= alpha is applied as |t| <= t_{1-alpha/2, 2n-4},
  the same test without a t-tail call per pair;
- the percentile ranks within each row follow `ranking._percentile`
  (average ranks for ties, a missing distance after every observed one,
  divided by the number of candidates), a demographic distance that is
  missing for every candidate of a row is left out of that row's
  demography score, the composite is `ranking._weighted_mean`, and the
  pick is the first by (passes the gate, composite, unit_code).

Each pseudo-treated unit's candidates are the eligible units other than
itself, never the study's real treated unit. `max_candidates` = K caps
them at the K candidates nearest in pre-period level (ties by unit_code,
found by scanning a window of 2K + 3 units in level order): time then
grows with N x K, not N^2 (memory is bounded by the blocks either way). That changes the rule
(percentiles among K, not all), so the cap is reported wherever results
are, and with K at least the number of candidates the rule is unchanged.

Statistical neighbours: `neighbours_by_unit` (unit_code, neighbour_code,
neighbour_rank) lists each authority's DfE neighbours; a unit without a
list has the component left out, as `ranking` does. Without the table, the
treated unit still uses the prepared outcome's own neighbour list, so its
pick reproduces the report's selection; the placebos then rank without
neighbours, and the inference text says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .closed_form import pair_did
from .contract import Selection
from .eligibility import require_eligible_comparator
from .estimation import main_method
from .placebo import PlaceboInSpace, permutation_p_value, placebo_in_space
from .prepared import PreparedOutcome
from .similarity import CIN_RATE, POPULATION

RESELECTED_TABLE = "did_placebo_space_reselected"
INFERENCE_TABLE = "did_inference"
MART_DESCRIPTIONS = {
    RESELECTED_TABLE: "Every eligible authority as pseudo-treated against its own comparator, chosen by the same "
                      "ranking rule as the treated unit's, with the report's estimator; the treated row first.",
    INFERENCE_TABLE: "Per study, vintage and outcome: the placebo-in-space p-value with the comparator fixed and "
                     "with each placebo reselecting its own, and which one the headline uses.",
}

PICK_COLUMNS = [
    "unit_code",
    "comparator_code",
    "composite_score",
    "passes_pretrend",
    "differential_slope",
    "differential_slope_p",
    "pre_gap_rmse",
    "level_difference",
    "n_candidates",
    "n_passing_pretrend",
    "max_candidates",
]
INFERENCE_COLUMNS = [
    "study_id",
    "outcome",
    "treated_unit_code",
    "comparator_code",
    "method",
    "estimate",
    "fixed_comparator_p_value",
    "reselected_p_value",
    "n_placebos_fixed",
    "n_placebos_reselected",
    "n_distinct_placebo_comparators",
    "max_candidates",
    "treated_pick_reproduced",
    "headline_inference",
    "headline_reason",
    "reselected_inference",
]
HEADLINE_REASON = (
    "The treated unit's comparator was chosen from the data by the ranking rule, so a valid permutation test "
    "repeats that choice for every placebo; with the comparator fixed, the placebo distribution ignores the "
    "selection step and its p-value can be too small or too large."
)

# Pairs x pre-years to score at a time: pseudo-treated rows are taken in blocks of about this many
# entries, so memory stays bounded (tens of MB) whatever N is.
_BLOCK_ENTRIES = 1 << 21
# Below this share of RSS_i + RSS_j, the gap's RSS from the matrix product has lost too many digits.
_CANCELLATION = 1e-6


@dataclass(frozen=True)
class ReselectedPlaceboInSpace(PlaceboInSpace):
    """`PlaceboInSpace` where every placebo chose its own comparator by the ranking rule.

    picks: `rank_all_pairs`' table for the treated unit and every placebo;
    treated_rule_pick: the comparator the vectorised rule gives the treated
    unit (equal to the selection's unless a cap or missing neighbour lists
    change the rule); n_distinct_comparators: how many authorities serve as
    some placebo's comparator.
    """

    picks: pd.DataFrame = field(default=None, repr=False)
    max_candidates: int | None = None
    treated_rule_pick: str | None = None
    n_distinct_comparators: int = 0
    inference: str = ""


@dataclass(frozen=True)
class _Units:
    """Per-unit pre-period summaries, rows in `codes` order."""

    codes: list[str]
    slope: np.ndarray
    rss: np.ndarray  # as closed_form.differential_slopes computes it, for the test
    residuals: np.ndarray  # units x pre-years
    pre_mean: np.ndarray
    population: np.ndarray
    cin_rate: np.ndarray
    imd: np.ndarray


def rank_all_pairs(
    prepared: PreparedOutcome,
    pseudo_treated_codes: Sequence[str],
    candidate_codes: Sequence[str],
    neighbours_by_unit: pd.DataFrame | None = None,
    deprivation: pd.DataFrame | None = None,
    max_candidates: int | None = None,
) -> pd.DataFrame:
    """Each pseudo-treated unit's comparator by the rule of `ranking`, all units at once.

    One row per pseudo-treated unit, in the order given, columns PICK_COLUMNS:
    unit_code, comparator_code (None when it has no candidate), the pick's
    composite_score, passes_pretrend, differential_slope (unit minus pick),
    differential_slope_p and pre_gap_rmse, level_difference (pick minus unit
    pre-period mean), n_candidates ranked, n_passing_pretrend among them, and
    max_candidates (the cap in effect: None when `max_candidates` is None or
    at least the number of candidates). `deprivation` defaults to the prepared
    outcome's; all series must be complete in the pre-years.
    """
    study = prepared.study
    pseudo = list(pseudo_treated_codes)
    candidates = sorted(set(candidate_codes) - {study.treated_unit_code})
    if max_candidates is not None and (isinstance(max_candidates, bool) or int(max_candidates) < 1):
        raise ValueError(f"max_candidates must be a positive whole number or None, got {max_candidates!r}")
    codes = sorted(set(pseudo) | set(candidates))
    position = {code: k for k, code in enumerate(codes)}
    units = _unit_summaries(prepared, codes, prepared.deprivation if deprivation is None else deprivation)
    rows = np.array([position[c] for c in pseudo], dtype=int)
    columns = np.array([position[c] for c in candidates], dtype=int)
    neighbour_ranks = _neighbour_triplets(prepared, neighbours_by_unit, pseudo, candidates)

    n_rows, n_columns = len(pseudo), len(candidates)
    cap = None if max_candidates is None or int(max_candidates) >= n_columns else int(max_candidates)
    width = n_columns if cap is None else cap
    n_years = units.residuals.shape[1]
    block = max(1, _BLOCK_ENTRIES // max(1, width * max(n_years, 8)))
    parts = [
        _rank_block(units, rows[start:start + block], columns, np.arange(start, min(start + block, n_rows)),
                    neighbour_ranks, cap, prepared)
        for start in range(0, n_rows, block)
    ]
    picks = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=PICK_COLUMNS[:-1])
    picks.insert(0, "unit_code", pseudo)
    picks["comparator_code"] = [
        candidates[k] if k >= 0 else None for k in picks.pop("pick").to_numpy()
    ]
    picks["max_candidates"] = pd.array([cap] * len(picks), dtype="Int64")
    picks["passes_pretrend"] = picks["passes_pretrend"].astype("boolean")
    return picks[PICK_COLUMNS]


def selection_aware_placebo(
    prepared: PreparedOutcome,
    selection: Selection,
    neighbours_by_unit: pd.DataFrame | None = None,
    max_candidates: int | None = None,
) -> ReselectedPlaceboInSpace:
    """Every eligible unit as pseudo-treated against its own pick, and the treated unit against its comparator.

    `selection` is the comparator rule's answer for the prepared outcome (only
    its comparator is read); `max_candidates` as in `rank_all_pairs`. The estimator is the report's: `pair_did` with the
    covariate when the study has one (equal to `did_estimates`' main
    method), fitted once per distinct pick for all units that chose it. The
    p-value is `placebo.permutation_p_value`.

    Table columns: study_id, outcome, comparator_code (each row's own),
    unit_code, unit_name, role ('treated' or 'placebo'), estimate,
    se_classical, t_classical, p_classical, covariate_coefficient, n_obs,
    at_least_as_extreme, comparator_composite_score, comparator_passes_pretrend,
    n_candidates, max_candidates, inference.
    """
    study, outcome = prepared.study, prepared.outcome
    comparator = selection.comparator
    require_eligible_comparator(prepared.eligibility, study, comparator)
    placebos = list(prepared.candidates)
    picks = rank_all_pairs(prepared, [study.treated_unit_code, *placebos], placebos, neighbours_by_unit,
                           max_candidates=max_candidates)
    controls = [comparator, *picks["comparator_code"].iloc[1:]]
    fits = _fits_against_own_controls(prepared, [study.treated_unit_code, *placebos], controls)

    actual, placebo_estimates = fits["estimate"][0], fits["estimate"][1:]
    cap = picks["max_candidates"].iloc[0]
    cap = None if pd.isna(cap) else int(cap)
    inference = _inference_text(cap, neighbours_by_unit is None and prepared.neighbours is not None)
    table = pd.DataFrame(
        {
            "study_id": study.study_id,
            "outcome": outcome,
            "comparator_code": controls,
            "unit_code": picks["unit_code"].to_numpy(),
            "unit_name": prepared.panel.names.reindex(picks["unit_code"]).to_numpy(),
            "role": ["treated"] + ["placebo"] * len(placebos),
            **fits,
            "at_least_as_extreme": np.abs(fits["estimate"]) >= abs(actual),
            "comparator_composite_score": picks["composite_score"].to_numpy(),
            "comparator_passes_pretrend": picks["passes_pretrend"].array,
            "n_candidates": picks["n_candidates"].to_numpy(),
            "max_candidates": picks["max_candidates"].array,
            "inference": inference,
        }
    )
    chosen = [c for c in controls[1:] if c is not None]
    return ReselectedPlaceboInSpace(
        table=table,
        actual_estimate=float(actual),
        p_value=permutation_p_value(actual, placebo_estimates),
        n_placebos=int((~np.isnan(placebo_estimates)).sum()),
        picks=picks,
        max_candidates=cap,
        treated_rule_pick=picks["comparator_code"].iloc[0],
        n_distinct_comparators=len(set(chosen)),
        inference=inference,
    )


class SelectionAwarePlacebo:
    """Placebo-in-space with the selection step repeated, beside the fixed-comparator one.

    `neighbours_by_unit` (every authority's statistical neighbours) comes from
    the prepared outcome unless given when the estimator is made;
    `max_candidates` caps each placebo's candidates (None: all of them).
    """

    name = "selection_aware_placebo"
    marts = (RESELECTED_TABLE, INFERENCE_TABLE)
    methods: Mapping[str, str] = {}
    cross_check = ("tests/core/did/test_selection_placebo.py: each placebo's pick equals rank_comparators run with "
                   "that unit as treated (simulated and hand-made panels, ties, missing demography); a planted "
                   "effect gets the smallest possible p-value; the treated row equals did_estimates' main method")

    def __init__(self, neighbours_by_unit: pd.DataFrame | None = None, max_candidates: int | None = None):
        self.neighbours_by_unit = neighbours_by_unit
        self.max_candidates = max_candidates

    def estimate(self, prepared: PreparedOutcome, selection: Selection) -> dict[str, pd.DataFrame]:
        study = prepared.study
        fixed = placebo_in_space(prepared, selection.comparator)
        neighbours = self.neighbours_by_unit if self.neighbours_by_unit is not None else prepared.neighbours_by_unit
        reselected = selection_aware_placebo(prepared, selection, neighbours, self.max_candidates)
        row = {
            "study_id": study.study_id,
            "outcome": prepared.outcome,
            "treated_unit_code": study.treated_unit_code,
            "comparator_code": selection.comparator,
            "method": main_method(study),
            "estimate": reselected.actual_estimate,
            "fixed_comparator_p_value": fixed.p_value,
            "reselected_p_value": reselected.p_value,
            "n_placebos_fixed": fixed.n_placebos,
            "n_placebos_reselected": reselected.n_placebos,
            "n_distinct_placebo_comparators": reselected.n_distinct_comparators,
            "max_candidates": reselected.max_candidates,
            "treated_pick_reproduced": reselected.treated_rule_pick == selection.comparator,
            "headline_inference": "reselected",
            "headline_reason": HEADLINE_REASON,
            "reselected_inference": reselected.inference,
        }
        inference = pd.DataFrame([row], columns=INFERENCE_COLUMNS)
        for column in ("n_placebos_fixed", "n_placebos_reselected", "n_distinct_placebo_comparators",
                       "max_candidates"):
            inference[column] = inference[column].astype("Int64")
        return {RESELECTED_TABLE: reselected.table, INFERENCE_TABLE: inference}


def _inference_text(cap: int | None, placebos_without_neighbours: bool) -> str:
    text = ("placebo-in-space, reselected: |estimate| of each eligible unit against its own comparator, "
            "chosen by the treated unit's ranking rule")
    if cap is not None:
        text += f" among its {cap} candidates nearest in pre-period level"
    if placebos_without_neighbours:
        text += ("; the treated unit ranked with its statistical neighbours, the placebos without "
                 "(no list per authority given)")
    return text


def _fits_against_own_controls(prepared: PreparedOutcome, units: list[str], controls: list) -> dict:
    """The study's DiD of each unit against its own control: one `pair_did` per distinct control."""
    study = prepared.study
    years = list(study.study_years)
    post = np.isin(years, study.post_years)
    codes = sorted(set(units) | {c for c in controls if c is not None})
    position = {code: k for k, code in enumerate(codes)}
    y = prepared.values(prepared.outcome, codes, years)
    x = prepared.values(study.covariate, codes, years) if study.covariate else None

    n = len(units)
    out = {name: np.full(n, np.nan) for name in ("estimate", "se_classical", "t_classical", "p_classical",
                                                  "covariate_coefficient")}
    n_obs = 2 * len(years)
    rows_of = pd.Series(range(n)).groupby(pd.Series(controls, dtype=object)).indices
    for control, members in rows_of.items():
        treated = [position[units[k]] for k in members]
        c = position[control]
        if x is None:
            fits = pair_did(y[treated], y[c], post)
        else:
            fits = pair_did(y[treated], y[c], post, x[treated], x[c])
        out["estimate"][members] = fits.estimate
        out["se_classical"][members] = fits.se
        out["t_classical"][members] = fits.t
        out["p_classical"][members] = fits.p
        if fits.covariate_coefficient is not None:
            out["covariate_coefficient"][members] = fits.covariate_coefficient
    out["n_obs"] = np.full(n, n_obs)
    return out


def _unit_summaries(prepared: PreparedOutcome, codes: list[str], deprivation: pd.DataFrame | None) -> _Units:
    years = list(prepared.study.pre_years)
    y = prepared.values(prepared.outcome, codes, years)
    t = np.asarray(years, dtype=float)
    t = t - t.mean()
    stt = t @ t
    deviations = y - y.mean(axis=-1, keepdims=True)
    slope = (deviations @ t) / stt
    rss = np.maximum((deviations**2).sum(axis=-1) - slope**2 * stt, 0.0)
    residuals = deviations - slope[:, np.newaxis] * t
    return _Units(
        codes=codes,
        slope=slope,
        rss=rss,
        residuals=residuals,
        pre_mean=y.mean(axis=1),
        population=_pre_means(prepared, POPULATION, codes),
        cin_rate=_pre_means(prepared, CIN_RATE, codes),
        imd=_imd_scores(deprivation, codes),
    )


def _pre_means(prepared: PreparedOutcome, column: str, codes: list[str]) -> np.ndarray:
    """As `similarity._pre_means`: the mean over the pre-years ignoring gaps, NaN without any value."""
    if column not in prepared.panel.frame.columns:
        return np.full(len(codes), np.nan)
    values = prepared.panel.matrix(column, codes, list(prepared.study.pre_years))
    counts = (~np.isnan(values)).sum(axis=1)
    return np.where(counts > 0, np.nansum(values, axis=1) / np.maximum(counts, 1), np.nan)


def _imd_scores(deprivation: pd.DataFrame | None, codes: list[str]) -> np.ndarray:
    if deprivation is None:
        return np.full(len(codes), np.nan)
    _require(deprivation, ["unit_code", "imd_average_score"], ["unit_code"], "deprivation")
    return deprivation.set_index("unit_code")["imd_average_score"].reindex(codes).to_numpy(dtype=float)


def _neighbour_triplets(
    prepared: PreparedOutcome, neighbours_by_unit: pd.DataFrame | None, pseudo: list[str], candidates: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pseudo-treated row, candidate column, neighbour rank) of every listed pair."""
    if neighbours_by_unit is None:
        if prepared.neighbours is None:
            table = pd.DataFrame(columns=["unit_code", "neighbour_code", "neighbour_rank"])
        else:
            _require(prepared.neighbours, ["unit_code", "neighbour_rank"], ["unit_code"], "statistical neighbours")
            table = prepared.neighbours.rename(columns={"unit_code": "neighbour_code"}).assign(
                unit_code=prepared.treated
            )
    else:
        table = neighbours_by_unit
        _require(table, ["unit_code", "neighbour_code", "neighbour_rank"], ["unit_code", "neighbour_code"],
                 "statistical neighbours by unit")
    row_of = pd.Series(range(len(pseudo)), index=pseudo)
    row_of = row_of[~row_of.index.duplicated()]
    column_of = pd.Series(range(len(candidates)), index=candidates)
    rows = row_of.reindex(table["unit_code"]).to_numpy()
    columns = column_of.reindex(table["neighbour_code"]).to_numpy()
    keep = ~(np.isnan(rows) | np.isnan(columns))
    ranks = table["neighbour_rank"].to_numpy(dtype=float)
    return rows[keep].astype(int), columns[keep].astype(int), ranks[keep]


def _require(table: pd.DataFrame, columns: list[str], key: list[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} table lacks column(s) {missing}; it has {list(table.columns)}")
    repeated = table[table.duplicated(key)]
    if not repeated.empty:
        examples = sorted({" ".join(map(str, r)) for r in repeated[key].itertuples(index=False)})[:5]
        raise ValueError(f"{what} table lists {' and '.join(key)} more than once: {examples}")


def _rank_block(
    units: _Units,
    rows: np.ndarray,
    columns: np.ndarray,
    row_numbers: np.ndarray,
    neighbour_ranks: tuple[np.ndarray, np.ndarray, np.ndarray],
    cap: int | None,
    prepared: PreparedOutcome,
) -> pd.DataFrame:
    """The rule for one block of pseudo-treated units (`rows` index `units`; `columns` the candidates)."""
    from scipy import stats  # imported when a ranking runs, not when the definitions load

    rule = prepared.study.ranking
    n_block, n_columns = rows.size, columns.size
    self_column = np.searchsorted(columns, rows)  # columns are sorted positions in the sorted codes
    is_self = (self_column < n_columns) & (columns[np.minimum(self_column, n_columns - 1)] == rows)
    self_column = np.where(is_self, self_column, -1)

    mean_i, mean_c = units.pre_mean[rows], units.pre_mean[columns]
    if cap is None:
        index = np.broadcast_to(np.arange(n_columns), (n_block, n_columns))
        valid = index != self_column[:, np.newaxis]
    else:
        index = _nearest_in_level(mean_i, mean_c, self_column, cap)
        valid = np.ones(index.shape, dtype=bool)
    j = columns[index]  # units row of each entry

    def candidate(values: np.ndarray) -> np.ndarray:
        """A per-unit value for each entry's candidate (broadcast over rows when every row has all)."""
        return values[columns][np.newaxis, :] if cap is None else values[j]

    def own(values: np.ndarray) -> np.ndarray:
        return values[rows][:, np.newaxis]

    # Pre-trend test: treated minus candidate slope, pooled RSS on 2n - 4 df.
    n_years = units.residuals.shape[1]
    t = np.asarray(prepared.study.pre_years, dtype=float)
    stt = ((t - t.mean()) ** 2).sum()
    df = 2 * n_years - 4
    slope = own(units.slope) - candidate(units.slope)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt((own(units.rss) + candidate(units.rss)) / df * 2 / stt)
        t_stat = slope / se
    passes = valid & (np.abs(t_stat) <= stats.t.isf(rule.pretrend_alpha / 2, df))

    gap_rmse = _gap_rmse(units, rows, columns, j, cap)
    level = candidate(units.pre_mean) - own(units.pre_mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        population = np.abs(np.log(candidate(units.population) / own(units.population)))
    cin_rate = np.abs(candidate(units.cin_rate) - own(units.cin_rate))
    imd = np.abs(candidate(units.imd) - own(units.imd))
    neighbour = _neighbour_block(neighbour_ranks, row_numbers, index, n_columns, cap is None)

    pct_trend = (_row_percentiles(np.abs(slope), valid) + _row_percentiles(np.round(gap_rmse, 9), valid)) / 2
    pct_level = _row_percentiles(np.abs(level), valid)
    demographic = np.stack(
        [_row_percentiles(d, valid, leave_out_if_absent=True) for d in (population, cin_rate, neighbour, imd)],
        axis=-1,
    )
    counts = (~np.isnan(demographic)).sum(axis=-1)
    demography = np.where(counts > 0, np.nansum(demographic, axis=-1) / np.maximum(counts, 1), np.nan)
    composite = _weighted_mean(np.stack([pct_trend, pct_level, demography], axis=-1), rule.weights.values())

    # Order: passing the gate first, then composite ascending, then unit_code (column order).
    any_pass = passes.any(axis=1, keepdims=True)
    contenders = valid & (passes | ~any_pass)
    key = np.where(contenders, np.where(np.isnan(composite), 2.0, composite), np.inf)
    best = np.argmin(key, axis=1) if key.shape[1] else np.zeros(n_block, dtype=int)
    has_pick = valid.any(axis=1)
    take = (np.arange(n_block), best)

    def picked(values: np.ndarray) -> np.ndarray:
        return np.where(has_pick, values[take], np.nan) if values.shape[1] else np.full(n_block, np.nan)

    slope_pick = picked(slope)
    with np.errstate(invalid="ignore"):
        p_pick = 2 * stats.t.sf(np.abs(picked(t_stat)), df)
    return pd.DataFrame(
        {
            "pick": np.where(has_pick, index[take] if index.shape[1] else -1, -1),
            "composite_score": picked(composite),
            "passes_pretrend": pd.array(np.where(has_pick, passes[take] if passes.shape[1] else False, None),
                                        dtype="boolean"),
            "differential_slope": slope_pick,
            "differential_slope_p": p_pick,
            "pre_gap_rmse": picked(gap_rmse),
            "level_difference": picked(level),
            "n_candidates": valid.sum(axis=1),
            "n_passing_pretrend": passes.sum(axis=1),
        }
    )


def _nearest_in_level(mean_i: np.ndarray, mean_c: np.ndarray, self_column: np.ndarray, cap: int) -> np.ndarray:
    """Column indices (ascending) of each row's `cap` candidates nearest in pre-period level, ties by column.

    Sorted by level, a row's `cap` nearest lie within `cap` + 1 places either side of it, so only that
    window is scanned; a row where a candidate just outside the window is as near as the `cap`-th
    (a tie in level) is scanned in full.
    """
    n = mean_c.size
    width = 2 * cap + 3
    if width >= n:
        return _nearest_among(np.broadcast_to(np.arange(n), (mean_i.size, n)), mean_i, mean_c, self_column, cap)[0]
    order = np.lexsort((np.arange(n), mean_c))
    ordered = mean_c[order]
    start = np.clip(np.searchsorted(ordered, mean_i) - cap - 1, 0, n - width)
    window = np.sort(order[start[:, np.newaxis] + np.arange(width)], axis=1)
    index, kth = _nearest_among(window, mean_i, mean_c, self_column, cap)
    left = np.where(start > 0, np.abs(ordered[np.maximum(start - 1, 0)] - mean_i), np.inf)
    right = np.where(start + width < n, np.abs(ordered[np.minimum(start + width, n - 1)] - mean_i), np.inf)
    redo = np.nonzero(np.minimum(left, right) <= kth)[0]
    if redo.size:
        every = np.broadcast_to(np.arange(n), (redo.size, n))
        index[redo] = _nearest_among(every, mean_i[redo], mean_c, self_column[redo], cap)[0]
    return index


def _nearest_among(
    index: np.ndarray, mean_i: np.ndarray, mean_c: np.ndarray, self_column: np.ndarray, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """The `cap` nearest among each row's columns `index` (ascending), and the `cap`-th distance."""
    distance = np.abs(mean_c[index] - mean_i[:, np.newaxis])
    distance[index == self_column[:, np.newaxis]] = np.inf
    kth = np.partition(distance, cap - 1, axis=1)[:, cap - 1:cap]
    closer = distance < kth
    tied = distance == kth
    room = cap - closer.sum(axis=1, keepdims=True)
    chosen = closer | (tied & (np.cumsum(tied, axis=1) <= room))
    return index[chosen].reshape(mean_i.size, cap), kth[:, 0]


def _gap_rmse(units: _Units, rows, columns, j, cap) -> np.ndarray:
    """sqrt(|r_j - r_i|^2 / n) for every entry, from RSS_i + RSS_j - 2 r_i.r_j."""
    residuals = units.residuals
    squares = (residuals**2).sum(axis=1)
    own = residuals[rows]
    if cap is None:
        cross = own @ residuals[columns].T
    else:
        cross = np.einsum("bkn,bn->bk", residuals[j], own)
    scale = squares[rows][:, np.newaxis] + squares[j]
    gap_rss = scale - 2 * cross
    redo = np.nonzero(gap_rss <= _CANCELLATION * scale)
    if redo[0].size:
        difference = residuals[j[redo]] - own[redo[0]]
        gap_rss[redo] = (difference**2).sum(axis=1)
    return np.sqrt(np.maximum(gap_rss, 0.0) / residuals.shape[1])


def _neighbour_block(triplets, row_numbers: np.ndarray, index: np.ndarray, n_columns: int,
                     every_column: bool) -> np.ndarray:
    """Neighbour rank of each entry's candidate in its row's own list, NaN when not listed."""
    rows, columns, ranks = triplets
    inside = (rows >= row_numbers[0]) & (rows <= row_numbers[-1]) if row_numbers.size else rows < 0
    if not inside.any():
        return np.full(index.shape, np.nan)
    dense = np.full((row_numbers.size, n_columns), np.nan)
    dense[rows[inside] - row_numbers[0], columns[inside]] = ranks[inside]
    return dense if every_column else np.take_along_axis(dense, index, axis=1)


def _row_percentiles(distance: np.ndarray, valid: np.ndarray, leave_out_if_absent: bool = False) -> np.ndarray:
    """`ranking._percentile` within each row over its valid entries: average ranks for ties, a
    missing distance after every observed one, over the row's number of valid entries. With
    `leave_out_if_absent`, a row without any observed distance is NaN throughout."""
    distance = np.broadcast_to(distance, valid.shape)
    observed = valid & ~np.isnan(distance)
    n_valid = valid.sum(axis=1, keepdims=True)
    n_observed = observed.sum(axis=1, keepdims=True)
    if leave_out_if_absent and not n_observed.any():
        return np.full(valid.shape, np.nan)
    ranks = _average_ranks(np.where(observed, distance, np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(observed, ranks, n_observed + (n_valid - n_observed + 1) / 2) / n_valid
    pct = np.where(valid, pct, np.nan)
    if leave_out_if_absent:
        pct = np.where(n_observed > 0, pct, np.nan)
    return pct


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks within each row, tied values sharing their average rank (as
    `scipy.stats.rankdata(method='average')`); NaN sorts last and its ranks are not meaningful."""
    n_rows, n = values.shape
    if n == 0:
        return values.copy()
    order = np.argsort(values, axis=1)  # ties may come in any order: they share one rank
    ordered = np.take_along_axis(values, order, axis=1)
    starts = np.ones(values.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends = np.ones(values.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    position = np.arange(n)
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    last = n - 1 - np.maximum.accumulate(np.where(ends[:, ::-1], position, 0), axis=1)[:, ::-1]
    ranks = np.empty(values.shape)
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=1)
    return ranks


def _weighted_mean(scores: np.ndarray, weights) -> np.ndarray:
    """`ranking._weighted_mean` over the last axis."""
    weights = np.array(list(weights), dtype=float)
    used = np.where(np.isnan(scores), 0.0, weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nansum(scores * used, axis=-1) / used.sum(axis=-1)
