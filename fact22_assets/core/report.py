"""The evaluation report as one self-contained HTML page (pure: DataFrames and PNG bytes in, HTML text out).

The page reads like the quantitative sections of the evaluation (RR1067):
study set-up, the comparator chosen for each outcome and why, the
difference-in-differences table, its inference (placebos in space and
time, event study, synthetic control), the estimates under each data
vintage, the RCT, risk and service strands, limitations worked out from
the data themselves, and a footer naming the data vintages, each source
file's sha256 and the code version. Figures are embedded as base64 PNG, so
the file opens anywhere without its neighbours.

Every piece of text that comes from data is escaped with `html.escape`.
Inputs that are missing (a strand not built yet) give a section that says
so rather than an error. Tables carry ``data-table="<mart>"`` so tests and
readers can find them.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from . import measures
from .calibration.rates import FIRST_SCREEN_FAMILY, FIRST_SCREEN_METHODS
from .did.estimators import method_labels
from .did.study import Study
from .presentation import ANALYSIS_LABELS, rct_outcome_label, year_label
from .presentation import is_missing as _missing
from .presentation import is_standin as is_synthetic
from .presentation import time_point_label as _time_point_label

MAIN_METHODS = ("ols_with_covariate", "ols")
# The first screen's family-wise row of estimator_calibration sits after the registered methods.
METHOD_LABELS = {**method_labels(), FIRST_SCREEN_FAMILY: "Any method on the first screen"}
RANKING_SHOWN = 5

# Figure keys: the report puts each figure in its section by these names.
FIGURE_CIN = "cin_treated_vs_england"
FIGURE_EVENT_STUDY = "event_study"
FIGURE_PLACEBO = "placebo_distribution"
FIGURE_SYNTHETIC_CONTROL = "synthetic_control_path"
FIGURE_SPECIFICATION_CURVE = "specification_curve"
FIGURE_RCT = "rct_probabilities"
FIGURE_RISK = "risk_scores"
FIGURE_SERVICE = "service_case_length"


def outcome_trend_figure(outcome: str) -> str:
    """Figure key of one outcome's trend chart (report Figures 7-9)."""
    return f"outcome_trends_{outcome}"


@dataclass(frozen=True)
class ReportFigure:
    title: str
    png: bytes
    caption: str = ""
    data: pd.DataFrame | None = None  # panel, series, x, y: what the chart plots


@dataclass(frozen=True)
class StudySetup:
    """The study the report shows (its design as configured) and the names it prints."""

    study: Study
    treated_name: str
    programme: str = ""
    description: str = ""

    def __getattr__(self, name: str):
        # The design's fields (study_id, pre_years, outcomes, ...) read through.  Not ``study`` itself nor a
        # dunder: unpickling (a report rendered in the build's helper process) asks for ``__setstate__`` before
        # ``study`` is set, and reading through then recursed without end.
        if name == "study" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.study, name)

    @property
    def pretrend_alpha(self) -> float:
        return self.study.ranking.pretrend_alpha


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows; a missing frame gives a section that says so."""

    study: StudySetup
    vintage: str | None = None
    treated_rates: pd.DataFrame | None = None  # collection_year + outcome columns, treated unit, report's vintage
    comparator_ranking: pd.DataFrame | None = None
    did_results: pd.DataFrame | None = None
    did_placebo_time: pd.DataFrame | None = None
    synthetic_control_weights: pd.DataFrame | None = None
    estimates_by_vintage: pd.DataFrame | None = None  # did_results rows of every vintage
    robustness_summary: pd.DataFrame | None = None  # marts.did_comparator_robustness_summary
    comparator_stability: pd.DataFrame | None = None  # marts.did_comparator_stability
    synthetic_control_identification: pd.DataFrame | None = None
    reference_pairs: pd.DataFrame | None = None  # another study's fixed comparators, ranked in this study
    inference_summary: pd.DataFrame | None = None  # marts.did_inference: fixed vs reselected placebo p
    # The national placebo study (core/calibration): this study's design's rows of marts.estimator_calibration,
    # marts.calibration_runs, the treated authority's rows of marts.detectable_effects at the study's start
    # year, and the study's marts.did_dilution rows (vintage of the report).
    calibration: pd.DataFrame | None = None
    calibration_runs: pd.DataFrame | None = None
    detectable_effects: pd.DataFrame | None = None
    dilution: pd.DataFrame | None = None
    placebo_spread: pd.DataFrame | None = None  # outcome, fixed_sd, reselected_sd: how far placebos drift
    rct_results: pd.DataFrame | None = None
    rct_balance: pd.DataFrame | None = None
    case_length_tobit: pd.DataFrame | None = None
    risk_scores_by_arm: pd.DataFrame | None = None
    risk_score_changes: pd.DataFrame | None = None
    service_summary: pd.DataFrame | None = None
    service_case_length_by_year: pd.DataFrame | None = None
    source_files: pd.DataFrame | None = None  # source_file, publication, release_id, source_sha256
    vintages: pd.DataFrame | None = None  # vintage, first_year, last_year
    code_versions: Sequence[str] = ()
    figures: Mapping[str, ReportFigure] = field(default_factory=dict)
    generated_at: str | None = None


# --------------------------------------------------------------------------- formatting


def esc(value) -> str:
    """Escaped text of any value; missing values print as an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return "&ndash;"
    return html.escape(str(value), quote=True)


def num(value, digits: int = 2) -> str:
    if _missing(value):
        return "&ndash;"
    return f"{float(value):,.{digits}f}"


def pval(value) -> str:
    if _missing(value):
        return "&ndash;"
    value = float(value)
    return "&lt;0.001" if value < 0.001 else f"{value:.3f}"


def pct(value, digits: int = 0) -> str:
    if _missing(value):
        return "&ndash;"
    return f"{float(value) * 100:.{digits}f}%"


def integer(value) -> str:
    return "&ndash;" if _missing(value) else f"{int(value):,}"


def count_cell(column: str) -> Callable:
    """A casework count: withheld counts (NULL, 'c' in <column>_status) say so."""
    def cell(row) -> str:
        if _missing(row.get(column)) and row.get(f"{column}_status") == "c":
            return '<span class="withheld" title="a count of 1 to 5, withheld">withheld</span>'
        return integer(row.get(column))
    return cell


def _outcome(outcome: str) -> str:
    return esc(measures.label(outcome))


def _units(study) -> str:
    """The outcomes' unit, as a caption opens ('Per 10,000 residents'), from the measure registry."""
    text = measures.units_of(study.outcomes)
    return text[:1].upper() + text[1:]


def _has(frame: pd.DataFrame | None) -> bool:
    return frame is not None and len(frame) > 0


Column = tuple[str, str, Callable]  # (header, column, formatter)


def table(frame: pd.DataFrame, columns: Sequence[Column], name: str, caption: str) -> str:
    """An HTML table of `frame`; each cell through its formatter (which escapes)."""
    head = "".join(f"<th scope=\"col\">{esc(header)}</th>" for header, _, _ in columns)
    body = []
    for _, row in frame.iterrows():
        cells = "".join(f"<td>{fmt(row.get(column)) if column else fmt(row)}</td>" for _, column, fmt in columns)
        body.append(f"<tr>{cells}</tr>")
    return (f'<div class="table-wrap"><table class="data" data-table="{esc(name)}"><caption>{esc(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def figure_html(figures: Mapping[str, ReportFigure], key: str) -> str:
    item = figures.get(key)
    if item is None:
        return f'<p class="missing">Figure {esc(key)} was not drawn.</p>'
    data = base64.b64encode(item.png).decode("ascii")
    caption = f"<figcaption><strong>{esc(item.title)}</strong>"
    caption += f" {esc(item.caption)}</figcaption>" if item.caption else "</figcaption>"
    return (f'<figure data-figure="{esc(key)}"><img src="data:image/png;base64,{data}" '
            f'alt="{esc(item.title)}">{caption}{figure_data_html(key, item.data)}</figure>')


def figure_data_html(key: str, data: pd.DataFrame | None) -> str:
    """"Show data": the figure's numbers as a table (one column per series and statistic, a row per panel and
    x), and the same rows as a CSV download (the columns of marts.figure_data)."""
    if data is None or len(data) == 0:
        return ""
    frame = data.copy()
    for column in ("panel", "x_label", "unit"):
        frame[column] = frame[column].fillna("")
    several = frame.groupby("series")["statistic"].nunique()
    frame["column"] = [f"{series}: {statistic}" if several.get(series, 1) > 1 else series
                       for series, statistic in zip(frame["series"], frame["statistic"])]
    frame["order"] = frame["x"].fillna(float("inf"))
    wide = frame.pivot_table(index=["panel", "order", "x_label"], columns="column", values="value", aggfunc="first",
                             sort=False).reset_index().sort_values(["order"], kind="stable")
    wide = wide.sort_values("panel", key=lambda c: c.map({p: i for i, p in enumerate(dict.fromkeys(frame["panel"]))}),
                            kind="stable")
    panels = wide["panel"].unique()
    axis = frame["x_axis"].dropna().iloc[0] if frame["x_axis"].notna().any() else "x"
    columns = ([("Panel", "panel", esc)] if len(panels) > 1 else []) + [(axis[:1].upper() + axis[1:], "x_label", esc)] \
        + [(str(c), c, lambda v: num(v, 2)) for c in dict.fromkeys(frame["column"])]
    units = list(dict.fromkeys(u for u in frame["unit"] if u))
    unit = f" ({'; '.join(units)})" if units else ""
    origin = ", ".join(dict.fromkeys(str(o) for o in frame["data_origin"].dropna())) if "data_origin" in frame else ""
    where = f"figure = '{key}'" + (f", study_id = '{frame['study_id'].iloc[0]}'" if "study_id" in frame and
                                   frame["study_id"].notna().any() else ", study_id IS NULL")
    csv = base64.b64encode(data.to_csv(index=False).encode("utf-8")).decode("ascii")
    return (f'<details class="figure-data" data-figure-data="{esc(key)}"><summary>Show data</summary>'
            f'<p><a download="{esc(key)}.csv" href="data:text/csv;base64,{csv}">Download the data (CSV)</a> '
            f'&middot; also in <code>marts.figure_data</code> ({esc(where)}).'
            + (f" Data origin: <strong>{esc(origin)}</strong>." if origin else "") + "</p>"
            + table(wide, columns, f"figure_data_{key}", f"Data of the figure: {key}{unit}") + "</details>")


# Codes the marts store, as a reader reads them (no raw codes in the report's tables).
CODE_LABELS = {
    **ANALYSIS_LABELS,
    "estimated": "Estimated", "too_few_events": "Too few events to model",
    "chi_square": "Chi-square", "fisher_exact": "Fisher's exact",
    "treated": "Treated arm", "female": "Female", "under_11": "Aged under 11 at referral",
    "previous_cin_history": "Previous CIN involvement", "const": "Constant", "sigma": "Sigma (residual SD)",
    # the service's measures and outcomes (marts.service_summary)
    "location": "Location", "outcome": "Outcome", "escalated": "Escalated", "days_to_close": "Days to close",
    "cp_or_lac": "To a child protection plan or looked after", "escalated_cp": "Escalated to a child protection plan",
    "escalated_lac": "Escalated to looked after", "closed": "Closed", "open": "Still open", "other": "Other",
    "all": "All cases", "no_previous_cin_history": "No previous CIN involvement",
}


def label(code) -> str:
    """A stored code as words (escaped); an unknown code is shown with underscores as spaces."""
    if _missing(code):
        return ""
    text = CODE_LABELS.get(str(code))
    return esc(text if text else str(code).replace("_", " "))


def _not_available(what: str) -> str:
    return f'<p class="missing">{esc(what)} is not available in this build of the warehouse.</p>'


def _synthetic_banner(where: str) -> str:
    return (f'<div class="synthetic-banner" role="note"><strong>SYNTHETIC DATA.</strong> {esc(where)} are built '
            "from invented stand-ins that reproduce the report's published aggregates, not from council records. "
            "They show the method working; they are not findings.</div>")


def _main_rows(did: pd.DataFrame) -> pd.DataFrame:
    """The report's own specification per outcome (with the covariate when there is one)."""
    for method in MAIN_METHODS:
        rows = did[did["method"] == method]
        if len(rows):
            return rows
    return did.iloc[0:0]


# --------------------------------------------------------------------------- sections


def _estimate_of(did: pd.DataFrame, outcome: str, method: str) -> pd.Series | None:
    rows = did[(did["outcome"] == outcome) & (did["method"] == method)] if _has(did) else None
    return rows.iloc[0] if rows is not None and len(rows) else None


# --------------------------------------------------------------------------- calibration and power (strand 1)

# The estimates the first screen puts side by side, each with the p-value its own test publishes.
GLANCE_METHODS = FIRST_SCREEN_METHODS
TWO_UNIT_METHODS = ("difference_of_means", "ols", "ols_with_covariate")
KIND_LABELS = {"classical": "classical p", "hc1": "HC1 p", "permutation": "placebo p",
               "reselected": "placebo p (comparators re-selected)", "post_rmspe": "post-RMSPE p (comparable fits)",
               "first_screen": "smallest of the first screen's p-values"}


@dataclass(frozen=True)
class PValueStatus:
    """Whether a p-value is calibrated (None: not measured) and why, in words."""

    calibrated: bool | None
    why: str
    rate: float | None = None
    # Calibrated alone but not the pre-specified test: why it is no evidence on its own (the family-wise rate).
    alone: str | None = None


def _calibration_run(inputs: ReportInputs) -> bool:
    return _has(inputs.calibration_runs)


def p_value_status(inputs: ReportInputs, method: str, outcome: str, kind: str, alpha: float = 0.05) -> PValueStatus:
    """The national placebo study's verdict on one p-value of this report (see core/calibration/rates.py)."""
    if not _calibration_run(inputs):
        return PValueStatus(None, "not calibrated: the national placebo study has not been run (make calibrate), so "
                                  "nobody knows how often this p-value falls below 0.05 where nothing happened")
    if method in TWO_UNIT_METHODS and outcome in inputs.study.study.comparators:
        return PValueStatus(None, "not calibrated: the national placebo study measures the ranking rule's choice of "
                                  "comparator, not a comparator fixed by the study")
    table = inputs.calibration if _has(inputs.calibration) else pd.DataFrame(
        columns=["method", "outcome", "p_value_kind", "alpha", "noise_band"])
    rows = table[(table["method"] == method) & (table["outcome"] == outcome) & (table["p_value_kind"] == kind)
                 & ((table["alpha"].astype(float) - alpha).abs() < 1e-9)]
    band = _noise_band(inputs, outcome)
    own = rows[rows["noise_band"] == band] if "noise_band" in rows else rows.iloc[0:0]
    rows = own if len(own) else rows[rows["noise_band"] == "all"] if "noise_band" in rows else rows
    if rows.empty:
        return PValueStatus(None, "not calibrated: not measured for this study's design, method and outcome")
    r = rows.iloc[0]
    among = ("placebo studies" if r.get("noise_band", "all") == "all" else
             f"placebo studies of authorities as noisy as {inputs.study.treated_name} (pre-period noise in the "
             f"{r['noise_band']})")
    measured = (f"rejected {pct(r['rejection_rate'], 1)} of {integer(r['n_placebo_studies'])} {among} at "
                f"{alpha:g} (95% interval {pct(r['rejection_rate_ci_low'], 1)} to {pct(r['rejection_rate_ci_high'], 1)})")
    measured = html.unescape(measured)
    if bool(r["calibrated"]):
        return PValueStatus(True, f"calibrated: {measured}", float(r["rejection_rate"]))
    return PValueStatus(False, f"NOT calibrated: {measured}", float(r["rejection_rate"]))


def _noise_band(inputs: ReportInputs, outcome: str) -> str:
    """Which third of the placebo studies' pre-period noise the treated authority's falls in ('all' if unknown)."""
    frame = inputs.detectable_effects
    if _has(frame) and "noise_band" in frame:
        bands = frame.loc[frame["outcome"] == outcome, "noise_band"].dropna()
        if len(bands):
            return str(bands.iloc[0])
    return "all"


def _prespecified(inputs: ReportInputs, method: str, kind: str) -> bool:
    """Whether a p-value is the report's pre-specified test: its specification's re-selected placebo p."""
    return method in MAIN_METHODS and kind == "reselected" and method == (
        "ols_with_covariate" if inputs.study.study.covariate else "ols")


def first_screen_family(inputs: ReportInputs, outcome: str, alpha: float = 0.05) -> str | None:
    """How often at least one of the first screen's methods reaches p <= alpha in the placebo studies (the
    estimator_calibration rows of FIRST_SCREEN_FAMILY), in words; None when not measured."""
    table = inputs.calibration
    if not _has(table):
        return None
    rows = table[(table["method"] == FIRST_SCREEN_FAMILY) & (table["outcome"] == outcome)
                 & ((table["alpha"].astype(float) - alpha).abs() < 1e-9)]
    everyone = rows[rows["noise_band"] == "all"]
    if everyone.empty:
        return None
    r, n_methods = everyone.iloc[0], 1 + len(FIRST_SCREEN_METHODS)
    text = (f"one of {n_methods} methods on the first screen; at least one reaches p <= {alpha:g} in "
            f"{float(r['rejection_rate']) * 100:.1f}% of {int(r['n_placebo_studies']):,} placebo studies")
    band = _noise_band(inputs, outcome)
    own = rows[rows["noise_band"] == band]
    if band != "all" and len(own):
        text += (f" ({float(own.iloc[0]['rejection_rate']) * 100:.1f}% of those as noisy as "
                 f"{inputs.study.treated_name})")
    return text + ", so only the pre-specified specification's p-value is evidence"


def _not_evidence_alone(inputs: ReportInputs, value, method: str, outcome: str, kind: str,
                        status: PValueStatus, alpha: float = 0.05) -> PValueStatus | None:
    """A calibrated p <= alpha that is not the pre-specified test's: greyed, with the first screen's family-wise
    rate as the reason (several methods side by side reject more often than any one of them)."""
    if not status.calibrated or _missing(value) or float(value) > alpha or _prespecified(inputs, method, kind):
        return None
    family = first_screen_family(inputs, outcome, alpha) or (
        "one of several methods and p-values this report shows; only the pre-specified specification's p-value "
        "is evidence")
    return PValueStatus(True, f"{status.why}; but no evidence on its own: {family}", status.rate, family)


class PCells:
    """Formats p-values by their calibration and remembers the uncalibrated ones a table showed, for its note."""

    def __init__(self, inputs: ReportInputs):
        self.inputs, self.shown = inputs, {}

    def status(self, method: str, outcome: str, kind: str) -> PValueStatus:
        return p_value_status(self.inputs, method, outcome, kind)

    def cell(self, value, method: str, outcome: str, kind: str) -> str:
        if _missing(value):
            return "&ndash;"
        status = self.status(method, outcome, kind)
        status = _not_evidence_alone(self.inputs, value, method, outcome, kind, status) or status
        if status.calibrated and status.alone is None:
            return pval(value)
        self.shown[(method, kind, outcome)] = status
        return f'<span class="uncalibrated" title="{esc(status.why)}">{pval(value)}</span>'

    def column(self, method: str | None, kind: str, column: str) -> Callable:
        """A row formatter: the row's ``column`` as a p of ``kind`` (method from the row when None)."""
        return lambda row: self.cell(row.get(column), method or row.get("method"), row.get("outcome"), kind)

    def note(self) -> str:
        """Under a table: which grey p-values it showed and why they are no evidence."""
        if not self.shown:
            return ""
        if not _calibration_run(self.inputs):
            return ('<p class="calibration-note">Grey p-values are not calibrated: the national placebo study has not '
                    "been run, so none of them is evidence (<code>make calibrate</code> measures them).</p>")
        parts = []
        for (method, kind, outcome), status in sorted(self.shown.items(), key=lambda i: (i[0][2], i[0][0], i[0][1])):
            parts.append(f"{METHOD_LABELS.get(method, method)}, {KIND_LABELS.get(kind, kind)}, "
                         f"{measures.label(outcome).lower()}: {status.why}")
        self.shown = {}
        return ('<p class="calibration-note">Grey p-values are no evidence of an effect: not calibrated, or '
                "calibrated alone but one of several methods side by side: " + esc("; ".join(parts)) + ".</p>")


def _headline_kind(inputs: ReportInputs, method: str) -> str:
    return "reselected" if method in MAIN_METHODS else "permutation"


def _detectable(inputs: ReportInputs, outcome: str, method: str) -> pd.Series | None:
    frame = inputs.detectable_effects
    if not _has(frame):
        return None
    rows = frame[(frame["outcome"] == outcome) & (frame["method"] == method)]
    return rows.iloc[0] if len(rows) else None


def _dilution_of(inputs: ReportInputs, outcome: str) -> pd.Series | None:
    frame = inputs.dilution
    if not _has(frame):
        return None
    rows = frame[frame["outcome"] == outcome]
    return rows.iloc[0] if len(rows) else None


def _calibration_provenance(inputs: ReportInputs) -> str:
    """Which calibration the report reads, and whether it is older than the data beside it (plain text)."""
    runs = inputs.calibration_runs
    if not _has(runs):
        return ("The national placebo study has not been run (make calibrate): no p-value in this report is known to "
                "be calibrated, so every p-value is shown grey, and no minimum detectable effect is available.")
    vintages = ", ".join(sorted(set(runs["vintage"].astype(str))))
    dates = ", ".join(sorted({str(d)[:10] for d in runs["computed_at"]}))
    versions = ", ".join(sorted(set(runs["code_version"].astype(str))))
    n = int(runs["n_placebo_studies"].min())
    shipped = "origin" in runs and (runs["origin"] == "shipped").any()
    text = (f"Calibration: the national placebo study on data vintage {vintages}, computed {dates} by code "
            f"{versions}{' (shipped with the repository)' if shipped else ''}, at least {n:,} placebo studies (an "
            "authority that ran no listed programme, at a start year) per method and outcome.")
    stale = runs[runs["stale"].fillna(False).astype(bool)] if "stale" in runs else runs.iloc[:0]
    if len(stale):
        reasons = sorted(set("; ".join(stale["stale_reasons"].dropna().astype(str)).split("; ")))
        text += (" STALE: it does not describe the code and data of this build (" + "; ".join(reasons) + "), so its "
                 "rejection rates and detectable effects may not hold for the estimates here: run make calibrate.")
    elif inputs.vintage and inputs.vintage not in set(runs["vintage"].astype(str)):
        text += (f" It is older than the data it sits beside (the estimates here use vintage {inputs.vintage}): "
                 "run make calibrate.")
    return text


def _reading(inputs: ReportInputs, estimate, p, status: PValueStatus, detectable, dilution,
             alone: str | None = None) -> str:
    """One sentence from the numbers: evidence or not, and whether the design could see the programme at all."""
    parts = []
    if not _missing(p) and float(p) <= 0.05:
        parts.append(f"p &le; 0.05 and the test is calibrated alone, but it is {esc(alone)}: no evidence on its own"
                     if status.calibrated and alone else
                     "p &le; 0.05 and the test is calibrated: evidence of a change" if status.calibrated
                     else "p &le; 0.05, but the test is not calibrated: no evidence")
    elif not _missing(p):
        parts.append("no evidence of a change at 5%")
    mde = None if detectable is None else detectable.get("mde")
    if _missing(mde) and not _calibration_run(inputs):
        parts.append("what the design can detect is not known until the national placebo study runs")
    if not _missing(mde):
        if not _missing(estimate) and abs(float(estimate)) < float(mde):
            parts.append(f"the estimate is below what this design detects ({num(mde, 1)})")
        if dilution is not None and not _missing(dilution.get("implied_effect")):
            implied, largest = float(dilution["implied_effect"]), float(dilution["largest_effect"])
            if largest < float(mde):
                parts.append(f"even the largest change the programme could make ({num(largest)}) is "
                             f"{pct(largest / float(mde), 0)} of it: this design cannot tell whether the programme "
                             "worked")
            elif implied < float(mde):
                parts.append(f"a plausible change ({num(implied)}) is {pct(implied / float(mde), 0)} of it: "
                             "a null result says little")
            else:
                parts.append("a change of the plausible size would usually be detected")
    return "; ".join(parts) + "." if parts else "&ndash;"


def _glance(inputs: ReportInputs) -> str:
    """The first screen: each headline estimate with its p-value (grey when uncalibrated), whether its test is
    calibrated, what the design can detect and, with the study's reach, what the programme could change."""
    s, did = inputs.study, inputs.did_results
    parts = ['<section id="glance"><h2>At a glance: each estimate, whether its p-value can be believed, and what '
             "the design can detect</h2>", f'<p class="notice">{esc(_calibration_provenance(inputs))}</p>']
    reach = next((r for r in ([_dilution_of(inputs, o) for o in s.outcomes]) if r is not None), None)
    if reach is not None:
        parts.append(f"<p>Reach: {esc(num(reach['reach_per_year'], 0))} {esc(reach['reach_unit'])} a year "
                     f"({esc(reach['reach_source'])}). With {esc(s.treated_name)}'s population of "
                     f"{esc(integer(reach['population']))}, a change of {float(reach['plausible_effect']) * 100:.0f} "
                     f"percentage points in each served family's outcome moves its rate by "
                     f"{esc(num(reach['implied_effect']))} per 10,000, and every family served changing by one "
                     f"event a year by {esc(num(reach['largest_effect']))}.</p>")
    if not _has(did):
        parts.append(_not_available("The difference-in-differences results (marts.did_results)"))
        return "".join(parts) + "</section>"
    cells, rows = PCells(inputs), []
    summary = inputs.inference_summary
    for outcome in s.outcomes:
        main = _main_rows(did[did["outcome"] == outcome])
        methods = ([main.iloc[0]["method"]] if len(main) else []) + list(GLANCE_METHODS)
        for method in methods:
            found = _estimate_of(did, outcome, method)
            if found is None:
                continue
            kind = _headline_kind(inputs, method)
            p = found.get("permutation_p_value")
            if kind == "reselected":
                chosen = summary[summary["outcome"] == outcome] if _has(summary) else None
                p = None if chosen is None or chosen.empty else chosen.iloc[0]["reselected_p_value"]
            status = cells.status(method, outcome, kind)
            status = _not_evidence_alone(inputs, p, method, outcome, kind, status) or status
            detectable, dilution = _detectable(inputs, outcome, method), _dilution_of(inputs, outcome)
            rows.append({"outcome": outcome, "method": method, "estimate": found.get("estimate"), "p": p,
                         "kind": kind, "calibrated": status, "mde": None if detectable is None else detectable["mde"],
                         "plausible": None if dilution is None else dilution["implied_effect"],
                         "largest": None if dilution is None else dilution["largest_effect"],
                         "reading": _reading(inputs, found.get("estimate"), p, status, detectable, dilution,
                                             status.alone)})
    frame = pd.DataFrame(rows)

    def calibrated(row) -> str:
        status = row["calibrated"]
        word = ("yes" + (" (alone)" if status.alone else "") if status.calibrated
                else ("NO" if status.calibrated is False else "not measured"))
        rate = "" if status.rate is None else f" ({pct(status.rate, 1)} at 5%)"
        return f'<span title="{esc(status.why)}">{word}{rate}</span>'

    columns = [("Outcome", "outcome", _outcome), ("Method", "method", lambda m: esc(METHOD_LABELS.get(m, m))),
               ("Estimate", "estimate", num),
               ("p (its own test)", None, lambda r: cells.cell(r["p"], r["method"], r["outcome"], r["kind"])),
               ("Calibrated at 5%?", None, calibrated),
               ("Detectable effect (80% power, 5%)", "mde", lambda v: num(v, 1))]
    if reach is not None:
        columns += [("Plausible change (reach)", "plausible", num), ("Largest possible change", "largest", num)]
    columns.append(("What it can tell", "reading", lambda v: v))
    parts.append(table(frame, columns, "first_screen",
                       "Per 10,000 residents. Each headline estimate beside its calibration and its minimum detectable "
                       "effect (from the design's own placebo estimates)"))
    parts.append(cells.note())
    return "".join(parts) + "</section>"


def _noise_sentence(inputs: ReportInputs) -> str:
    """How the placebo tests' rejection rates differ between the steadiest and the noisiest third (from the data)."""
    frame = inputs.calibration
    if not _has(frame) or "noise_band" not in frame:
        return ""
    tests = frame[frame["p_value_kind"].isin(["permutation", "reselected"]) & frame["outcome"].isin(
        inputs.study.outcomes) & ((frame["alpha"].astype(float) - 0.05).abs() < 1e-9)]
    rates = tests.groupby("noise_band")["rejection_rate"].mean()
    if not {"lowest third", "highest third"} <= set(rates.index):
        return ""
    low, high = float(rates["lowest third"]), float(rates["highest third"])
    direction = "more" if high > low else "less"
    return (f" Here the placebo tests reject the noisiest third {direction} often than the steadiest: on average "
            f"{high * 100:.1f}% against {low * 100:.1f}% at 5% (over this study's methods and outcomes).")


def _calibration(inputs: ReportInputs) -> str:
    """The national placebo study's rejection rates for this study's design and outcomes."""
    parts = ['<section id="calibration"><h2>Can these p-values be believed? The national placebo study</h2>',
             "<p>Every authority that ran no listed programme was run through this study's design (comparator rule, "
             "estimators, placebo inference) at every start year the data allow, as if it had started a programme "
             "then. Nothing happened there, so a p-value worth believing falls below 0.05 in about 5% of those "
             "studies (Bertrand, Duflo and Mullainathan 2004 found 45% with the classical one on real panels). "
             "A p-value is calibrated when the 95% interval of its rejection rate reaches the level or lies below "
             "it. A placebo test that ranks the treated authority among all others rejects about 5% of all "
             "authorities by construction, but not necessarily 5% of each kind of authority. So each p-value here "
             "is judged among placebo studies of authorities as noisy as the treated one (the same third of the "
             "placebo studies by the standard deviation of the outcome's year-to-year changes over the "
             f"pre-period).{esc(_noise_sentence(inputs))} What else the study catches: a test whose treated fit "
             "differs from its placebos' (a comparator picked for the treated authority only, different donor "
             "pools) or that leans on a model (classical and HC1 errors, a normal approximation).</p>",
             f'<p class="notice">{esc(_calibration_provenance(inputs))}</p>']
    frame = inputs.calibration
    if _has(frame):
        name = inputs.study.treated_name
        rows = []
        for (outcome, method, kind), group in frame[frame["outcome"].isin(inputs.study.outcomes)].groupby(
                ["outcome", "method", "p_value_kind"], sort=False):
            def rate(band: str, alpha: float, group=group) -> pd.Series | None:
                found = group[(group["noise_band"] == band) & ((group["alpha"].astype(float) - alpha).abs() < 1e-9)]
                return found.iloc[0] if len(found) else None
            everyone, own = rate("all", 0.05), rate(_noise_band(inputs, outcome), 0.05)
            at_10 = rate("all", 0.10)
            rows.append({"outcome": outcome, "method": method, "kind": kind, "everyone": everyone, "own": own,
                         "at_10": at_10, "band": _noise_band(inputs, outcome)})
        shown = pd.DataFrame(rows)
        order = {m: i for i, m in enumerate(METHOD_LABELS)}
        shown = shown.assign(_o=shown["outcome"].map({o: i for i, o in enumerate(inputs.study.outcomes)}),
                             _m=shown["method"].map(order).fillna(len(order)))
        shown = shown.sort_values(["_o", "_m", "kind"])

        def measured(r) -> str:
            return "&ndash;" if r is None else (f"{pct(r['rejection_rate'], 1)} of {integer(r['n_placebo_studies'])} "
                                               f"({pct(r['rejection_rate_ci_low'], 1)} to "
                                               f"{pct(r['rejection_rate_ci_high'], 1)})")

        def verdict(r) -> str:
            return "&ndash;" if r is None else ("yes" if bool(r["calibrated"]) else "<strong>NO</strong>")

        parts.append(table(shown, [
            ("Outcome", "outcome", _outcome), ("Method", "method", lambda m: esc(METHOD_LABELS.get(m, m))),
            ("p-value", "kind", lambda k: esc(KIND_LABELS.get(k, k))),
            ("Rejected at 5%: all placebo studies (95% interval)", "everyone", measured),
            ("Calibrated (all)", "everyone", verdict),
            (f"Rejected at 5%: authorities as noisy as {name}", None,
             lambda r: measured(r["own"]) + (f" ({esc(r['band'])})" if r["band"] != "all" else "")),
            (f"Calibrated for {name}", "own", verdict),
            ("Rejected at 10% (all)", "at_10", lambda r: "&ndash;" if r is None else pct(r["rejection_rate"], 1)),
        ], "estimator_calibration", "How often each p-value fell below the level where nothing happened"))
    return "".join(parts) + "</section>"


def _placebo_choice_text(inputs: ReportInputs) -> str:
    """Which placebo p-value counts and why, with what the data show of the two (plain text)."""
    s = inputs.study
    fixed = [measures.label(o).lower() for o in s.outcomes if o in s.study.comparators]
    ruled = [measures.label(o).lower() for o in s.outcomes if o not in s.study.comparators]
    text = ("A valid placebo test repeats every data-driven step for each placebo authority: in the re-selected "
            "placebo each one picks its own comparator by the ranking rule.")
    if ruled:
        text += f" For {', '.join(ruled)} the same rule picked the treated authority's comparator, so that test counts."
    if fixed:
        text += (f" For {', '.join(fixed)} this study fixes the treated authority's comparator instead (the rule did "
                 "not pick it), so neither placebo test repeats how the treated pair was chosen.")
    spread = inputs.placebo_spread
    if _has(spread):
        phrases = []
        for _, r in spread.iterrows():
            if _missing(r.get("fixed_sd")) or _missing(r.get("reselected_sd")):
                continue
            more = "more" if r["fixed_sd"] > r["reselected_sd"] else "less"
            phrases.append(f"{measures.label(r['outcome']).lower()}: {more} (standard deviation "
                           f"{float(r['fixed_sd']):.1f} against {float(r['reselected_sd']):.1f})")
        if phrases:
            text += (" With the comparator held fixed, the placebo estimates spread, compared with each placebo "
                     "against its own comparator: " + "; ".join(phrases) + ".")
    did = inputs.did_results
    main = _main_rows(did).iloc[0]["method"] if _has(did) and _has(_main_rows(did)) else None
    if main is not None and _calibration_run(inputs):
        rates = []
        for outcome in s.outcomes:
            fixed_p = p_value_status(inputs, main, outcome, "permutation")
            reselected = p_value_status(inputs, main, outcome, "reselected")
            if fixed_p.rate is not None and reselected.rate is not None:
                rates.append(f"{measures.label(outcome).lower()} {fixed_p.rate * 100:.1f}% and "
                             f"{reselected.rate * 100:.1f}%")
        if rates:
            text += (" In the national placebo study, where nothing happened, the fixed-comparator and re-selected "
                     "placebo p-values fell below 0.05 in: " + "; ".join(rates) + ".")
    return text


def _robust(inputs: ReportInputs) -> str:
    """What an evaluator can defend: answers that do not hinge on one comparator, before the report's own."""
    s, did, summary = inputs.study, inputs.did_results, inputs.robustness_summary
    n_candidates = int(summary["n_comparators"].max()) if _has(summary) else None
    candidates = f"{n_candidates} candidate authorities" if n_candidates else "the candidate authorities"
    parts = ['<section id="robust"><h2>Headline: estimates that do not hinge on one comparator</h2>',
             f"<p>With {len(s.pre_years)} noisy pre-period years and {candidates}, the single most parallel "
             "comparator is partly chance. The first columns place the report's estimate (section 3) among the "
             "same estimate against <em>every</em> eligible comparator (the specification curve); the next ones "
             "use the whole donor pool and give one answer each: synthetic difference-in-differences "
             "(Arkhangelsky et al. 2021, placebo standard error), the penalised synthetic control (Abadie and "
             "L'Hour 2021) and two-way fixed effects. The plain synthetic control is shown with the range its "
             "best-fitting weightings allow: where the treated authority lies inside the donors' hull that range "
             "is wide, and one weighting's answer means little.</p>",
             f"<p>{esc(_placebo_choice_text(inputs))}</p>"]
    if not _has(summary):
        parts.append(_not_available("The comparator robustness summary (marts.did_comparator_robustness_summary)"))
        return "".join(parts) + "</section>"
    identification, placebo = inputs.synthetic_control_identification, inputs.inference_summary
    rows = []
    for outcome in s.outcomes:
        found = summary[summary["outcome"] == outcome]
        if found.empty:
            continue
        r = found.iloc[0]
        sdid = _estimate_of(did, outcome, "synthetic_did")
        penalised = _estimate_of(did, outcome, "penalised_synthetic_control")
        twfe = _estimate_of(did, outcome, "twfe_all_donors")
        bounds = identification[identification["outcome"] == outcome] if _has(identification) else None
        p = placebo[placebo["outcome"] == outcome] if _has(placebo) else None
        rows.append({
            "outcome": outcome, "chosen": r["chosen_estimate"],
            "p_reselected": None if p is None or p.empty else p.iloc[0]["reselected_p_value"],
            "p_fixed": None if p is None or p.empty else p.iloc[0]["fixed_comparator_p_value"],
            "percentile": r["chosen_percentile"],
            "median": r["median"], "q25": r["q25"], "q75": r["q75"], "negative": r["share_negative"],
            "n": r["n_comparators"],
            "sdid": None if sdid is None else sdid["estimate"],
            "sdid_se": None if sdid is None else sdid.get("se_placebo"),
            "sdid_p": None if sdid is None else sdid.get("permutation_p_value"),
            "penalised": None if penalised is None else penalised["estimate"],
            "twfe": None if twfe is None else twfe["estimate"],
            "sc_low": None if bounds is None or bounds.empty else bounds.iloc[0]["post_gap_low"],
            "sc_high": None if bounds is None or bounds.empty else bounds.iloc[0]["post_gap_high"],
        })
    frame = pd.DataFrame(rows)
    cells, main = PCells(inputs), _main_rows(did).iloc[0]["method"] if _has(_main_rows(did)) else MAIN_METHODS[0]
    fixed_any = any(o in s.study.comparators for o in s.outcomes)
    parts.append(table(frame, [
        ("Outcome", "outcome", _outcome), ("Report's DiD (chosen comparator)", "chosen", num),
        ("Placebo p (placebos pick their own comparators; the treated pair is fixed where the study fixes it)"
         if fixed_any else "Placebo p (each placebo picks its own comparator)", None,
         cells.column(main, "reselected", "p_reselected")),
        ("Placebo p (comparator fixed)", None, cells.column(main, "permutation", "p_fixed")),
        ("Chosen at percentile", "percentile", lambda v: pct(v)),
        ("Median over all comparators", "median", num),
        ("Interquartile range", None, lambda r: f"{num(r.get('q25'))} to {num(r.get('q75'))}"),
        ("Share negative", "negative", lambda v: pct(v)), ("Comparators", "n", integer),
    ], "robustness", f"{_units(s)}. The report's specification against every eligible comparator"))
    parts.append(table(frame, [
        ("Outcome", "outcome", _outcome),
        ("Synthetic DiD", "sdid", num), ("SE (placebo)", "sdid_se", num),
        ("p (SDID)", None, cells.column("synthetic_did", "permutation", "sdid_p")),
        ("Penalised SC", "penalised", num), ("Two-way FE", "twfe", num),
        ("Plain SC: range over best fits", None, lambda r: f"{num(r.get('sc_low'))} to {num(r.get('sc_high'))}"),
    ], "whole_pool", f"{_units(s)}. Estimators that use every eligible authority and give one answer"))
    parts.append(cells.note())
    stability = inputs.comparator_stability
    if _has(stability):
        parts.append(table(stability, [
            ("Outcome", "outcome", _outcome), ("Pre-year left out", "left_out_year_label", esc),
            ("Comparator picked", "comparator_name", esc),
            ("Same as with every year", "same_as_full", lambda v: "yes" if v is True or v == 1 else "no"),
            ("Its estimate (full design)", "estimate", num),
        ], "comparator_stability", "The comparator rule with each pre-period year left out"))
    pairs = inputs.reference_pairs
    if _has(pairs):
        parts.append("<p>The original evaluation named its own comparators. Where this study's ranking puts "
                     "each, and the report's estimate against it:</p>")
        parts.append(table(pairs, [
            ("Outcome", "outcome", _outcome), ("Original comparator", "unit_name", esc),
            ("Rank here", "rank", integer), ("of eligible", "n_eligible", integer),
            ("Passes pre-trend test", "passes_pretrend", lambda v: "yes" if v is True or v == 1 else "no"),
            ("p (slope)", "differential_slope_p", pval), ("Level difference", "level_difference", num),
            ("Composite", "composite_score", lambda v: num(v, 3)),
            ("Estimate against it", "estimate", num), ("Study", "study_id", esc),
        ], "reference_pairs", "The original evaluation's comparators in this study's ranking"))
    parts.append(figure_html(inputs.figures, FIGURE_SPECIFICATION_CURVE))
    parts.append("</section>")
    return "".join(parts)


def _setup(inputs: ReportInputs) -> str:
    s = inputs.study
    pre = f"{year_label(min(s.pre_years))} to {year_label(max(s.pre_years))}"
    post = f"{year_label(min(s.post_years))} to {year_label(max(s.post_years))}"
    outcomes = ", ".join(measures.label(o) for o in s.outcomes)
    vintage = inputs.vintage or "none"
    rows = [
        ("Study", s.study_id), ("Treated authority", f"{s.treated_name} ({s.treated_unit_code})"),
        ("Programme start", f"collection year {year_label(s.first_post_year)} (first post-period year)"),
        ("Pre-period", f"{pre} ({len(s.pre_years)} collection years)"),
        ("Post-period", f"{post} ({len(s.post_years)} collection years)"),
        ("Outcomes", outcomes), ("Covariate", measures.label(s.covariate) if s.covariate else "none"),
        ("Data vintage of the estimates", vintage),
    ]
    items = "".join(f"<tr><th scope=\"row\">{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    description = f"<p>{esc(s.description)}</p>" if s.description else ""
    return (f'<section id="setup"><h2>1. Study set-up</h2>{description}'
            "<p>Strand 1 compares the treated authority with one comparator authority per outcome, using English "
            f"local authorities' published children-in-need statistics. Each outcome is a rate "
            f"({esc(measures.units_of(s.outcomes))}); years are collection years ending 31 March. The estimator is the "
            "report's regression <code>Y = b0 + b1&middot;T + b2&middot;Post + bTE&middot;(T&times;Post) + "
            "b3&middot;CIN + e</code>; bTE is the effect.</p>"
            f'<table class="setup" data-table="study">{items}</table></section>')


def _how_chosen(row) -> str:
    return "fixed by the study" if row.get("selection_rule") == "fixed by the study" else "chosen by the rule"


def _comparators(inputs: ReportInputs) -> str:
    ranking, s = inputs.comparator_ranking, inputs.study
    parts = ['<section id="comparators"><h2>2. Comparator choice and why</h2>',
             "<p>For each outcome every other authority with a complete, consistent series is a candidate. "
             "Candidates whose pre-period trend differs significantly from the treated authority's (differential "
             f"slope test p &lt; {esc(s.pretrend_alpha if s.pretrend_alpha is not None else 'alpha')}) rank after "
             "all others; the rest are ordered by a composite of percentile ranks (lower = more alike): "
             "trend (the mean of the percentile ranks of |differential slope| and of how far the yearly gap strays "
             "from a straight line), level (|pre-period mean difference|) and demography (population, CIN "
             "rate, statistical-neighbour rank, deprivation). The top of each ranking is below.</p>"]
    if not _has(ranking):
        parts.append(_not_available("The comparator ranking (marts.comparator_ranking)"))
    for outcome in s.outcomes:
        parts.append(f"<h3>{_outcome(outcome)}</h3>")
        if _has(ranking):
            rows = ranking[ranking["outcome"] == outcome]
            eligible = rows[rows["eligible"].fillna(False).astype(bool)]
            chosen = rows[rows["selected"].fillna(False).astype(bool)]
            if len(chosen):
                c = chosen.iloc[0]
                gate = "passes" if bool(c.get("passes_pretrend")) else "does NOT pass"
                parts.append(
                    f'<p class="choice">Selected comparator: <strong>{esc(c["unit_name"])}</strong> '
                    f"({esc(c['unit_code'])}), {_how_chosen(c)}, rank {integer(c.get('rank'))} of {len(eligible)} "
                    "eligible authorities "
                    f"({len(rows) - len(eligible)} ineligible). Pre-period differential slope "
                    f"{num(c.get('differential_slope'))} per year (p = {pval(c.get('differential_slope_p'))}; it "
                    f"{gate} the parallel-trend gate); its pre-period mean {num(c.get('pre_mean'))} differs from the "
                    f"treated authority's by {num(c.get('level_difference'))}; composite score "
                    f"{num(c.get('composite_score'), 3)}.</p>")
            top = eligible.sort_values("rank").head(RANKING_SHOWN)
            parts.append(table(top, [
                ("Rank", "rank", integer), ("Authority", "unit_name", esc), ("Code", "unit_code", esc),
                ("Passes pre-trend test", "passes_pretrend", lambda v: "yes" if v is True or v == 1 else "no"),
                ("Differential slope", "differential_slope", num), ("p (slope)", "differential_slope_p", pval),
                ("Pre-period mean", "pre_mean", num), ("Level difference", "level_difference", num),
                ("Trend score", "pct_trend", lambda v: num(v, 3)), ("Level score", "pct_level", lambda v: num(v, 3)),
                ("Demography score", "demography_score", lambda v: num(v, 3)),
                ("Composite", "composite_score", lambda v: num(v, 3)),
            ], "comparator_ranking", f"{measures.label(outcome)}: top {RANKING_SHOWN} candidates "
               "(component scores are percentile ranks among eligible authorities, lower = more alike)"))
        parts.append(figure_html(inputs.figures, outcome_trend_figure(outcome)))
    parts.append("</section>")
    return "".join(parts)


def _did(inputs: ReportInputs) -> str:
    did = inputs.did_results
    parts = ['<section id="did"><h2>3. Difference-in-differences estimates</h2>']
    if not _has(did):
        parts.append(_not_available("The difference-in-differences results (marts.did_results)"))
        return "".join(parts) + "</section>"
    parts.append("<p>One row per outcome and method. A negative estimate means the treated authority's rate fell "
                 "relative to its comparator after the programme started. Classical standard errors assume "
                 "independent, equal-variance errors; HC1 errors relax equal variance; the placebo p-value is each "
                 "method's own test (for the report's specification, every placebo re-selecting its comparator, as "
                 "the headline; section 4 shows the fixed-comparator one beside it). Grey p-values are not "
                 "calibrated (see the national placebo study above).</p>")
    method_order = did["method"].map({m: i for i, m in enumerate(METHOD_LABELS)}).fillna(len(METHOD_LABELS))
    outcome_order = did["outcome"].map({o: i for i, o in enumerate(inputs.study.outcomes)}).fillna(99)
    ordered = did.assign(_o=outcome_order, _m=method_order).sort_values(["_o", "_m"], kind="stable")
    summary = inputs.inference_summary
    reselected = dict(zip(summary["outcome"], summary["reselected_p_value"])) if _has(summary) else {}
    main = set(_main_rows(did)["method"])
    ordered["placebo_p"] = [reselected.get(o) if m in main else p
                            for o, m, p in zip(ordered["outcome"], ordered["method"], ordered["permutation_p_value"])]
    ordered["placebo_kind"] = ["reselected" if m in main else "permutation" for m in ordered["method"]]
    cells = PCells(inputs)
    parts.append(table(ordered, [
        ("Outcome", "outcome", _outcome), ("Comparator", "comparator_name", esc),
        ("Method", "method", lambda m: esc(METHOD_LABELS.get(m, m))), ("Estimate", "estimate", num),
        ("SE (classical)", "se_classical", num), ("p (classical)", None, cells.column(None, "classical", "p_classical")),
        ("95% CI (classical)", None, lambda r: _ci(r, "ci_low_classical", "ci_high_classical")),
        ("SE (HC1)", "se_hc1", num), ("p (HC1)", None, cells.column(None, "hc1", "p_hc1")),
        ("Placebo p (its own test)", None,
         lambda r: cells.cell(r.get("placebo_p"), r.get("method"), r.get("outcome"), r.get("placebo_kind"))),
        ("N (unit-years)", "n_obs", integer),
    ], "did_results", f"Difference-in-differences estimates, {measures.units_of(inputs.study.outcomes)}"))
    parts.append(cells.note())
    means = did[did["method"] == "difference_of_means"]
    if len(means):
        parts.append(table(means, [
            ("Outcome", "outcome", _outcome), ("Comparator", "comparator_name", esc),
            ("Treated before", "treated_pre_mean", num), ("Treated after", "treated_post_mean", num),
            ("Comparator before", "comparator_pre_mean", num), ("Comparator after", "comparator_post_mean", num),
            ("(T after - T before) - (C after - C before)", "estimate", num),
        ], "did_means", "The 2x2 form: mean rates before and after the start"))
    parts.append("</section>")
    return "".join(parts)


def _ci(row, low: str, high: str) -> str:
    if _missing(row.get(low)) or _missing(row.get(high)):
        return "&ndash;"
    return f"{num(row.get(low))} to {num(row.get(high))}"


def _inference(inputs: ReportInputs) -> str:
    did, figures = inputs.did_results, inputs.figures
    parts = ['<section id="inference"><h2>4. Inference: placebos, event study and synthetic control</h2>',
             "<p>With two authorities and a handful of noisy years the classical p-value leans on assumptions such "
             "data rarely meet. Three checks ask instead how unusual the estimate is where nothing happened: "
             "every other eligible authority as a placebo treated unit (placebo-in-space), fake start years inside "
             "the pre-period (placebo-in-time), year-by-year effects (event study), and a synthetic control built "
             "as a weighted mix of authorities.</p>"]
    if _has(did):
        main = _main_rows(did)
        synthetic = did[did["method"] == "synthetic_control"].set_index("outcome")
        rows = []
        for _, r in main.iterrows():
            sc = synthetic.loc[r["outcome"]] if r["outcome"] in synthetic.index else None
            rows.append({
                "outcome": r["outcome"], "estimate": r["estimate"], "p_classical": r.get("p_classical"),
                "p_hc1": r.get("p_hc1"), "permutation_p_value": r.get("permutation_p_value"),
                "n_placebos": r.get("n_placebos"),
                "sc_estimate": None if sc is None else sc.get("estimate"),
                "sc_p": None if sc is None else sc.get("permutation_p_value"),
                "sc_post_p": None if sc is None else sc.get("post_rmspe_p_value"),
                "sc_pre_rmspe": None if sc is None else sc.get("pre_rmspe"),
            })
        cells = PCells(inputs)
        summary = inputs.inference_summary
        reselected = dict(zip(summary["outcome"], summary["reselected_p_value"])) if _has(summary) else {}
        frame = pd.DataFrame(rows)
        frame["method"] = main["method"].iloc[0] if len(main) else None
        frame["p_reselected"] = frame["outcome"].map(reselected)
        parts.append(table(frame, [
            ("Outcome", "outcome", _outcome), ("DiD estimate", "estimate", num),
            ("p (classical)", None, cells.column(None, "classical", "p_classical")),
            ("p (HC1)", None, cells.column(None, "hc1", "p_hc1")),
            ("Placebo p, comparator fixed", None, cells.column(None, "permutation", "permutation_p_value")),
            ("Placebo p, comparators re-selected (headline)", None, cells.column(None, "reselected", "p_reselected")),
            ("Placebos", "n_placebos", integer),
            ("Synthetic-control gap", "sc_estimate", num),
            ("SC p (RMSPE ratio)", None, cells.column("synthetic_control", "permutation", "sc_p")),
            ("SC p (post RMSPE, comparable fits)", None, cells.column("synthetic_control", "post_rmspe", "sc_post_p")),
            ("SC pre-period RMSPE", "sc_pre_rmspe", num),
        ], "inference", "The report's estimate beside its placebo and synthetic-control inference"))
        parts.append(cells.note())
    else:
        parts.append(_not_available("The inference results (marts.did_results)"))
    parts.append(figure_html(figures, FIGURE_PLACEBO))
    parts.append(figure_html(figures, FIGURE_EVENT_STUDY))
    time = inputs.did_placebo_time
    if _has(time):
        main_method = next((m for m in MAIN_METHODS if (time["method"] == m).any()), None) \
            if "method" in time else None
        rows = time[time["method"] == main_method] if main_method else time
        parts.append(table(rows, [
            ("Outcome", "outcome", _outcome), ("Fake start", "fake_first_post_year", lambda y: esc(year_label(y))
                                                 if not _missing(y) else "&ndash;"),
            ("Estimate", "estimate", num), ("p (classical)", "p_classical", pval), ("N", "n_obs", integer),
        ], "did_placebo_time", "Placebo-in-time: fake programme starts inside the pre-period (estimates far from "
                               "zero mean the pre-period was not stable)"))
    parts.append(figure_html(figures, FIGURE_SYNTHETIC_CONTROL))
    weights = inputs.synthetic_control_weights
    if _has(weights):
        top = weights[weights["weight"] > 0.001].groupby("outcome", sort=False).head(5)
        parts.append(table(top, [("Outcome", "outcome", _outcome), ("Donor authority", "unit_name", esc),
                                 ("Weight", "weight", lambda v: num(v, 3))],
                           "synthetic_control_weights", "Synthetic control: the largest donor weights"))
    parts.append("</section>")
    return "".join(parts)


def _vintages_section(inputs: ReportInputs) -> str:
    frame = inputs.estimates_by_vintage
    parts = ['<section id="vintages"><h2>5. The estimates under each data vintage</h2>',
             "<p>Each children-in-need release is a data vintage; the estimates are recomputed on the data as they "
             "stood in each release that covers the study's years, so a revision shows as a change here.</p>"]
    if not _has(frame):
        parts.append(_not_available("Estimates by vintage"))
        return "".join(parts) + "</section>"
    main = _main_rows(frame)
    cells = PCells(inputs)
    parts.append(table(main, [
        ("Outcome", "outcome", _outcome), ("Vintage", "vintage", esc), ("Comparator", "comparator_name", esc),
        ("Estimate", "estimate", num), ("p (classical)", None, cells.column(None, "classical", "p_classical")),
        ("Placebo p, comparator fixed", None, cells.column(None, "permutation", "permutation_p_value")),
    ], "did_results_by_vintage", "The report's specification, per data vintage"))
    parts.append(cells.note())
    parts.append("</section>")
    return "".join(parts)


def _cin(inputs: ReportInputs) -> str:
    return ('<section id="cin"><h2>6. Children in need: treated authority and England</h2>'
            + figure_html(inputs.figures, FIGURE_CIN) + "</section>")


def _arms(frame: pd.DataFrame | None) -> tuple[str, str]:
    """The treated and control arms' names as the trial's marts carry them."""
    if _has(frame) and {"treated_arm", "control_arm"} <= set(frame.columns):
        return str(frame["treated_arm"].iloc[0]), str(frame["control_arm"].iloc[0])
    return "treated", "control"


def _trial_note(frame: pd.DataFrame | None) -> str:
    """Which trial(s) a section shows (data/trials.yaml)."""
    if not _has(frame) or "trial_id" not in frame:
        return ""
    ids = ", ".join(f"<code>{esc(t)}</code>" for t in dict.fromkeys(frame["trial_id"].astype(str)))
    return f"<p>Trial {ids} (data/trials.yaml): outcomes measured from the council's children-in-need census returns.</p>"


def _analysis_cell(row) -> str:
    """The analysis sample, and its subgroup when it is not every case ("Intention to treat: Previous CIN
    involvement")."""
    subgroup = row.get("subgroup")
    if _missing(subgroup) or subgroup == "all":
        return label(row.get("analysis"))
    return f"{label(row.get('analysis'))}: {label(subgroup)}"


def _rct(inputs: ReportInputs) -> str:
    results, balance, tobit = inputs.rct_results, inputs.rct_balance, inputs.case_length_tobit
    treated, control = _arms(results)
    parts = ['<section id="rct"><h2>7. Randomised trial: long-term outcomes</h2>']
    if any(is_synthetic(f) for f in (results, balance, tobit)):
        parts.append(_synthetic_banner("The trial results in this section"))
    if not _has(results):
        parts.append('<p class="note">No randomised trial is configured for this authority (data/trials.yaml).</p>'
                     "</section>")
        return "".join(parts)
    parts.append(_trial_note(results))
    parts.append(f"<p>Randomised trial, {esc(treated)} against {esc(control)}: outcomes measured from the council's "
                 "children-in-need census returns over the trial's follow-up (closed: the episode open at "
                 "randomisation ended; re-referred: a referral within 12 months of the previous one; escalated: a "
                 "child protection plan started). Logistic regression of each outcome on treatment with the trial's "
                 "covariates, back-transformed to the control group's observed rate and its rate had it been "
                 "treated (* p&lt;0.05, ** p&lt;0.01); by previous CIN history (RR1067's Round 1 signal) within "
                 "the intention-to-treat sample. Outcomes with too few events are not modelled.</p>")
    parts.append(table(results, [
        # The sample and, within the intention-to-treat one, the subgroup in one column: a table of 15 columns
        # is wider than a 1000 px screen.
        ("Analysis", None, _analysis_cell),
        ("Outcome", "outcome", lambda o: esc(rct_outcome_label(o, in_sentence=True))),
        ("Status", "status", label), ("N", None, count_cell("n_cases")),
        (f"Events {treated}", None, count_cell("events_treated")), (f"Events {control}", None, count_cell("events_control")),
        (f"{treated} observed", "treated_rate_observed", pct),
        (f"{control} observed", "control_rate_observed", pct),
        (f"{control} had it received {treated}", "control_rate_if_treated", pct),
        ("95% CI", None, lambda r: "&ndash;" if _missing(r.get("control_rate_if_treated_ci_low")) else
         f"{pct(r.get('control_rate_if_treated_ci_low'))} to {pct(r.get('control_rate_if_treated_ci_high'))}"),
        ("p", "p_value", pval), ("", "stars", esc), ("Note", "note", esc),
        ("Data origin", "data_origin", esc),
    ], "rct_results", "Trial outcomes by the end of follow-up"))
    parts.append(figure_html(inputs.figures, FIGURE_RCT))
    if _has(balance):
        parts.append(table(balance, [
            ("Characteristic", "label", esc), (treated, "share_treated", lambda v: pct(v, 1)),
            (control, "share_control", lambda v: pct(v, 1)), ("Test", "test", label), ("p", "p_value", pval),
            ("Data origin", "data_origin", esc),
        ], "rct_balance", "Sample description by arm, with a test of balance"))
    if _has(tobit):
        parts.append(table(tobit, [
            ("Term", "term", label), ("Estimate (days)", "estimate", num), ("SE", "std_error", num),
            ("p", "p_value", pval), ("95% CI", None, lambda r: _ci(r, "ci_low", "ci_high")),
            ("N", None, count_cell("n_cases")), ("Right-censored", None, count_cell("n_right_censored")),
            ("Data origin", "data_origin", esc),
        ], "case_length_tobit", "Case length without escalation: censored-normal (Tobit) regression"))
    parts.append("</section>")
    return "".join(parts)


def _risk(inputs: ReportInputs) -> str:
    by_arm, changes = inputs.risk_scores_by_arm, inputs.risk_score_changes
    parts = ['<section id="risk"><h2>8. Risk analysis of coded case notes</h2>']
    if is_synthetic(by_arm) or is_synthetic(changes):
        parts.append(_synthetic_banner("The risk scores in this section"))
    if not _has(by_arm) and not _has(changes):
        parts.append('<p class="note">No trial run in this authority has coded case notes (data/trials.yaml: a '
                     "trial's risk_notes extract).</p></section>")
        return "".join(parts)
    parts.append("<p>Score = engagement + protective factors + risk factors (report Appendix 5); higher means less "
                 "risk. A negative change means risk rose.</p>")
    if not _has(by_arm):
        parts.append(_not_available("The risk scores (marts.risk_scores_by_arm)"))
    else:
        parts.append(table(by_arm, [
            ("Trial", "trial_id", esc), ("Arm", "arm", esc),
            ("Time point", "time_point", lambda code: esc(_time_point_label(code))),
            ("Cases", None, count_cell("n_cases")),
            ("Engagement", "mean_engagement_score", num), ("Protective", "mean_protective_score", num),
            ("Risk", "mean_risk_score", num), ("Total", "mean_total_score", num),
            ("Data origin", "data_origin", esc),
        ], "risk_scores_by_arm", "Mean scores by arm and coding point"))
    if _has(changes):
        parts.append(table(changes, [
            ("From", "from_time_point", label), ("To", "to_time_point", label), ("Arm", "arm", esc),
            ("Cases", None, count_cell("n_cases")), ("Mean change in total", "mean_change", num),
            ("p (paired)", "p_value_paired", pval), ("p (between arms)", "p_value_between_arms", pval),
        ], "risk_score_changes", "Change in total score between coding points (cases coded at both)"))
    parts.append(figure_html(inputs.figures, FIGURE_RISK))
    parts.append("</section>")
    return "".join(parts)


def _service(inputs: ReportInputs) -> str:
    summary, by_year = inputs.service_summary, inputs.service_case_length_by_year
    parts = ['<section id="service"><h2>9. Service management information</h2>']
    if is_synthetic(summary) or is_synthetic(by_year):
        parts.append(_synthetic_banner("The service figures in this section"))
    if not _has(summary) and not _has(by_year):
        parts.append('<p class="note">No trial run in this authority has a service\'s management information '
                     "(data/trials.yaml: a trial's service_information extract).</p></section>")
        return "".join(parts)
    if not _has(summary):
        parts.append(_not_available("The service summary (marts.service_summary)"))
    else:
        parts.append(table(summary, [
            ("Measure", "measure", label), ("Category", "category", label),
            ("Families", None, count_cell("n_families")),
            ("Share", "share", lambda v: pct(v, 1)), ("Mean days", "mean_days", lambda v: num(v, 0)),
            ("National benchmark", "benchmark_share", lambda v: pct(v, 1)),
            ("p vs benchmark", "p_value_vs_benchmark", pval), ("Data origin", "data_origin", esc),
        ], "service_summary", "Families served, how cases ended and days to close"))
    if _has(by_year):
        parts.append(table(by_year, [
            ("Start year", "start_year", esc), ("Started", None, count_cell("n_started")),
            ("Closed", None, count_cell("n_closed")),
            ("Mean days to close", "mean_days_to_close", lambda v: num(v, 0)),
            ("Still open", None, count_cell("n_open")),
        ], "service_case_length_by_year", "Case length by year the case started"))
    parts.append(figure_html(inputs.figures, FIGURE_SERVICE))
    parts.append("</section>")
    return "".join(parts)


# --------------------------------------------------------------------------- limitations


def limitations(inputs: ReportInputs) -> list[str]:
    """The design's weaknesses as this build's data show them (plain text, unescaped)."""
    s, notes = inputs.study, []
    pre = len(s.pre_years)
    notes.append(f"Only {pre} pre-period years ({year_label(min(s.pre_years))} to {year_label(max(s.pre_years))}) "
                 f"and {len(s.post_years)} post-period years inform each estimate: parallel pre-trends are tested on "
                 f"{pre} points per authority, with little power to detect a divergence.")
    did = inputs.did_results
    main = _main_rows(did) if _has(did) else None
    rates = inputs.treated_rates
    if _has(rates):
        pre_rows = rates[rates["collection_year"].isin(s.pre_years)].sort_values("collection_year")
        for outcome in s.outcomes:
            if outcome not in pre_rows or pre_rows[outcome].notna().sum() < 2:
                continue
            values = pre_rows[outcome].dropna()
            sd, jump = values.std(), values.diff().abs().mean()
            text = (f"Year-to-year noise: {s.treated_name}'s {measures.label(outcome).lower()} had a "
                    f"standard deviation of {sd:.1f} across the pre-period (mean absolute change between "
                    f"consecutive years {jump:.1f}, around a mean of {values.mean():.1f})")
            if main is not None and (main["outcome"] == outcome).any():
                estimate = main.loc[main["outcome"] == outcome, "estimate"].iloc[0]
                if not _missing(estimate) and sd > 0:
                    text += f"; the estimated effect of {estimate:.1f} is {abs(estimate) / sd:.1f} such standard " \
                            "deviations"
            notes.append(text + ".")
    if main is not None and len(main):
        n_obs = main["n_obs"].dropna()
        if len(n_obs):
            notes.append(f"Each regression compares two authorities: {int(n_obs.min())} unit-years, so the classical "
                         "p-value rests on very few observations. " + _which_p_values_count(inputs, main))
        for _, r in main.iterrows():
            p_classical, p_perm = r.get("p_classical"), r.get("permutation_p_value")
            if not _missing(p_classical) and not _missing(p_perm) and (p_classical < 0.05) != (p_perm < 0.05):
                notes.append(f"For {measures.label(r['outcome']).lower()} the classical p-value "
                             f"({p_classical:.3f}) and the placebo-in-space p-value ({p_perm:.3f}) disagree about "
                             "significance at 5%.")
    notes += _power_notes(inputs)
    ranking = inputs.comparator_ranking
    if _has(ranking):
        chosen = ranking[ranking["selected"].fillna(False).astype(bool)]
        for _, c in chosen.iterrows():
            if not bool(c.get("passes_pretrend")):
                notes.append(f"No candidate passed the parallel pre-trend test for "
                             f"{measures.label(c['outcome']).lower()}: the comparator "
                             f"{c['unit_name']} is the best of those that failed.")
    if _has(did) and (did["method"] == "synthetic_control").any():
        sc = did[did["method"] == "synthetic_control"]
        exact = sc["pre_rmspe"].fillna(1).lt(1e-6).sum() if "pre_rmspe" in sc else 0
        if exact:
            notes.append(f"The synthetic control fits the pre-period exactly for {int(exact)} of {len(sc)} outcomes: "
                         f"with more donor authorities than the {pre} pre-period years many weightings fit perfectly, "
                         "so the weights are one of several and the fit says little about the counterfactual.")
    results = inputs.rct_results
    if _has(results):
        treated, control = _arms(results)
        itt = results[results["analysis"] == "itt"] if "analysis" in results else results
        if "subgroup" in itt:
            itt = itt[itt["subgroup"] == "all"]
        for _, r in itt.iterrows():
            if r["status"] == "too_few_events":
                notes.append(f"Trial outcome '{rct_outcome_label(r['outcome'], in_sentence=True)}': too few events to "
                             f"model (events: {treated} {_count(r.get('events_treated'))}, {control} "
                             f"{_count(r.get('events_control'))}); only counts and Fisher's exact test are reported.")
        estimated = itt[itt["status"] == "estimated"]
        if len(estimated):
            notes.append(f"The trial analyses {_count(estimated['n_cases'].max())} cases "
                         f"({treated} {_count(estimated['n_treated'].max())}, "
                         f"{control} {_count(estimated['n_control'].max())}): only large "
                         "differences in probability could be detected.")
        if "analysis" in results and (results["analysis"] == "excluding_contaminated").any():
            n_itt = itt["n_cases"].max()
            n_ex = results.loc[results["analysis"] == "excluding_contaminated", "n_cases"].max()
            if not _missing(n_itt) and not _missing(n_ex) and n_itt > n_ex:
                notes.append(f"Contamination: {int(n_itt - n_ex)} control cases later received {treated}; the "
                             "results are shown with and without them.")
    by_arm = inputs.risk_scores_by_arm
    if _has(by_arm):
        latest = by_arm[by_arm["time_point"] == by_arm["time_point"].iloc[-1]] if len(by_arm) else by_arm
        counts = " and ".join(f"{r['arm']} {_count(r['n_cases'])}" for _, r in latest.iterrows())
        coded = by_arm.groupby("time_point")["n_cases"].sum(min_count=1).max()
        notes.append(f"The risk analysis codes {_count(coded)} cases, and "
                     f"only {counts} at the last coding point: its tests are descriptive at best.")
    by_year = inputs.service_case_length_by_year
    # A withheld count of open cases (NULL) is 1 to 5: still open.
    open_cases = by_year["n_open"].fillna(1).gt(0) if _has(by_year) and "n_open" in by_year else None
    if open_cases is not None and open_cases.any():
        years = ", ".join(str(int(y)) for y in by_year.loc[open_cases, "start_year"])
        notes.append(f"Service case lengths for cases started in {years} are biased short: some of those cases "
                     "are still open.")
    synthetic = [name for name in ("rct_results", "rct_balance", "case_length_tobit", "risk_scores_by_arm",
                                   "risk_score_changes", "service_summary", "service_case_length_by_year")
                 if is_synthetic(getattr(inputs, name))]
    if synthetic:
        notes.append("SYNTHETIC inputs: " + ", ".join(f"marts.{n}" for n in synthetic) + " are built from invented "
                     "stand-ins for the council's census returns and trial files; they illustrate the method and "
                     "must not be read as findings.")
    return notes


def _which_p_values_count(inputs: ReportInputs, main: pd.DataFrame) -> str:
    """Which of the report's p-values the national placebo study found calibrated, and what the plain synthetic
    control's identification says of its own (plain text, from the data)."""
    if not _calibration_run(inputs):
        text = ("Which p-values can be believed is not known here: the national placebo study has not been run "
                "(make calibrate), so every p-value is shown grey.")
    else:
        method = main["method"].iloc[0]
        good, bad = [], []
        for m, kind in ((method, "classical"), (method, "hc1"), (method, "permutation"), (method, "reselected"),
                        ("synthetic_did", "permutation"), ("penalised_synthetic_control", "permutation"),
                        ("twfe_all_donors", "permutation"), ("synthetic_control", "permutation")):
            found = [(o, p_value_status(inputs, m, o, kind)) for o in inputs.study.outcomes]
            found = [(o, st) for o, st in found if st.rate is not None]
            for verdict, bucket in ((True, good), (False, bad)):
                rates = [f"{measures.label(o).lower()} {st.rate * 100:.1f}%" for o, st in found
                         if bool(st.calibrated) == verdict]
                if rates:
                    bucket.append(f"{METHOD_LABELS.get(m, m)} {KIND_LABELS.get(kind, kind)} ({', '.join(rates)})")
        text = ("In the national placebo study (the share of placebo studies of authorities as noisy as "
                f"{inputs.study.treated_name} with p at most 0.05 in brackets), ")
        text += ("calibrated: " + "; ".join(good) if good else "no p-value of this report was calibrated")
        text += ("; NOT calibrated, so no evidence: " + "; ".join(bad) + "." if bad else ".")
        families = [f"{measures.label(o).lower()}: {found}" for o in inputs.study.outcomes
                    if (found := first_screen_family(inputs, o)) is not None]
        if families:
            text += (f" Only the pre-specified specification ({METHOD_LABELS.get(method, method)}, its re-selected "
                     "placebo p) is evidence: the other methods sit beside it, and with several side by side one "
                     "reaches 0.05 by chance far more often than 5% (" + "; ".join(families) + "). A calibrated "
                     "p-value of another method at most 0.05 is shown grey.")
    identification = inputs.synthetic_control_identification
    if _has(identification) and "identified" in identification:
        unidentified = identification[~identification["identified"].fillna(False).astype(bool)]
        if len(unidentified):
            outcomes = ", ".join(measures.label(o).lower() for o in unidentified["outcome"])
            text += (f" The plain synthetic control is not identified for {outcomes} (its best-fitting weightings give "
                     "a range of gaps, section Headline), so its p-values there are no guide whatever their "
                     "calibration.")
    return text


def _power_notes(inputs: ReportInputs) -> list[str]:
    """What the design can detect, against what the programme could change (plain text, from the data)."""
    notes = []
    did = inputs.did_results
    main = _main_rows(did) if _has(did) else None
    if main is None or not len(main) or not _has(inputs.detectable_effects):
        if not _calibration_run(inputs):
            notes.append("Power is unknown: without the national placebo study (make calibrate) this build cannot "
                         "say what effect the design could detect.")
        return notes
    method = main["method"].iloc[0]
    for outcome in inputs.study.outcomes:
        detectable = _detectable(inputs, outcome, method)
        if detectable is None or _missing(detectable.get("mde")):
            continue
        text = (f"{measures.label(outcome)}: the report's DiD detects (80% power, 5%) a change of about "
                f"{float(detectable['mde']):.1f} per 10,000 (from its {int(detectable['n_placebos'])} placebo "
                "estimates)")
        dilution = _dilution_of(inputs, outcome)
        if dilution is not None and not _missing(dilution.get("largest_effect")):
            largest, implied = float(dilution["largest_effect"]), float(dilution["implied_effect"])
            text += (f"; {dilution['reach_per_year']:.0f} {dilution['reach_unit']} a year could move the rate by "
                     f"{implied:.2f} at the plausible effect and {largest:.2f} at most, "
                     f"{largest / float(detectable['mde']) * 100:.0f}% of that")
            if largest < float(detectable["mde"]):
                text += ": 'no evidence' here means the design cannot tell, not that the programme did nothing"
        notes.append(text + ".")
    return notes


def _count(value) -> str:
    """A count in plain text; a casework count of 1 to 5 is withheld (NULL)."""
    return "withheld (1 to 5)" if _missing(value) else str(int(value))


def _limitations(inputs: ReportInputs) -> str:
    items = "".join(f"<li>{esc(note)}</li>" for note in limitations(inputs))
    return f'<section id="limitations"><h2>10. Limitations</h2><ul>{items}</ul></section>'


def _footer(inputs: ReportInputs) -> str:
    parts = ['<footer id="provenance"><h2>Data and code</h2>']
    if inputs.vintage:
        parts.append(f"<p>Estimates use data vintage <strong>{esc(inputs.vintage)}</strong>.</p>")
    if _has(inputs.vintages):
        parts.append(table(inputs.vintages, [
            ("Vintage", "vintage", esc), ("First year", "first_year", lambda y: esc(year_label(y))),
            ("Last year", "last_year", lambda y: esc(year_label(y))),
        ], "vintages", "Data vintages in the warehouse"))
    if _has(inputs.source_files):
        parts.append(table(inputs.source_files, [
            ("Source file", "source_file", esc), ("Publication", "publication", esc), ("Release", "release_id", esc),
            ("sha256", "source_sha256", lambda v: f"<code>{esc(v)}</code>"),
        ], "source_files", "Published files read, with their checksums"))
    versions = ", ".join(dict.fromkeys(str(v) for v in inputs.code_versions if v)) or "unknown"
    parts.append(f'<p>Code version: <code class="code-version">{esc(versions)}</code>.')
    if inputs.generated_at:
        parts.append(f" Generated {esc(inputs.generated_at)}.")
    parts.append("</p></footer>")
    return "".join(parts)


_CSS = """
body{font-family:Georgia,'Times New Roman',serif;max-width:1180px;margin:2em auto;padding:0 1.5em;color:#222;
line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #1f5f99;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.4em}
table{border-collapse:collapse;margin:1em 0;font-family:Helvetica,Arial,sans-serif;font-size:.85em;max-width:100%}
.table-wrap{max-width:100%;overflow-x:auto}td{overflow-wrap:break-word}td code{word-break:break-all}
nav#contents{background:#f4f7fa;padding:.4em 1em;font-family:Helvetica,Arial,sans-serif;font-size:.9em}
nav#contents ul{margin:.3em 0;padding-left:0;list-style:none;columns:2}
caption{text-align:left;font-weight:bold;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
thead th{background:#eef3f8}td{font-variant-numeric:tabular-nums}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.9em;color:#444}
.synthetic-banner{background:#c0392b;color:#fff;padding:.7em 1em;margin:1em 0;font-family:Helvetica,Arial,sans-serif}
.withheld{font-style:italic;color:#666}
.missing{color:#8a6d3b;background:#fcf8e3;padding:.4em .8em}
.choice{background:#f4f7fa;padding:.5em .8em;border-left:4px solid #1f5f99}
.uncalibrated{color:#9a9a9a}.calibration-note{font-size:.85em;color:#666}
.notice{background:#f4f7fa;padding:.4em .8em;border-left:4px solid #8a8a8a}
footer{margin-top:3em;font-size:.85em;color:#444}code{font-size:.95em}
"""


STRAND_1_FRAMES = ("comparator_ranking", "did_results", "did_placebo_time", "synthetic_control_weights",
                   "estimates_by_vintage", "robustness_summary", "comparator_stability",
                   "synthetic_control_identification", "reference_pairs", "inference_summary", "detectable_effects",
                   "dilution", "placebo_spread")


def in_study_order(inputs: ReportInputs) -> ReportInputs:
    """Strand-1 tables with their outcomes in the study's order (stable within an outcome)."""
    order = {o: i for i, o in enumerate(inputs.study.outcomes)}
    changes = {}
    for name in STRAND_1_FRAMES:
        frame = getattr(inputs, name)
        if _has(frame) and "outcome" in frame:
            rank = frame["outcome"].map(order).fillna(len(order))
            changes[name] = frame.iloc[rank.argsort(kind="stable")].reset_index(drop=True)
    return replace(inputs, **changes)


_SECTION = re.compile(r'<section id="([^"]+)"><h2>(.*?)</h2>')


def contents(sections: Sequence[str]) -> str:
    """A linked table of contents of the sections' headings, and of the data-and-code footer."""
    items = [f'<li><a href="#{sid}">{heading}</a></li>' for part in sections for sid, heading in _SECTION.findall(part)]
    items.append('<li><a href="#provenance">Data and code</a></li>')
    return f'<nav id="contents" aria-label="Contents"><strong>Contents</strong><ul>{"".join(items)}</ul></nav>'


def render_report(inputs: ReportInputs) -> str:
    """The whole evaluation report as one HTML document."""
    inputs = in_study_order(inputs)
    s = inputs.study
    casework = (inputs.rct_results, inputs.rct_balance, inputs.case_length_tobit, inputs.risk_scores_by_arm,
                inputs.risk_score_changes, inputs.service_summary, inputs.service_case_length_by_year)
    banner = _synthetic_banner("Sections 7 to 9 (RCT, risk and service)") if any(map(is_synthetic, casework)) \
        else ""
    title = f"{s.programme or s.study_id} evaluation: {s.treated_name} ({s.study_id})"
    sections = [_glance(inputs), _robust(inputs), _calibration(inputs), _setup(inputs), _comparators(inputs),
                _did(inputs), _inference(inputs),
                _vintages_section(inputs),
                _cin(inputs), _rct(inputs), _risk(inputs), _service(inputs), _limitations(inputs)]
    body = "".join([
        f"<header><h1>{esc(title)}</h1><p>Quantitative strands of the evaluation, regenerated from the warehouse "
        f"on every refresh. Data vintage {esc(inputs.vintage or 'none')}.</p>{banner}</header>",
        contents(sections), "<main>", *sections, "</main>", _footer(inputs),
    ])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n")
