"""The authority explorer: one self-contained HTML page (no network, no charting library: the chart is a
small SVG the page draws itself) where a reader picks an authority and a measure and sees its series beside
each of its DfE statistical neighbours, their average, its region and England, with LAIT's rank and band,
the data table beside the chart and a CSV download.

Pure: ``explorer_data`` shapes marts.la_benchmarks (and the neighbour lists) into compact JSON, arrays
aligned by year, and ``explorer_html`` writes the page around it, its script and style from explorer.js and
explorer.css beside this module.  The neighbours' average the page shows is
the mean of their values under the model in force each year, as the mart's ``sn_average`` is (its check
holds it to that).
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .lait import MODEL_YEARS, SN_MODEL_2025_FROM
from .presentation import year_label

DEFAULT_AUTHORITY = "Cheshire East"
DEFAULT_MEASURE = "cin_per_10k_children"
BASIS_CODES = {"published": "p", "rebased": "r", "counts": "c"}  # one character per year in the page


def _rounded(array: np.ndarray) -> list:
    """Floats to 4 decimals, NaN to None (JSON null), as (nested) lists."""
    out = np.round(array, 4).astype(object)
    out[np.isnan(array)] = None
    return out.tolist()


def explorer_data(benchmarks: pd.DataFrame, neighbours: pd.DataFrame) -> dict:
    """{years, year_labels, measures: [{name, label, unit, polarity}], authorities: [{name, code, region}],
    models: {model: {code: [neighbour codes by rank]}}, model_of_year: [...], values: {measure: {code: [...]}},
    basis, rank, band (per measure and authority), ranked: {measure: [...]}, england / regions: {measure: ...}}.

    ``neighbours``: model, old_la_code, neighbour_rank, neighbour_old_la_code (marts.statistical_neighbours)."""
    frame = benchmarks
    years = sorted(int(y) for y in frame["collection_year"].unique())
    year_at = {y: i for i, y in enumerate(years)}
    latest = frame.sort_values("collection_year", kind="stable").drop_duplicates("old_la_code", keep="last")
    authorities = sorted(({"name": r.la_name, "code": r.old_la_code, "region": r.region_code,
                           "region_name": r.region_name} for r in latest.itertuples()), key=lambda a: a["name"])
    codes = [a["code"] for a in authorities]
    code_at = {c: i for i, c in enumerate(codes)}
    measure_rows = frame.drop_duplicates("measure")
    measures = [{"name": r.measure, "label": r.measure_label, "unit": r.unit, "polarity": r.polarity}
                for r in measure_rows.itertuples()]
    shape = (len(measures), len(codes), len(years))
    m_at = {m["name"]: i for i, m in enumerate(measures)}
    index = (frame["measure"].map(m_at).to_numpy(), frame["old_la_code"].map(code_at).to_numpy(),
             frame["collection_year"].map(year_at).to_numpy())
    values, ranks = np.full(shape, np.nan), np.full(shape, np.nan)
    values[index] = frame["value"].to_numpy(float)
    ranks[index] = frame["national_rank"].astype("Float64").to_numpy(float, na_value=np.nan)
    basis, band = np.full(shape, " ", dtype="<U1"), np.full(shape, " ", dtype="<U1")
    basis[index] = frame["value_basis"].map(BASIS_CODES).fillna(" ").to_numpy(str)
    band[index] = frame["quartile_band"].where(frame["quartile_band"].isin(list("ABCD")), " ").to_numpy(str)
    values, ranks = _rounded(values), _rounded(ranks)
    per_year = frame.drop_duplicates(["measure", "collection_year"]).set_index(["measure", "collection_year"])
    regional = frame.dropna(subset=["region_code"]).drop_duplicates(["measure", "region_code", "collection_year"]) \
        .pivot(index=["measure", "region_code"], columns="collection_year", values="region_value") \
        .reindex(columns=years)
    out: dict = {"years": years, "year_labels": [year_label(v) for v in years], "measures": measures,
                 "authorities": authorities, "values": {}, "basis": {}, "rank": {}, "band": {}, "ranked": {},
                 "england": {}, "regions": {}}
    for i, m in enumerate(measures):
        name = m["name"]
        out["values"][name] = dict(zip(codes, values[i]))
        out["basis"][name] = {c: "".join(basis[i, a]) for a, c in enumerate(codes)}
        if m["polarity"] in ("Low", "High"):
            out["rank"][name] = dict(zip(codes, ranks[i]))
            out["band"][name] = {c: "".join(band[i, a]) for a, c in enumerate(codes)}
        mine = per_year.loc[name]
        out["ranked"][name] = [int(v) for v in mine["ranked_authorities"].reindex(years, fill_value=0)]
        out["england"][name] = _rounded(mine["england_value"].reindex(years).to_numpy(float))
        regions = regional.loc[name] if name in regional.index.get_level_values(0) else regional.iloc[0:0]
        out["regions"][name] = dict(zip(regions.index, _rounded(regions.to_numpy(float))))
    ordered = neighbours.sort_values(["model", "old_la_code", "neighbour_rank"])
    out["models"] = {model: {code: list(part["neighbour_old_la_code"]) for code, part in rows.groupby("old_la_code")}
                     for model, rows in ordered.groupby("model")}
    out["model_of_year"] = [next(m for m, (first, last) in MODEL_YEARS.items()
                                 if (first is None or v >= first) and (last is None or v <= last)) for v in years]
    return out


_HERE = Path(__file__).parent


def explorer_html(data: dict, built: str = "", source: str = "marts.la_benchmarks") -> str:
    """The page: controls, notes, chart, tables, CSV link; data and script inline."""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    script = ((_HERE / "explorer.js").read_text(encoding="utf-8")
              .replace("DEFAULT_AUTHORITY", json.dumps(DEFAULT_AUTHORITY))
              .replace("DEFAULT_MEASURE", json.dumps(DEFAULT_MEASURE)))
    style = (_HERE / "explorer.css").read_text(encoding="utf-8")
    change = year_label(SN_MODEL_2025_FROM)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Children in need: authority explorer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{style}</style>
</head><body>
<h1>Children in need: authority explorer</h1>
<p class="note">Pick an authority and a measure: its series beside each of its DfE statistical neighbours, their
average, its region and England. Source: <code>{html.escape(source)}</code>{(' built ' + html.escape(built)) if built
    else ''}. Works offline.</p>
<ul class="note" id="notes">
<li>Values are <strong>DfE's own published figures</strong> where DfE printed one (rates to 2021-22, re-referral
percentages to 2024-25), on the populations of their day; other years are the warehouse's rates on the latest
(Census-2021-rebased) population estimates. The table's <em>Basis</em> column says which; both are in
<code>marts.la_benchmarks</code> (<code>value_published</code>, <code>value_warehouse</code>).</li>
<li>Statistical neighbours: DfE's 2021 model up to 2021-22, its 2025 model from {change} (the dashed line); the
neighbours' average is the mean of the neighbours with a value that year.</li>
<li>Rank and band as DfE's LAIT gives them: only for a measure with a polarity (lower is better for re-referrals
and child protection plans started); rank 1 = best; band A = the best quarter of authorities with a value, by the
quartiles of their values. Other measures: "Not applicable".</li>
<li>Regional values are blank before 2012-13: the old releases publish no regional rows.</li>
</ul>
<div class="controls">
<label>Authority <select id="authority" aria-label="Authority"></select></label>
<label>Measure <select id="measure" aria-label="Measure"></select></label>
<label class="inline"><input type="checkbox" id="each-neighbour" checked> each neighbour</label>
<a id="download" href="#" download="benchmarks.csv">Download this table (CSV)</a>
</div>
<div id="summary"></div>
<div class="layout">
<div id="chart"></div>
<div class="side"><table id="data-table"><thead><tr><th>Year</th><th>Authority</th><th>Basis</th><th>Neighbours
(avg)</th><th>Region</th><th>England</th><th>Rank</th><th>Band</th></tr></thead><tbody id="table-body"></tbody></table>
<div id="neighbours"></div></div>
</div>
<div class="legend" id="legend"></div>
<script type="application/json" id="explorer-data">{payload}</script>
<script>{script}</script>
</body></html>
"""
