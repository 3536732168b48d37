"""The evaluation's figures, one matplotlib style throughout (pure: DataFrames in, PNG bytes out).

Each public function draws one figure from the rows of a mart and returns
it as PNG bytes. Matplotlib is imported inside the functions and drawn on
the Agg canvas (no display, no pyplot global state), so importing this
module costs nothing and figures can be drawn from any thread.

A figure drawn from SYNTHETIC inputs (a `data_origin` column holding
'SYNTHETIC', or ``synthetic=True``) carries a red "SYNTHETIC DATA" label
on the image and a faint watermark across it, and says so in the PNG's
Description text chunk, so the label travels with the file.

Years are collection years ending 31 March, as integers (2016 = 2015-16),
and are printed as "2015-16". The programme's start is drawn between the
last pre-period year and ``first_post_year``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import measures
from .presentation import STANDIN_LABEL as SYNTHETIC_LABEL
from .presentation import analysis_label, rct_outcome_label, time_point_label, year_label
from .presentation import is_standin as is_synthetic

ENGLAND_CODE = "E92000001"


def _tick(label: str) -> str:
    """A coding point's label on two lines under the axis: 'Six months\n(2016)'."""
    return label.replace(" (", "\n(")
RISK_SCORES = {
    "mean_total_score": "Total score",
    "mean_protective_score": "Protective factors",
    "mean_risk_score": "Risk factors",
}

# One palette: the treated authority / programme arm is always blue, its
# comparator / the control arm orange, the nearest neighbour green, England black.
COLOURS = {
    "treated": "#1f5f99",
    "comparator": "#d9730d",
    "neighbour": "#4d8b31",
    "england": "#222222",
    "placebo": "#9aa5b1",
    "start": "#7a7a7a",
    "synthetic": "#c0392b",
}
DPI = 110  # pixels per inch of the PNGs: an 8-inch figure is 880 px wide
STYLE = {
    "font.size": 10,
    "font.family": "DejaVu Sans",
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titley": 1.0,  # titles sit on the axes (nothing above them to dodge): no tick-label measuring to place them
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#dddddd",
    "grid.linewidth": 0.8,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "lines.linewidth": 2.0,
    "lines.markersize": 5,
}


# --------------------------------------------------------------------------- drawing helpers


def _figure(nrows: int = 1, ncols: int = 1, width: float = 8.0, height: float = 4.6, sharey: bool = False, *,
            left: float = 0.7, right: float = 0.1, bottom: float = 0.68, top: float = 0.4, gap: float = 0.75):
    """A figure on the Agg canvas with fixed margins, in inches: ``left``/``right``/``bottom``/``top`` around the
    panels, ``gap`` between them (each figure's fit its tick labels, axis labels and title).  No layout engine:
    constrained layout measured every text of a figure in a dry-run draw, nearly half the drawing time."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    panel = (width - left - right - gap * (ncols - 1)) / ncols
    figure.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                           wspace=gap / panel)
    axes = figure.subplots(nrows, ncols, squeeze=False, sharey=sharey)
    return figure, list(axes.flat)


class FigurePNG(bytes):
    """PNG bytes that also carry the figure's data (``data``, columns `DATA_COLUMNS`): one row per plotted
    number, recorded where it is drawn, readable without the chart."""

    data: pd.DataFrame


# What a figure's data says about each number: the figure assets add study_id, figure and data_origin.
DATA_COLUMNS = ["panel", "outcome", "series", "statistic", "x", "x_label", "x_axis", "value", "unit"]
YEAR_AXIS = "collection year (to 31 March)"


class _Data:
    """The numbers a figure draws, one row each: what (series, statistic), where (panel, x) and in what unit."""

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, *, panel: str, series: str, statistic: str, x, value, unit: str, outcome: str | None = None,
            x_label: str | None = None, x_axis: str = YEAR_AXIS) -> None:
        x = None if x is None or pd.isna(x) else float(x)
        if x_label is None and x is not None and x_axis == YEAR_AXIS:
            x_label = year_label(x)
        self.rows.append({"panel": panel, "outcome": outcome, "series": series, "statistic": statistic, "x": x,
                          "x_label": x_label, "x_axis": x_axis, "value": None if pd.isna(value) else float(value),
                          "unit": unit})

    def years(self, years, values, **labels) -> None:
        for year, value in zip(years, values):
            self.add(x=year, value=value, **labels)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=DATA_COLUMNS)


def _render(figure, title: str, synthetic: bool, data: _Data, note: str | None = None) -> bytes:
    """Title, optional SYNTHETIC label and watermark, source note; PNG bytes carrying ``data``."""
    colour = COLOURS["synthetic"] if synthetic else "black"
    figure.suptitle(title, fontsize=12, weight="bold", x=0.01, ha="left", color=colour)
    if synthetic:
        figure.text(0.5, 0.5, SYNTHETIC_LABEL, transform=figure.transFigure, fontsize=54, color=COLOURS["synthetic"],
                    alpha=0.10, rotation=25, ha="center", va="center", weight="bold", zorder=0)
        figure.text(0.995, 0.995, SYNTHETIC_LABEL, transform=figure.transFigure, fontsize=11, weight="bold",
                    color="white", ha="right", va="top",
                    bbox={"boxstyle": "square,pad=0.3", "fc": COLOURS["synthetic"], "ec": COLOURS["synthetic"]})
        note = f"{SYNTHETIC_LABEL}: invented stand-ins matching the report's published aggregates, " \
            f"not council records." + (f"  {note}" if note else "")
    if note:
        # Room under the panels for the note: ~0.06 in per character at 8 pt, 0.14 in per line.
        width, height = figure.get_size_inches()
        lines = math.ceil(len(note) * 0.062 / (width - 0.2))
        figure.subplots_adjust(bottom=figure.subplotpars.bottom + (0.08 + 0.14 * lines) / height)
        figure.text(0.01, 0.01, note, fontsize=8, color=colour if synthetic else "#555555",
                    ha="left", va="bottom", wrap=True)
    description = f"{SYNTHETIC_LABEL}: built from synthetic stand-in data" if synthetic else "built from published data"
    png = FigurePNG(_png(figure, {"Title": title, "Description": description}))
    png.data = data.frame()
    return png


def _png(figure, text: dict[str, str]) -> bytes:
    """The figure drawn once on its Agg canvas, as an opaque RGB PNG with ``text`` chunks.  Lossless, like
    savefig's, but written with fast zlib compression (level 1): a third of the time of savefig's RGBA level 6 and
    smaller files, since the figures are opaque."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    figure.canvas.draw()
    image = Image.frombuffer("RGBA", figure.canvas.get_width_height(), figure.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    info = PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="png", pnginfo=info, compress_level=1, dpi=(DPI, DPI))
    return buffer.getvalue()


def _style():
    import matplotlib

    return matplotlib.rc_context(STYLE)


def _year_axis(ax, years: Sequence[int], every: int = 1) -> None:
    years = sorted(int(y) for y in years)
    ticks = years[::every]
    ax.set_xticks(ticks)
    ax.set_xticklabels([year_label(y) for y in ticks], rotation=45, ha="right")
    if years:
        ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)


def _start_line(ax, first_post_year: int | None, label: bool = True) -> None:
    if first_post_year is None:
        return
    x = int(first_post_year) - 0.5
    ax.axvline(x, color=COLOURS["start"], linestyle=":", linewidth=1.5, zorder=1)
    if label:
        ax.annotate(f"programme start\n({year_label(first_post_year)})", xy=(x, 1), xycoords=("data", "axes fraction"),
                    xytext=(4, -4), textcoords="offset points", ha="left", va="top", fontsize=8,
                    color=COLOURS["start"], bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none"})


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=10, color="#555555",
            wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def _panel_order(frame: pd.DataFrame, outcomes: Sequence[str] | None) -> list[str]:
    """One panel per outcome: in the order given (those present), else in order of appearance."""
    present = list(dict.fromkeys(frame["outcome"])) if len(frame) else []
    if outcomes is None:
        return present
    return [o for o in outcomes if o in present] + [o for o in present if o not in outcomes]


def _short(outcome: str) -> str:
    return measures.short(outcome).replace("_", " ")


def _outcome_label(outcome: str) -> str:
    return measures.title(outcome).replace("_", " ")


def _unit(outcome: str) -> str:
    """The outcome's unit, from the measure registry."""
    return measures.unit(outcome)


# --------------------------------------------------------------------------- public data


def outcome_trends(
    rates: pd.DataFrame,
    outcome: str,
    *,
    treated_code: str,
    comparator_code: str | None,
    first_post_year: int | None,
    neighbour_code: str | None = None,
    england_code: str = ENGLAND_CODE,
    study_years: Sequence[int] | None = None,
    synthetic: bool | None = None,
) -> bytes:
    """Yearly rate of one outcome for the treated authority, its comparator, the
    nearest neighbour and England, with the programme's start (report Figures 7-9).

    `rates`: unit_code, unit_name, collection_year and the `outcome` column
    (one row per unit and year). The study window, when given, is shaded.
    """
    series = [
        (treated_code, "treated", "o", "-"),
        (comparator_code, "comparator", "s", "-"),
        (neighbour_code, "neighbour", "^", "-"),
        (england_code, "england", None, "--"),
    ]
    data = _Data()
    with _style():
        figure, (ax,) = _figure(left=0.68)
        drawn_years: set[int] = set()
        seen: set[str] = set()
        for code, role, marker, linestyle in series:
            if code is None or code in seen:
                continue
            seen.add(code)
            rows = rates[(rates["unit_code"] == code) & rates[outcome].notna()].sort_values("collection_year")
            if rows.empty:
                continue
            name = rows["unit_name"].dropna().iloc[-1] if rows["unit_name"].notna().any() else code
            suffix = {"treated": " (treated)", "comparator": " (comparator)", "neighbour": " (nearest neighbour)"}
            ax.plot(rows["collection_year"], rows[outcome], color=COLOURS[role], marker=marker, linestyle=linestyle,
                    label=f"{name}{suffix.get(role, '')}", zorder=3)
            data.years(rows["collection_year"], rows[outcome], panel=_outcome_label(outcome), outcome=outcome,
                       series=f"{name}{suffix.get(role, '')}", statistic="rate", unit=_unit(outcome))
            drawn_years.update(int(y) for y in rows["collection_year"])
        if not drawn_years:
            _empty(ax, f"no {outcome} rates for these authorities")
        else:
            if study_years:
                ax.axvspan(min(study_years) - 0.5, max(study_years) + 0.5, color="#f2f2f2", zorder=0)
            _year_axis(ax, sorted(drawn_years))
            _start_line(ax, first_post_year)
            ax.set_ylabel(_unit(outcome))
            ax.set_ylim(0, ax.get_ylim()[1] * 1.12)
            ax.legend(loc="lower left", ncols=2)
        note = "Shaded: the study's pre- and post-period." if study_years else None
        return _render(figure, _outcome_label(outcome), bool(synthetic) or is_synthetic(rates), data, note)


def cin_treated_vs_england(
    rates: pd.DataFrame,
    *,
    treated_code: str,
    first_post_year: int | None = None,
    measure: str = "cin_per_10k_children",
    england_code: str = ENGLAND_CODE,
    synthetic: bool | None = None,
) -> bytes:
    """Children in need at 31 March per 10,000 children, treated authority vs England (report Figure 14).

    `rates`: unit_code, unit_name, collection_year and `measure`.
    """
    data = _Data()
    with _style():
        figure, (ax,) = _figure(left=0.85)
        years: set[int] = set()
        lines = ((treated_code, "treated", "o", "-"), (england_code, "england", None, "--"))
        for code, role, marker, linestyle in lines:
            rows = rates[(rates["unit_code"] == code) & rates[measure].notna()].sort_values("collection_year")
            if rows.empty:
                continue
            name = rows["unit_name"].dropna().iloc[-1] if rows["unit_name"].notna().any() else code
            ax.plot(rows["collection_year"], rows[measure], color=COLOURS[role], marker=marker, linestyle=linestyle,
                    label=name, zorder=3)
            data.years(rows["collection_year"], rows[measure], panel=measures.title(measure), outcome=measure,
                       series=name, statistic="rate", unit=_unit(measure))
            years.update(int(y) for y in rows["collection_year"])
        if not years:
            _empty(ax, f"no {measure} for these areas")
        else:
            _year_axis(ax, sorted(years))
            _start_line(ax, first_post_year)
            ax.set_ylabel(f"{measures.short(measure).lower()}\n{_unit(measure)}")
            ax.set_ylim(0, ax.get_ylim()[1] * 1.12)
            ax.legend(loc="lower left")
        return _render(figure, f"{measures.short(measure)}: treated authority and England",
                       bool(synthetic) or is_synthetic(rates), data)


def event_study(events: pd.DataFrame, *, first_post_year: int | None = None, outcomes: Sequence[str] | None = None,
                synthetic: bool | None = None) -> bytes:
    """Year-by-year treated-minus-comparator effects relative to the last pre year,
    with placebo-based 95% intervals, one panel per outcome.

    `events`: outcome, covariate_adjusted, collection_year, estimate, ci_low, ci_high.
    """
    outcomes = _panel_order(events, outcomes)
    data = _Data()
    with _style():
        figure, axes = _figure(1, max(len(outcomes), 1), width=4.2 * max(len(outcomes), 1), height=4.4,
                               left=0.75, top=0.5, gap=0.85)
        if not outcomes:
            _empty(axes[0], "no event-study rows")
        for ax, outcome in zip(axes, outcomes):
            rows = events[events["outcome"] == outcome]
            variants = sorted(rows["covariate_adjusted"].dropna().unique()) if "covariate_adjusted" in rows else [False]
            for index, adjusted in enumerate(variants):
                part = rows[rows["covariate_adjusted"] == adjusted].sort_values("collection_year")
                offset = (index - (len(variants) - 1) / 2) * 0.18
                low = (part["estimate"] - part["ci_low"]).clip(lower=0).fillna(0)
                high = (part["ci_high"] - part["estimate"]).clip(lower=0).fillna(0)
                ax.errorbar(part["collection_year"] + offset, part["estimate"], yerr=[low, high],
                            fmt="o" if adjusted else "s",
                            color=COLOURS["treated"] if adjusted else COLOURS["comparator"],
                            mfc="white" if not adjusted else None, capsize=3, linewidth=1.2,
                            label="CIN-adjusted" if adjusted else "unadjusted")
                for statistic in ("estimate", "ci_low", "ci_high"):
                    data.years(part["collection_year"], part[statistic], panel=_short(outcome), outcome=outcome,
                               series="CIN-adjusted" if adjusted else "unadjusted", statistic=statistic,
                               unit=f"effect, {_unit(outcome)}")
            ax.axhline(0, color=COLOURS["england"], linewidth=0.8)
            _year_axis(ax, rows["collection_year"].unique())
            _start_line(ax, first_post_year, label=False)
            ax.set_title(_short(outcome), loc="left")
            ax.set_ylabel(f"effect, {_unit(outcome)}")
        if outcomes:
            axes[0].legend(loc="best")
        return _render(figure, "Event study: treated minus comparator, relative to the last pre-period year",
                       bool(synthetic) or is_synthetic(events), data,
                       "Bars: 95% intervals from placebo authorities; dotted line: programme start.")


def placebo_distribution(placebos: pd.DataFrame, *, p_values: dict[str, float] | None = None,
                         outcomes: Sequence[str] | None = None, synthetic: bool | None = None) -> bytes:
    """Placebo-in-space estimates of every other eligible authority, with the
    treated authority's estimate marked, one panel per outcome.

    `placebos`: outcome, role ('treated' / 'placebo'), estimate. `p_values`
    maps outcome to the permutation p-value printed on its panel.
    """
    outcomes = _panel_order(placebos, outcomes)
    data = _Data()
    with _style():
        figure, axes = _figure(1, max(len(outcomes), 1), width=4.2 * max(len(outcomes), 1), height=4.2,
                               right=0.15, bottom=0.5, top=0.5, gap=0.72)
        if not outcomes:
            _empty(axes[0], "no placebo estimates")
        for ax, outcome in zip(axes, outcomes):
            rows = placebos[(placebos["outcome"] == outcome) & placebos["estimate"].notna()]
            others = rows.loc[rows["role"] != "treated", "estimate"].to_numpy(float)
            treated = rows.loc[rows["role"] == "treated", "estimate"].to_numpy(float)
            axis = f"DiD estimate, {_unit(outcome)}"
            if others.size:
                bins = min(30, max(8, int(np.sqrt(others.size)) * 2))
                counts, edges, _ = ax.hist(others, bins=bins, color=COLOURS["placebo"], edgecolor="white",
                                           label=f"placebo authorities (n={others.size})")
                for count, low, high in zip(counts, edges[:-1], edges[1:]):
                    data.add(panel=_short(outcome), outcome=outcome, series=f"placebo authorities (n={others.size})",
                             statistic="authorities in the bin", x=(low + high) / 2,
                             x_label=f"{low:.2f} to {high:.2f}", x_axis=axis, value=count, unit="authorities")
            for value in treated:
                ax.axvline(value, color=COLOURS["treated"], linewidth=2.5, label=f"treated: {value:.1f}")
                data.add(panel=_short(outcome), outcome=outcome, series="treated authority", statistic="estimate",
                         x=value, x_label="treated authority", x_axis=axis, value=value, unit=_unit(outcome))
            ax.axvline(0, color=COLOURS["england"], linewidth=0.8)
            title = _short(outcome)
            if p_values and p_values.get(outcome) is not None and not pd.isna(p_values.get(outcome)):
                title += f"  (permutation p = {p_values[outcome]:.2f})"
                data.add(panel=_short(outcome), outcome=outcome, series="treated authority",
                         statistic="permutation p-value", x=None, x_axis=axis, value=p_values[outcome],
                         unit="probability")
            ax.set_title(title, loc="left")
            ax.set_xlabel(axis)
            ax.set_ylabel("authorities")
            ax.set_ylim(0, ax.get_ylim()[1] * 1.25)
            ax.legend(loc="upper left")
        return _render(figure, "Placebo-in-space: the treated estimate among placebo authorities",
                       bool(synthetic) or is_synthetic(placebos), data)


def specification_curve(curve: pd.DataFrame, *, outcomes: Sequence[str] | None = None,
                        synthetic: bool | None = None) -> bytes:
    """The report's DiD against every eligible comparator, sorted, one panel per
    outcome, the chosen comparator's estimate marked and the median drawn.

    `curve`: outcome, curve_position, estimate, selected (marts.did_comparator_robustness).
    """
    outcomes = _panel_order(curve, outcomes)
    data = _Data()
    with _style():
        figure, axes = _figure(1, max(len(outcomes), 1), width=4.2 * max(len(outcomes), 1), height=4.2,
                               right=0.12, bottom=0.5, top=0.5, gap=0.85)
        if not outcomes:
            _empty(axes[0], "no specification curve")
        for ax, outcome in zip(axes, outcomes):
            rows = curve[(curve["outcome"] == outcome) & curve["estimate"].notna()].sort_values("curve_position")
            axis, unit = "comparators, ordered by estimate", _unit(outcome)
            ax.plot(rows["curve_position"], rows["estimate"], linestyle="none", marker="o", markersize=3,
                    color=COLOURS["placebo"], label=f"every eligible comparator (n={len(rows)})")
            names = rows["unit_name"] if "unit_name" in rows else rows["curve_position"].astype(str)
            for position, name, estimate, chosen_one in zip(rows["curve_position"], names, rows["estimate"],
                                                           rows["selected"].astype(bool)):
                data.add(panel=_short(outcome), outcome=outcome, series="chosen comparator" if chosen_one else
                         "eligible comparator", statistic="DiD estimate", x=position, x_label=name, x_axis=axis,
                         value=estimate, unit=unit)
            chosen = rows[rows["selected"].astype(bool)]
            ax.plot(chosen["curve_position"], chosen["estimate"], linestyle="none", marker="o", markersize=8,
                    color=COLOURS["treated"], zorder=3,
                    label=f"chosen: {chosen['estimate'].iloc[0]:.1f}" if len(chosen) else "chosen")
            if len(rows):
                ax.axhline(float(rows["estimate"].median()), color=COLOURS["comparator"], linestyle="--",
                           linewidth=1.2, label=f"median: {rows['estimate'].median():.1f}")
                data.add(panel=_short(outcome), outcome=outcome, series="every eligible comparator",
                         statistic="median", x=None, x_axis=axis, value=rows["estimate"].median(), unit=unit)
            ax.axhline(0, color=COLOURS["england"], linewidth=0.8)
            ax.set_title(_short(outcome), loc="left")
            ax.set_xlabel(axis)
            ax.set_ylabel(f"DiD estimate, {unit}")
            ax.legend(loc="upper left")
        return _render(figure, "Specification curve: the DiD against every eligible comparator",
                       bool(synthetic) or is_synthetic(curve), data)


def synthetic_control_path(paths: pd.DataFrame, *, first_post_year: int | None = None,
                           outcomes: Sequence[str] | None = None, synthetic: bool | None = None) -> bytes:
    """Treated authority and its synthetic control, year by year, one panel per outcome.

    `paths`: outcome, collection_year, treated_value, synthetic_value.
    """
    outcomes = _panel_order(paths, outcomes)
    data = _Data()
    with _style():
        figure, axes = _figure(1, max(len(outcomes), 1), width=4.2 * max(len(outcomes), 1), height=4.2,
                               left=0.65, bottom=0.66, top=0.5, gap=0.62)
        if not outcomes:
            _empty(axes[0], "no synthetic-control paths")
        for ax, outcome in zip(axes, outcomes):
            rows = paths[paths["outcome"] == outcome].sort_values("collection_year")
            ax.plot(rows["collection_year"], rows["treated_value"], color=COLOURS["treated"], marker="o",
                    label="treated authority")
            ax.plot(rows["collection_year"], rows["synthetic_value"], color=COLOURS["comparator"], linestyle="--",
                    marker="s", mfc="white", label="synthetic control")
            for column, series in (("treated_value", "treated authority"), ("synthetic_value", "synthetic control")):
                data.years(rows["collection_year"], rows[column], panel=_short(outcome), outcome=outcome,
                           series=series, statistic="rate", unit=_unit(outcome))
            _year_axis(ax, rows["collection_year"].unique())
            _start_line(ax, first_post_year, label=False)
            ax.set_ylim(bottom=0)
            ax.set_title(_short(outcome), loc="left")
            ax.set_ylabel(_unit(outcome))
        if outcomes:
            axes[0].legend(loc="lower left")
        return _render(figure, "Synthetic control: treated authority vs weighted mix of authorities",
                       bool(synthetic) or is_synthetic(paths), data, "Dotted line: programme start.")


# --------------------------------------------------------------------------- casework (RCT, risk, service)


def rct_probabilities(results: pd.DataFrame, *, analysis: str = "itt", synthetic: bool | None = None) -> bytes:
    """The control group's observed rate beside its estimated rate had it been
    treated, with the 95% interval, per outcome (RR1067 Figures 2-3).

    `results`: analysis, outcome, status, control_rate_observed,
    control_rate_if_treated, control_rate_if_treated_ci_low,
    control_rate_if_treated_ci_high, p_value, stars, n_cases, note,
    data_origin, and the arms' names (treated_arm, control_arm). An outcome
    with too few events to model is shown as such, with no bars.
    """
    rows = results[results["analysis"] == analysis] if "analysis" in results else results
    data, axis, panel = _Data(), "RCT outcome", f"Analysis: {analysis_label(analysis)}"
    if "subgroup" in rows:
        rows = rows[rows["subgroup"] == "all"]
    treated = str(rows["treated_arm"].iloc[0]) if "treated_arm" in rows and len(rows) else "treated"
    control = str(rows["control_arm"].iloc[0]) if "control_arm" in rows and len(rows) else "control"
    with _style():
        figure, (ax,) = _figure(width=8.0, height=4.8, left=0.75, right=0.77, bottom=0.62)
        if rows.empty:
            _empty(ax, f"no trial results for analysis {analysis!r}")
        width = 0.36
        for index, row in enumerate(rows.itertuples()):
            if row.status != "estimated":
                ax.text(index, 0.5, "too few events\nto model" if row.status == "too_few_events" else str(row.status),
                        ha="center", va="center", fontsize=9, color="#555555",
                        bbox={"boxstyle": "round", "fc": "#f4f4f4", "ec": "#bbbbbb"})
                continue
            observed = ax.bar(index - width / 2, row.control_rate_observed, width, color=COLOURS["comparator"],
                              label=f"{control} (control): observed" if index == 0 else None)
            low = row.control_rate_if_treated - row.control_rate_if_treated_ci_low
            high = row.control_rate_if_treated_ci_high - row.control_rate_if_treated
            ax.bar(index + width / 2, row.control_rate_if_treated, width, color=COLOURS["treated"],
                   yerr=[[max(low, 0)], [max(high, 0)]], capsize=5,
                   label=f"{control} had it received {treated} (95% CI)" if index == 0 else None)
            if not pd.isna(row.control_rate_observed):
                ax.bar_label(observed, labels=[f"{row.control_rate_observed:.0%}"], padding=2, fontsize=9)
            for series, statistic, value in (
                    (f"{control} (control): observed", "probability", row.control_rate_observed),
                    (f"{control} had it received {treated}", "probability", row.control_rate_if_treated),
                    (f"{control} had it received {treated}", "ci_low", row.control_rate_if_treated_ci_low),
                    (f"{control} had it received {treated}", "ci_high", row.control_rate_if_treated_ci_high),
                    (f"{treated} vs {control}", "p-value", row.p_value)):
                data.add(panel=panel, series=series, statistic=statistic, x=index,
                         x_label=rct_outcome_label(row.outcome), x_axis=axis, value=value, unit="probability")
            ax.text(index + width / 2, row.control_rate_if_treated_ci_high + 0.015,
                    f"{row.control_rate_if_treated:.0%}{row.stars or ''}", ha="center", va="bottom", fontsize=9)
            p_text = "" if pd.isna(row.p_value) else f"p = {row.p_value:.2f}"
            ax.text(index, -0.12, p_text, ha="center", va="top", fontsize=8, color="#555555",
                    transform=ax.get_xaxis_transform())
        labels = [f"{rct_outcome_label(o)}\n(n = {_count(n)})"
                  for o, n in zip(rows["outcome"], rows["n_cases"])]
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(labels)
        ax.set_ylim(0, 1.12)
        ax.yaxis.set_major_formatter(_percent())
        ax.set_ylabel("probability by the end of follow-up")
        ax.legend(loc="upper right")
        return _render(figure, f"Trial: the {control} group, observed and had it received {treated}",
                       bool(synthetic) or is_synthetic(results), data,
                       "Logistic regression with the trial's covariates (female, under 11 at referral and previous "
                       "CIN history for FACT22); * p<0.05, ** p<0.01.")


def risk_scores(by_arm: pd.DataFrame, *, synthetic: bool | None = None) -> bytes:
    """Mean total, protective-factor and risk-factor scores by arm over the three
    coding points (report Figures 4-6); higher means less risk.

    `by_arm`: arm, time_point, n_cases, mean_total_score, mean_protective_score,
    mean_risk_score, data_origin.
    """
    # the trial's coding points in the order its marts list them (data/trials.yaml)
    time_points = list(dict.fromkeys(by_arm["time_point"]))
    data = _Data()
    with _style():
        figure, axes = _figure(1, len(RISK_SCORES), width=11.0, height=4.4, left=0.58, bottom=0.74, top=0.5,
                               gap=0.65)
        counts = by_arm.pivot_table(index="time_point", columns="arm", values="n_cases", aggfunc="sum", sort=False)
        ticks = [_tick(time_point_label(t)) + "\n" + ",\n".join(
            f"{arm} {int(n)}" for arm, n in counts.loc[t].items() if not pd.isna(n)) if t in counts.index
            else _tick(time_point_label(t)) for t in time_points]
        # an arm's colour by its role in its trial (the marts name each trial's treated and control arms)
        treated = set(by_arm["treated_arm"]) if "treated_arm" in by_arm else set()
        control = set(by_arm["control_arm"]) if "control_arm" in by_arm else set()
        colour = {arm: COLOURS["treated"] if arm in treated else COLOURS["comparator"] if arm in control
                  else COLOURS["placebo"] for arm in by_arm["arm"].unique()}
        for ax, (column, title) in zip(axes, RISK_SCORES.items()):
            for arm, rows in by_arm.groupby("arm", sort=False):
                rows = rows.set_index("time_point").reindex(time_points)
                ax.plot(np.arange(len(time_points)), rows[column], marker="o",
                        color=colour[arm], label=arm)
                for at, point in enumerate(time_points):
                    data.add(panel=title, series=arm, statistic="mean score", x=at, x_label=time_point_label(point),
                             x_axis="coding point", value=rows.loc[point, column], unit="score (higher = less risk)")
            ax.set_xticks(range(len(time_points)))
            ax.set_xticklabels(ticks, fontsize=8)
            ax.set_xlim(-0.4, len(time_points) - 0.6)
            ax.axhline(0, color=COLOURS["england"], linewidth=0.6)
            ax.set_title(title, loc="left")
            ax.set_ylabel("mean score (higher = less risk)")
        axes[0].legend(loc="best")
        return _render(figure, "Risk analysis: mean scores by arm at each coding point",
                       bool(synthetic) or is_synthetic(by_arm), data, "Cases coded at each point by arm under the axis.")


def service_case_length(by_year: pd.DataFrame, *, synthetic: bool | None = None) -> bytes:
    """Average days to close a case by year the case started (report Figure 1).

    `by_year`: start_year, n_closed, mean_days_to_close, n_open, data_origin.
    Years with cases still open are hatched: their average is biased short.
    """
    rows = by_year.sort_values("start_year")
    data = _Data()
    with _style():
        figure, (ax,) = _figure(width=7.5, height=4.4, left=0.65, right=0.37, bottom=0.52)
        if rows.empty:
            _empty(ax, "no service cases")
        for row in rows.itertuples():
            if pd.isna(row.mean_days_to_close):
                ax.text(row.start_year, 5, "none closed", ha="center", va="bottom", fontsize=8, color="#555555")
                continue
            open_cases = getattr(row, "n_open", 0)
            still_open = pd.isna(open_cases) or open_cases > 0  # a withheld count is 1 to 5
            bar = ax.bar(row.start_year, row.mean_days_to_close, 0.7, color=COLOURS["treated"],
                         hatch="//" if still_open else None, edgecolor="white")
            data.add(panel="Closed cases", series="cases started that year" + (", some still open" if still_open
                                                                              else ""),
                     statistic="mean days to close", x=row.start_year, x_label=str(int(row.start_year)),
                     x_axis="year the case started", value=row.mean_days_to_close, unit="days")
            label = f"{row.mean_days_to_close:.0f} days\n(n={_count(row.n_closed)}"
            label += f", {_count(open_cases)} open)" if still_open else ")"
            ax.bar_label(bar, labels=[label], padding=2, fontsize=8)
        if len(rows):
            ax.set_xticks(rows["start_year"].astype(int).tolist())
            ax.set_ylim(0, float(np.nanmax(rows["mean_days_to_close"].to_numpy(float), initial=0)) * 1.25 + 1)
        ax.set_xlabel("year the case started")
        ax.set_ylabel("mean days from start to closure")
        return _render(figure, "Service: average length of closed cases by start year",
                       bool(synthetic) or is_synthetic(by_year), data,
                       "Hatched: cases that started that year are still open, so the average is biased short.")


def _count(value) -> str:
    """A count for a label; published casework counts of 1 to 5 are withheld (NULL)."""
    return "withheld" if pd.isna(value) else f"{int(value):,}"


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)
