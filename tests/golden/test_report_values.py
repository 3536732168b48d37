"""Every number in the evaluation report's DiD and inference tables equals its
mart value after the report's rounding, matched by the column's header text.

The report (outputs/evaluation_report.html, written by the session's build)
is parsed with the standard library's html.parser. Each table is found by its
``data-table`` attribute; each header names the mart column it must show, so a
standard error printed under "Estimate", or the classical p-value under
"Placebo-in-space p", fails here.
"""
from __future__ import annotations

import math
import os
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from fact22_assets.core import measures
from fact22_assets.core.report import METHOD_LABELS

STUDY_ID = "fact22_cheshire_east"
DASH = "\u2013"  # the report prints a missing value as an en dash


# --------------------------------------------------------------------------- formatting (the report's rounding)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def num(value, digits: int = 2) -> str:
    return DASH if _missing(value) else f"{float(value):,.{digits}f}"


def pval(value) -> str:
    if _missing(value):
        return DASH
    return "<0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def integer(value) -> str:
    return DASH if _missing(value) else f"{int(value):,}"


def year_label(value) -> str:
    return DASH if _missing(value) else f"{int(value) - 1}-{int(value) % 100:02d}"


def ci(low: str, high: str):
    def fmt(row) -> str:
        if _missing(row[low]) or _missing(row[high]):
            return DASH
        return f"{num(row[low])} to {num(row[high])}"
    return fmt


def percent(value) -> str:
    return DASH if _missing(value) else f"{float(value) * 100:.0f}%"


def yes_no(value) -> str:
    return "yes" if value is True or value == 1 else "no"


def text(value) -> str:
    return DASH if _missing(value) else str(value)


def col(column: str, fmt):
    return lambda row: fmt(row[column])


# Header text -> how the mart row gives that cell. Label columns identify rows.
LABELS = {
    "Outcome": col("outcome", measures.label),
    "Comparator": col("comparator_name", text),
    "Method": col("method", lambda m: METHOD_LABELS.get(m, m)),
    "Vintage": col("vintage", text),
    "Fake start": col("fake_first_post_year", year_label),
    "Pre-year left out": col("left_out_year", year_label),
}
NUMBERS = {
    "did_results": {
        "Estimate": col("estimate", num), "SE (classical)": col("se_classical", num),
        "p (classical)": col("p_classical", pval), "95% CI (classical)": ci("ci_low_classical", "ci_high_classical"),
        "SE (HC1)": col("se_hc1", num), "p (HC1)": col("p_hc1", pval),
        # each method's own placebo test: for the report's specification, placebos re-selecting comparators
        "Placebo p (its own test)": col("own_placebo_p_value", pval),
        "N (unit-years)": col("n_obs", integer),
    },
    "did_means": {
        "Treated before": col("treated_pre_mean", num), "Treated after": col("treated_post_mean", num),
        "Comparator before": col("comparator_pre_mean", num), "Comparator after": col("comparator_post_mean", num),
        "(T after - T before) - (C after - C before)": col("estimate", num),
    },
    "inference": {
        "DiD estimate": col("estimate", num), "p (classical)": col("p_classical", pval),
        "p (HC1)": col("p_hc1", pval), "Placebo p, comparator fixed": col("permutation_p_value", pval),
        "Placebo p, comparators re-selected (headline)": col("reselected_p_value", pval),
        "Placebos": col("n_placebos", integer),
        "Synthetic-control gap": col("sc_estimate", num), "SC p (RMSPE ratio)": col("sc_permutation_p_value", pval),
        "SC p (post RMSPE, comparable fits)": col("sc_post_rmspe_p_value", pval),
        "SC pre-period RMSPE": col("sc_pre_rmspe", num),
    },
    "did_placebo_time": {
        "Estimate": col("estimate", num), "p (classical)": col("p_classical", pval), "N": col("n_obs", integer),
    },
    "did_results_by_vintage": {
        "Estimate": col("estimate", num), "p (classical)": col("p_classical", pval),
        "Placebo p, comparator fixed": col("permutation_p_value", pval),
    },
    "robustness": {
        "Report's DiD (chosen comparator)": col("chosen_estimate", num),
        "Placebo p (each placebo picks its own comparator)": col("reselected_p_value", pval),
        "Placebo p (comparator fixed)": col("fixed_comparator_p_value", pval),
        "Chosen at percentile": col("chosen_percentile", percent),
        "Median over all comparators": col("median", num), "Interquartile range": ci("q25", "q75"),
        "Share negative": col("share_negative", percent), "Comparators": col("n_comparators", integer),
    },
    "whole_pool": {
        "Synthetic DiD": col("sdid_estimate", num), "SE (placebo)": col("sdid_se_placebo", num),
        "p (SDID)": col("sdid_permutation_p_value", pval), "Penalised SC": col("penalised_estimate", num),
        "Two-way FE": col("twfe_estimate", num), "Plain SC: range over best fits": ci("post_gap_low", "post_gap_high"),
    },
    "comparator_stability": {
        "Comparator picked": col("comparator_name", text), "Same as with every year": col("same_as_full", yes_no),
        "Its estimate (full design)": col("estimate", num),
    },
}
KEYS = {  # the label headers that identify a row of each table
    "did_results": ("Outcome", "Method"),
    "did_means": ("Outcome",),
    "inference": ("Outcome",),
    "did_placebo_time": ("Outcome", "Fake start"),
    "did_results_by_vintage": ("Outcome", "Vintage"),
    "robustness": ("Outcome",),
    "whole_pool": ("Outcome",),
    "comparator_stability": ("Outcome", "Pre-year left out"),
}


class _Tables(HTMLParser):
    """data-table name -> (headers, rows of cell texts)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, tuple[list[str], list[list[str]]]] = {}
        self._name = None
        self._cell = None
        self._row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "data-table" in attrs:
            self._name = attrs["data-table"]
            self.tables[self._name] = ([], [])
        elif self._name and tag == "tr":
            self._row = []
        elif self._name and tag in ("th", "td"):
            self._cell = []

    def handle_endtag(self, tag):
        if not self._name:
            return
        if tag in ("th", "td") and self._cell is not None:
            content = " ".join("".join(self._cell).split())
            headers = self.tables[self._name][0]
            (headers if tag == "th" else self._row).append(content)
            self._cell = None
        elif tag == "tr" and self._row:
            self.tables[self._name][1].append(self._row)
            self._row = None
        elif tag == "table":
            self._name = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse_tables(text: str, names) -> dict[str, pd.DataFrame]:
    parser = _Tables()
    parser.feed(text)
    return {name: pd.DataFrame(rows, columns=headers)
            for name, (headers, rows) in parser.tables.items() if name in names}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def report_tables(built_warehouse) -> dict[str, pd.DataFrame]:
    outputs = Path(os.environ.get("FACT22_OUTPUTS", built_warehouse.parent / "outputs"))
    return parse_tables((outputs / "evaluation_report.html").read_text(encoding="utf-8"), NUMBERS)


@pytest.fixture(scope="module")
def marts(built_warehouse) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(built_warehouse), read_only=True)
    vintage = con.execute(  # the latest vintage that estimated the study, as the report says
        "SELECT r.vintage FROM marts.did_runs AS r JOIN (SELECT DISTINCT vintage, vintage_rank "
        "FROM marts.cin_rates_vintages) AS v USING (vintage) WHERE r.study_id = $s AND r.status = 'estimated' "
        "ORDER BY v.vintage_rank DESC LIMIT 1", {"s": STUDY_ID}).fetchone()[0]
    params = {"s": STUDY_ID, "v": vintage}
    did = con.execute("SELECT * FROM marts.did_results WHERE study_id = $s AND vintage = $v", params).df()
    time = con.execute("SELECT * FROM marts.did_placebo_time WHERE study_id = $s AND vintage = $v", params).df()
    by_vintage = con.execute("SELECT * FROM marts.did_results WHERE study_id = $s", {"s": STUDY_ID}).df()
    summary = con.execute("SELECT * FROM marts.did_comparator_robustness_summary WHERE study_id = $s AND vintage = $v",
                          params).df()
    bounds = con.execute("SELECT outcome, post_gap_low, post_gap_high FROM marts.synthetic_control_identification "
                         "WHERE study_id = $s AND vintage = $v", params).df()
    stability = con.execute("SELECT * FROM marts.did_comparator_stability WHERE study_id = $s AND vintage = $v",
                            params).df()
    placebo = con.execute("SELECT outcome, reselected_p_value, fixed_comparator_p_value FROM marts.did_inference "
                          "WHERE study_id = $s AND vintage = $v", params).df()
    con.close()
    robustness = summary.merge(bounds, on="outcome", how="left").merge(placebo, on="outcome", how="left")
    for method, prefix in (("synthetic_did", "sdid_"), ("penalised_synthetic_control", "penalised_"),
                           ("twfe_all_donors", "twfe_")):
        rows = did.loc[did["method"] == method, ["outcome", "estimate", "se_placebo", "permutation_p_value"]]
        robustness = robustness.merge(rows.set_index("outcome").add_prefix(prefix), left_on="outcome",
                                      right_index=True, how="left")
    main_method = "ols_with_covariate" if (did["method"] == "ols_with_covariate").any() else "ols"
    reselected = dict(zip(placebo["outcome"], placebo["reselected_p_value"]))
    did = did.assign(own_placebo_p_value=[reselected.get(o) if m == main_method else p for o, m, p in
                                          zip(did["outcome"], did["method"], did["permutation_p_value"])])
    main = did[did["method"] == main_method].set_index("outcome")
    main = main.assign(reselected_p_value=main.index.map(reselected))
    synthetic = did[did["method"] == "synthetic_control"].set_index("outcome")
    inference = main.join(synthetic[["estimate", "permutation_p_value", "post_rmspe_p_value", "pre_rmspe"]]
                          .add_prefix("sc_"), how="left").reset_index()
    return {
        "did_results": did,
        "did_means": did[did["method"] == "difference_of_means"],
        "inference": inference,
        "did_placebo_time": time[time["method"] == main_method] if "method" in time else time,
        "did_results_by_vintage": by_vintage[by_vintage["method"] == main_method],
        "robustness": robustness,
        "whole_pool": robustness,
        "comparator_stability": stability,
    }


# --------------------------------------------------------------------------- tests


def test_parser_finds_the_tables(report_tables):
    assert set(NUMBERS) <= set(report_tables)


@pytest.mark.parametrize("name", list(NUMBERS))
def test_every_header_is_known(name, report_tables):
    """A new or renamed column must be added here, so nothing escapes the check."""
    headers = list(report_tables[name].columns)
    assert set(headers) == set(NUMBERS[name]) | (set(headers) & set(LABELS)), headers
    assert set(NUMBERS[name]) <= set(headers)


@pytest.mark.parametrize("name", list(NUMBERS))
def test_every_number_equals_its_mart_value(name, report_tables, marts):
    shown, expected = report_tables[name], marts[name]
    assert len(shown) == len(expected) > 0
    keys = KEYS[name]
    index = {tuple(LABELS[k](row) for k in keys): row for _, row in expected.iterrows()}
    assert len(index) == len(expected), f"{keys} do not identify a row of {name}"
    checked = 0
    for _, cells in shown.iterrows():
        key = tuple(cells[k] for k in keys)
        assert key in index, f"{name}: row {key} is not in the mart"
        row = index[key]
        for header in shown.columns:
            fmt = NUMBERS[name].get(header) or LABELS[header]
            assert cells[header] == fmt(row), f"{name} {key} '{header}': report {cells[header]!r}, mart {fmt(row)!r}"
            checked += 1
    assert checked >= len(shown) * len(NUMBERS[name])
