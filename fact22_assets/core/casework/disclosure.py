"""Can a withheld count be worked back out of the published casework marts?

DfE withholds counts of 1 to 5 (shown as ``c``), and anything from which
such a count can be derived.  `attack` plays the reader who holds every
published mart and its documentation, and tries what such a reader would:

* **share x denominator**: a share or rate in a row, times a count
  published in that row (``0.047619 x 84 = 4`` escalations), both for the
  shares the marts document (`MartSpec.shares`) and for any other number in
  (0, 1] of a row that holds a withheld count;
* **totals minus parts**: rows or columns that add up to a total
  (`relations`: the locations of the service add to the families served,
  ``n_cases = n_treated + n_control``, the start years add to the service's
  totals), solved whenever one cell of a sum is unknown, repeatedly, with
  what earlier steps recovered;
* **inverting a test**: Fisher's exact p-value of a 2x2 table whose
  margins are published, tried for every value the withheld cell could take;
* **differences between rows**: two rows about nested populations
  (`MartSpec.nested`: the trial excluding the contaminated cases is the
  intention-to-treat sample less a few), whose difference is itself a
  count of children (``n_control`` 44 - 39 = 5).

`protect` withholds, mart by mart, whatever the attack can use until it
recovers nothing within that mart; the build's check runs `attack` over
all marts together.  Values are never reported, only where they sit: a
finding names the mart, the row's labels, the column and the route.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SUPPRESSED = "c"
STATUS = "_status"
SMALL = range(1, 6)
# A share is stored as a float: a product within this of a whole number is taken as exact.
EXACT = 1e-6

Cell = tuple[str, int, str]  # (mart, row position, column)


@dataclass(frozen=True)
class MartSpec:
    """What a reader knows about one mart from its documentation.

    counts: columns of counts of children or families (withheld as NULL with
    'c' in ``<column>_status``); labels: the columns that name a row;
    shares: share or rate column -> (numerator count, denominator count) of
    the same row; derived: further columns computed from counts of the same
    row (test statistics), withheld with any of them; nested: (label column,
    larger sample, smaller sample) for rows that describe nested samples;
    fisher: (test column, p-value column, (events_a, n_a, events_b, n_b)) for
    rows whose test column says 'fisher_exact': with the margins known, the
    p-value of Fisher's exact test singles out the withheld cell.
    """

    counts: tuple[str, ...]
    labels: tuple[str, ...]
    shares: dict[str, tuple[str, str]] = field(default_factory=dict)
    derived: dict[str, tuple[str, ...]] = field(default_factory=dict)
    nested: tuple[str, str, str] | None = None
    fisher: tuple[str, str, tuple[str, str, str, str]] | None = None


_NESTED_ANALYSES = ("analysis", "itt", "excluding_contaminated")
_TRIAL = ("trial_id",)

SPECS: dict[str, MartSpec] = {
    "marts.rct_results": MartSpec(
        counts=("n_cases", "n_treated", "n_control", "events_treated", "events_control"),
        labels=(*_TRIAL, "analysis", "subgroup", "outcome"),
        shares={"treated_rate_observed": ("events_treated", "n_treated"),
                "control_rate_observed": ("events_control", "n_control")},
        nested=_NESTED_ANALYSES,
        fisher=("test", "p_value", ("events_treated", "n_treated", "events_control", "n_control"))),
    "marts.rct_balance": MartSpec(
        counts=("n_treated", "n_control", "count_treated", "count_control"),
        labels=(*_TRIAL, "analysis", "characteristic"),
        shares={"share_treated": ("count_treated", "n_treated"), "share_control": ("count_control", "n_control")},
        # chi-square or Fisher on the 2x2 table: given the margins, either identifies the cell
        derived={"statistic": ("n_treated", "n_control", "count_treated", "count_control"),
                 "p_value": ("n_treated", "n_control", "count_treated", "count_control")},
        nested=_NESTED_ANALYSES),
    "marts.rct_minimum_detectable_effects": MartSpec(counts=("n_treated", "n_control"), labels=(*_TRIAL, "outcome")),
    "marts.case_length_tobit": MartSpec(counts=("n_cases", "n_right_censored", "n_left_censored"),
                                        labels=(*_TRIAL, "term")),
    "marts.risk_scores_by_arm": MartSpec(counts=("n_cases",), labels=(*_TRIAL, "arm", "time_point")),
    "marts.risk_score_changes": MartSpec(counts=("n_cases",),
                                         labels=(*_TRIAL, "from_time_point", "to_time_point", "arm")),
    "marts.service_summary": MartSpec(
        counts=("n_families", "n_total"), labels=(*_TRIAL, "measure", "category"),
        shares={"share": ("n_families", "n_total")}),
    "marts.service_case_length_by_year": MartSpec(
        counts=("n_started", "n_ended", "n_closed", "n_open"), labels=(*_TRIAL, "start_year")),
    "marts.census_reconciliation": MartSpec(
        counts=("census_value",), labels=("authority_code", "collection_year", "measure"),
        derived={"difference": ("census_value",)}),
}


@dataclass(frozen=True)
class Relation:
    """sum(parts) == total, known to any reader of the marts' documentation."""

    total: Cell
    parts: tuple[Cell, ...]
    why: str


def _rows(marts: dict[str, pd.DataFrame], table: str, **labels) -> list[int]:
    frame = marts.get(table)
    if frame is None:
        return []
    mask = np.ones(len(frame), dtype=bool)
    for column, value in labels.items():
        mask &= (frame[column] == value).to_numpy()
    return list(np.flatnonzero(mask))


def _trials(marts: dict[str, pd.DataFrame], table: str) -> list[dict]:
    """The label filters that pick one trial's rows of a mart (one filter, matching every row, without trial_id)."""
    frame = marts.get(table)
    if frame is None or "trial_id" not in frame:
        return [{}]
    return [{"trial_id": t} for t in pd.unique(frame["trial_id"])]


def relations(marts: dict[str, pd.DataFrame]) -> list[Relation]:
    """The sums a reader can write down from the marts present (within each trial)."""
    found: list[Relation] = []
    rct = "marts.rct_results"
    for row in range(len(marts.get(rct, []))):
        found.append(Relation((rct, row, "n_cases"), ((rct, row, "n_treated"), (rct, row, "n_control")),
                              "n_cases = n_treated + n_control"))
    tobit = "marts.case_length_tobit"
    for trial in _trials(marts, tobit):
        rows = _rows(marts, tobit, **trial)
        for column in SPECS[tobit].counts:
            found += [Relation((tobit, rows[0], column), ((tobit, row, column),), "the same sample on every term")
                      for row in rows[1:]]
    service, years = "marts.service_summary", "marts.service_case_length_by_year"
    for trial in _trials(marts, service) if service in marts else []:
        first = _rows(marts, service, **trial)[:1]
        for measure in ("location", "outcome"):
            parts = tuple((service, r, "n_families") for r in _rows(marts, service, measure=measure, **trial))
            if first and parts:
                found.append(Relation((service, first[0], "n_total"), parts, f"the {measure}s add to the families"))
        total = _rows(marts, service, measure="escalated", **trial)
        escalated = _rows(marts, service, measure="outcome", category="escalated_cp", **trial) + \
            _rows(marts, service, measure="outcome", category="escalated_lac", **trial)
        if total and escalated:
            found.append(Relation((service, total[0], "n_families"), tuple((service, r, "n_families") for r in escalated),
                                  "escalated to CP + to LAC = escalated"))
        closed = _rows(marts, service, measure="outcome", category="closed", **trial)
        days = _rows(marts, service, measure="days_to_close", **trial)
        if closed and days:
            found.append(Relation((service, closed[0], "n_families"), ((service, days[0], "n_families"),),
                                  "the days-to-close row counts the closed cases"))
        found += [Relation((service, r, "n_total"), ((service, first[0], "n_total"),), "one total on every row")
                  for r in _rows(marts, service, **trial)[1:]]
        if years in marts and first:
            year_trial = trial if "trial_id" in marts[years] else {}
            rows = _rows(marts, years, **year_trial)
            found.append(Relation((service, first[0], "n_total"), tuple((years, r, "n_started") for r in rows),
                                  "the start years add to the families"))
            for column, category in (("n_closed", "closed"), ("n_open", "open")):
                target = _rows(marts, service, measure="outcome", category=category, **trial)
                if target:
                    found.append(Relation((service, target[0], "n_families"),
                                          tuple((years, r, column) for r in rows), f"the start years add to {category}"))
    if years in marts:
        for row in _rows(marts, years):
            found.append(Relation((years, row, "n_started"), ((years, row, "n_ended"), (years, row, "n_open")),
                                  "started = ended + still open"))
    return found


def _withheld(frame: pd.DataFrame, column: str) -> np.ndarray:
    status = frame.get(f"{column}{STATUS}")
    if status is None:
        return np.zeros(len(frame), dtype=bool)
    return (status.astype("string").fillna("") == SUPPRESSED).to_numpy()


def _label(marts: dict[str, pd.DataFrame], table: str, row: int) -> str:
    frame = marts[table]
    return ", ".join(f"{c}={frame[c].iloc[row]}" for c in SPECS[table].labels if c in frame)


def _whole(value: float) -> int | None:
    if value is None or not np.isfinite(value):
        return None
    nearest = round(value)
    return int(nearest) if abs(value - nearest) < EXACT * max(1.0, abs(value)) else None


def attack(marts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every withheld count (and every count of 1 to 5 by difference) a reader can derive.

    Columns: mart, row (its labels), column, route, small (the recovered
    count is 1 to 5). The recovered value itself is never returned.
    """
    marts = {t: f.reset_index(drop=True) for t, f in marts.items() if t in SPECS}
    known: dict[Cell, float] = {}
    unknown: set[Cell] = set()
    for table, frame in marts.items():
        for column in SPECS[table].counts:
            if column not in frame:
                continue
            withheld = _withheld(frame, column)
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
            for row in range(len(frame)):
                if withheld[row]:
                    unknown.add((table, row, column))
                elif np.isfinite(values[row]):
                    known[(table, row, column)] = values[row]
    recovered: dict[Cell, tuple[float, str]] = {}
    findings: list[dict] = []

    def learn(cell: Cell, value: float, route: str) -> bool:
        if cell in unknown and cell not in recovered:
            recovered[cell] = (value, route)
            known[cell] = value
            return True
        return False

    progress = True
    while progress:
        progress = False
        # share x denominator (and count / share), for the documented shares
        for table, frame in marts.items():
            for share, (numerator, denominator) in SPECS[table].shares.items():
                if share not in frame:
                    continue
                values = pd.to_numeric(frame[share], errors="coerce").to_numpy(dtype="float64")
                for row in range(len(frame)):
                    s, num, den = values[row], (table, row, numerator), (table, row, denominator)
                    if not np.isfinite(s):
                        continue
                    if num in unknown and den in known and (k := _whole(s * known[den])) is not None:
                        progress |= learn(num, k, f"{share} x {denominator}")
                    if den in unknown and num in known and s > 0 and (k := _whole(known[num] / s)) is not None:
                        progress |= learn(den, k, f"{numerator} / {share}")
        # a Fisher p-value whose table has one withheld cell: try every value the cell could take
        for table, frame in marts.items():
            fisher = SPECS[table].fisher
            if fisher is None or fisher[0] not in frame or fisher[1] not in frame:
                continue
            for row in np.flatnonzero((frame[fisher[0]] == "fisher_exact").to_numpy()):
                cells = [(table, row, c) for c in fisher[2]]
                missing = [i for i, c in enumerate(cells) if c not in known]
                p = frame[fisher[1]].iloc[row]
                if len(missing) != 1 or missing[0] not in (0, 2) or pd.isna(p) or cells[missing[0]] not in unknown:
                    continue
                index = missing[0]
                size = known[cells[index + 1]]
                fits = [k for k in range(int(size) + 1) if abs(_fisher_p(cells, known, index, k) - p) < EXACT * p]
                if len(fits) == 1:
                    progress |= learn(cells[index], fits[0], f"inverting Fisher's exact {fisher[1]}")
        # totals minus parts
        for relation in relations(marts):
            cells = (relation.total, *relation.parts)
            missing = [c for c in cells if c not in known]
            if len(missing) != 1 or missing[0] not in unknown:
                continue
            cell = missing[0]
            parts_sum = sum(known[c] for c in relation.parts if c in known)
            value = parts_sum if cell == relation.total else known[relation.total] - parts_sum
            progress |= learn(cell, value, f"totals minus parts: {relation.why}")
    for (table, row, column), (value, route) in recovered.items():
        findings.append({"mart": table, "row": _label(marts, table, row), "column": column, "route": route,
                         "small": int(round(value)) in SMALL})
    # any other number in (0, 1] of a row holding a withheld count, times a count of that row
    for table, frame in marts.items():
        spec = SPECS[table]
        counts = [c for c in spec.counts if c in frame]
        floats = [c for c in frame.columns if c not in counts and c not in spec.labels
                  and pd.api.types.is_float_dtype(frame[c])]
        for row in range(len(frame)):
            if not any((table, row, c) in unknown and (table, row, c) not in recovered for c in counts):
                continue
            denominators = {c: known[(table, row, c)] for c in counts if (table, row, c) in known}
            for column in floats:
                v = frame[column].iloc[row]
                if not (pd.notna(v) and 0 < v <= 1):
                    continue
                for name, n in denominators.items():
                    k = _whole(v * n)
                    if k is not None and k in SMALL and column not in spec.shares:
                        findings.append({"mart": table, "row": _label(marts, table, row), "column": column,
                                         "route": f"{column} x {name} is a whole number from 1 to 5", "small": True})
    # differences between nested rows
    for table, frame in marts.items():
        spec = SPECS[table]
        if spec.nested is None or spec.nested[0] not in frame:
            continue
        by, larger, smaller = spec.nested
        others = [c for c in spec.labels if c != by and c in frame]
        for _, big in frame[frame[by] == larger].iterrows():
            match = frame[(frame[by] == smaller) & np.logical_and.reduce([frame[c] == big[c] for c in others])]
            for position in match.index:
                for column in spec.counts:
                    a, b = known.get((table, big.name, column)), known.get((table, position, column))
                    if a is not None and b is not None and int(round(a - b)) in SMALL:
                        findings.append({"mart": table, "row": _label(marts, table, position), "column": column,
                                         "route": f"difference from the {larger} row", "small": True})
    return pd.DataFrame(findings, columns=["mart", "row", "column", "route", "small"])


def _fisher_p(cells: list[Cell], known: dict[Cell, float], index: int, value: int) -> float:
    from scipy import stats

    values = [known.get(c, 0.0) for c in cells]
    values[index] = value
    a, n_a, b, n_b = (int(v) for v in values)
    return float(stats.fisher_exact([[a, n_a - a], [b, n_b - b]]).pvalue)


def _withhold(frame: pd.DataFrame, row: int, column: str) -> None:
    frame.loc[row, column] = pd.NA if column in frame and str(frame[column].dtype) == "Int64" else np.nan
    status = f"{column}{STATUS}"
    if status in frame:
        frame[status] = frame[status].astype("string")
        frame.loc[row, status] = SUPPRESSED


def protect(table: str, frame: pd.DataFrame, withhold_counts: Callable[[pd.DataFrame], pd.DataFrame],
            max_rounds: int = 50) -> pd.DataFrame:
    """Secondary suppression for one mart, until `attack` on it alone finds nothing.

    ``frame`` holds the counts already withheld by the primary rule; each
    round withholds what the findings point at: the subset row's count for a
    small difference, the share or number that revealed a count, the
    smallest other published cell of a sum with one unknown. Then the columns
    derived from a withheld count (its shares and tests) are withheld, and
    ``withhold_counts`` re-applies the caller's grouped rule.
    """
    spec = SPECS[table]
    out = frame.reset_index(drop=True).copy()
    for _ in range(max_rounds):
        _withhold_derived(out, spec)
        findings = attack({table: out})
        if findings.empty:
            return out
        for finding in findings.itertuples():
            row = _row_of(out, spec, finding.row)
            route = finding.route
            if route.startswith("difference from"):
                _withhold(out, row, finding.column)
            elif route.startswith("inverting Fisher"):
                _withhold(out, row, spec.fisher[1])
            elif route.startswith("totals minus parts"):
                _withhold_another(out, table, row, finding.column)
            elif " x " in route or " / " in route:
                share = route.split(" ")[0] if " x " in route else route.split(" / ")[1]
                if share in out and share not in spec.counts:
                    _withhold(out, row, share)
                else:
                    _withhold(out, row, finding.column)
        out = withhold_counts(out)
    raise RuntimeError(f"{table}: secondary suppression did not settle in {max_rounds} rounds")


def _row_of(frame: pd.DataFrame, spec: MartSpec, label: str) -> int:
    for row in range(len(frame)):
        if ", ".join(f"{c}={frame[c].iloc[row]}" for c in spec.labels if c in frame) == label:
            return row
    raise KeyError(label)


def _withhold_derived(frame: pd.DataFrame, spec: MartSpec) -> None:
    sources = {**{s: pair for s, pair in spec.shares.items()}, **spec.derived}
    for column, counts in sources.items():
        if column not in frame:
            continue
        hit = np.zeros(len(frame), dtype=bool)
        for count in counts:
            hit |= _withheld(frame, count)
        frame.loc[hit, column] = np.nan


def _withhold_another(frame: pd.DataFrame, table: str, row: int, column: str) -> None:
    """A sum with one unknown cell: withhold its smallest other published cell (a non-zero one if any)."""
    for relation in relations({table: frame}):
        cells = (relation.total, *relation.parts)
        if (table, row, column) not in cells:
            continue
        others = [(r, c) for (_, r, c) in cells if (r, c) != (row, column) and not _withheld(frame, c)[r]]
        if not others:
            continue
        values = {rc: float(frame[rc[1]].iloc[rc[0]]) for rc in others}
        pool = [rc for rc, v in values.items() if v > 0] or list(values)
        r, c = min(pool, key=lambda rc: values[rc])
        _withhold(frame, r, c)
        return


# --- across marts: counts of one population -------------------------------------------------------------------
#
# A reader holds every mart and its documentation, so knows which children each published count counts. The
# defender knows more: each count's members (core/casework/trial_marts.py gives them). A withheld count whose
# members are a sum and difference of published counts' members is recoverable, whatever marts those counts are
# in: FACT22's 4 escalations were 126 (closed, cases with an outcome) - 122 (the Tobit's cases: outcome known, no
# escalation) - 0 (control escalations). `attack_populations` finds every such count by linear algebra: a
# withheld cell is recoverable when its members' indicator lies in the span of the published cells' indicators
# over the same children. It is stronger than any reader (who must guess the relations the defender computes),
# so what it finds nothing in, a reader cannot work back by sums and differences either.

ACROSS = "counts sharing a population (across marts)"
# Which published count to withhold first when a combination of them gives a withheld one back: the model sizes
# and arm totals of the marts that repeat what others show, before the trial's own results.
WITHHOLD_FIRST = ("marts.case_length_tobit", "marts.rct_minimum_detectable_effects", "marts.rct_balance",
                  "marts.risk_score_changes", "marts.risk_scores_by_arm", "marts.service_case_length_by_year",
                  "marts.service_summary", "marts.rct_results")


@dataclass(frozen=True)
class Population:
    """The members of one published count: a universe (the children of one trial, the families of one service)
    and a 0/1 membership over it."""

    universe: str
    members: np.ndarray


@dataclass(frozen=True)
class _Echelon:
    """The row space of the published cells' members in reduced row echelon form: ``rows`` (one per pivot
    column), and for each the combination of published cells it is (``combinations``). Gaussian elimination in
    plain numpy arithmetic: the matrices are small 0/1 ones, and LAPACK's threads cost more than they save."""

    rows: np.ndarray
    combinations: np.ndarray
    pivots: np.ndarray

    def coefficients(self, vector: np.ndarray) -> np.ndarray | None:
        """The combination of published cells that gives ``vector``, or None when none does."""
        weights = vector[self.pivots]
        residual = vector - (self.rows * weights[:, None]).sum(axis=0)
        if np.abs(residual).max(initial=0.0) > 1e-7:
            return None
        return (self.combinations * weights[:, None]).sum(axis=0)


def _echelon(vectors: np.ndarray) -> _Echelon:
    k, n = vectors.shape
    work = np.hstack([vectors.astype(float), np.eye(k)])
    pivots, row = [], 0
    for column in range(n):
        if row == k:
            break
        below = np.abs(work[row:, column])
        best = int(below.argmax())
        if below[best] < 1e-9:
            continue
        best += row
        work[[row, best]] = work[[best, row]]
        work[row] /= work[row, column]
        others = np.abs(work[:, column]) > 1e-12
        others[row] = False
        work[others] -= work[others, column][:, None] * work[row][None, :]
        pivots.append(column)
        row += 1
    return _Echelon(work[:row, :n], work[:row, n:], np.array(pivots, dtype=int))


def _cells(marts: dict[str, pd.DataFrame], populations: dict[Cell, Population]):
    """Per universe: the published cells and the withheld ones, with their members (values checked)."""
    withheld, values = {}, {}
    for table, frame in marts.items():
        for column in SPECS[table].counts if table in SPECS else ():
            if column in frame:
                withheld[(table, column)] = _withheld(frame, column)
                values[(table, column)] = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
    by_universe: dict[str, dict[str, list]] = {}
    for (table, row, column), population in populations.items():
        if (table, column) not in withheld or row >= len(withheld[(table, column)]):
            continue
        groups = by_universe.setdefault(population.universe, {"known": [], "withheld": []})
        members = np.asarray(population.members, dtype=float)
        if withheld[(table, column)][row]:
            groups["withheld"].append(((table, row, column), members))
            continue
        value = values[(table, column)][row]
        if np.isnan(value):
            continue
        if int(round(value)) != int(members.sum()):
            raise ValueError(f"{table} {_label(marts, table, row)} {column}: the population given counts "
                             f"{int(members.sum())}, the mart {int(round(value))}; the populations are out of step")
        groups["known"].append(((table, row, column), members))
    for groups in by_universe.values():
        groups["basis"] = _echelon(np.array([m for _, m in groups["known"]])) if groups["known"] else None
    return by_universe


def _recoverable(groups: dict) -> list[tuple[Cell, np.ndarray]]:
    """(cell, the combination of published cells that gives it) for each recoverable count of 1 to 5."""
    basis = groups["basis"]
    found = []
    for cell, members in groups["withheld"]:
        if int(members.sum()) in SMALL and basis is not None:
            combination = basis.coefficients(members)
            if combination is not None:
                found.append((cell, combination))
    return found


def attack_populations(marts: dict[str, pd.DataFrame], populations: dict[Cell, Population]) -> pd.DataFrame:
    """Every withheld count of 1 to 5 whose members are a combination of published counts' members (in any
    mart). A larger withheld count (one withheld to protect another) is not searched: once it is in the span of
    what is published it adds nothing a reader can use.

    Columns as `attack`: mart, row, column, route, small (always true: only counts of 1 to 5 are searched). The
    value is never returned."""
    marts = {t: f.reset_index(drop=True) for t, f in marts.items()}
    findings = [{"mart": table, "row": _label(marts, table, row), "column": column, "route": ACROSS, "small": True}
                for groups in _cells(marts, populations).values() for (table, row, column), _ in _recoverable(groups)]
    return pd.DataFrame(findings, columns=["mart", "row", "column", "route", "small"])


def _cells_to_withhold(marts: dict[str, pd.DataFrame], populations: dict[Cell, Population]) -> list[Cell]:
    """For each count of 1 to 5 recoverable across marts, the published count to withhold so that it is not: one
    the combination needs, from the mart WITHHOLD_FIRST names first, the smallest non-zero count there."""
    chosen = []
    for groups in _cells(marts, populations).values():
        cells = [c for c, _ in groups["known"]]
        for _, coefficients in _recoverable(groups):
            needed = [c for c, a in zip(cells, coefficients) if abs(a) > 1e-7]

            def order(cell: Cell):
                value = float(pd.to_numeric(pd.Series([marts[cell[0]][cell[2]].iloc[cell[1]]])).iloc[0])
                rank = WITHHOLD_FIRST.index(cell[0]) if cell[0] in WITHHOLD_FIRST else len(WITHHOLD_FIRST)
                return rank, value == 0, value

            if needed:
                chosen.append(min(needed, key=order))
    return chosen


def protect_together(marts: dict[str, pd.DataFrame], populations: dict[Cell, Population],
                     withhold_counts: dict[str, Callable[[pd.DataFrame], pd.DataFrame]],
                     max_rounds: int = 200) -> dict[str, pd.DataFrame]:
    """Secondary suppression of every mart at once, until neither `attack` on all of them together nor
    `attack_populations` finds anything.

    ``marts`` hold the counts already withheld by the primary rule; each round withholds what the findings
    point at (as `protect` does within a mart), and for a count recoverable across marts, one published count
    the recovery needs; then each mart's derived columns go with their counts and ``withhold_counts[table]``
    re-applies the caller's grouped rule to that mart."""
    out = {t: f.reset_index(drop=True).copy() for t, f in marts.items()}
    for _ in range(max_rounds):
        for table, frame in out.items():
            _withhold_derived(frame, SPECS[table])
        reader = attack(out)
        across = attack_populations(out, populations)
        if reader.empty and across.empty:
            return out
        for finding in reader.itertuples():
            frame, spec = out[finding.mart], SPECS[finding.mart]
            row = _row_of(frame, spec, finding.row)
            route = finding.route
            if route.startswith("difference from"):
                _withhold(frame, row, finding.column)
            elif route.startswith("inverting Fisher"):
                _withhold(frame, row, spec.fisher[1])
            elif route.startswith("totals minus parts"):
                _withhold_across(out, finding.mart, row, finding.column)
            elif " x " in route or " / " in route:
                share = route.split(" ")[0] if " x " in route else route.split(" / ")[1]
                _withhold(frame, row, share if share in frame and share not in spec.counts else finding.column)
        if not across.empty:
            for table, row, column in _cells_to_withhold(out, populations):
                _withhold(out[table], row, column)
        out = {table: withhold_counts[table](frame) for table, frame in out.items()}
    raise RuntimeError(f"secondary suppression across marts did not settle in {max_rounds} rounds")


def _withhold_across(marts: dict[str, pd.DataFrame], table: str, row: int, column: str) -> None:
    """A sum (possibly spanning marts) with one unknown cell: withhold its smallest other published cell."""
    for relation in relations(marts):
        cells = (relation.total, *relation.parts)
        if (table, row, column) not in cells:
            continue
        others = [(t, r, c) for (t, r, c) in cells if (t, r, c) != (table, row, column)
                  and not _withheld(marts[t], c)[r]]
        if not others:
            continue
        values = {cell: float(marts[cell[0]][cell[2]].iloc[cell[1]]) for cell in others}
        pool = [cell for cell, v in values.items() if v > 0] or list(values)
        t, r, c = min(pool, key=lambda cell: values[cell])
        _withhold(marts[t], r, c)
        return
