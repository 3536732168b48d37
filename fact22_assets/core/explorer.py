"""The authority explorer: one self-contained HTML page (plotly.js embedded, no
network needed) where a reader picks an authority and a measure and sees its
series against its statistical neighbours' average, its region and England,
its rank and band, with the data table beside the chart and a CSV download.

Pure: ``explorer_data`` shapes marts.la_benchmarks into compact JSON and
``explorer_html`` writes the page around a given plotly.js text.
"""
from __future__ import annotations

import html
import json
import math

import pandas as pd

DEFAULT_AUTHORITY = "Cheshire East"
DEFAULT_MEASURE = "cin_per_10k_children"
SERIES = ["Authority", "Statistical neighbours (average)", "Region", "England"]
_PARTS = ["value", "sn_average", "region_value", "england_value", "national_rank", "ranked_authorities",
          "quartile_band", "sn_count", "sn_model"]


def _clean(value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float):
        return round(value, 4)
    if hasattr(value, "item"):
        return value.item()
    return value


def explorer_data(benchmarks: pd.DataFrame) -> dict:
    """{years, measures: [{name, label, unit}], authorities: [{name, code, region}],
    rows: {measure: {old_la_code: [[year-aligned part values] per part]}}}."""
    frame = benchmarks.copy()
    years = sorted(int(y) for y in frame["collection_year"].unique())
    labels = dict(zip(frame["collection_year"].astype(int), frame["collection_year_label"]))
    measures = (frame[["measure", "measure_label", "unit"]].drop_duplicates("measure")
                .rename(columns={"measure": "name", "measure_label": "label"}).to_dict("records"))
    latest = frame.sort_values("collection_year").drop_duplicates("old_la_code", keep="last")
    authorities = sorted(({"name": r.la_name, "code": r.old_la_code, "region": r.region_name}
                          for r in latest.itertuples()), key=lambda a: a["name"])
    keyed = frame.set_index(["measure", "old_la_code", "collection_year"])
    tables = {}
    for part in _PARTS:
        wide = keyed[part].unstack("collection_year").reindex(columns=years)
        tables[part] = wide.astype(object).where(wide.notna(), None)
    rows: dict = {}
    for at, (measure, code) in enumerate(tables[_PARTS[0]].index):
        rows.setdefault(measure, {})[code] = {p: [_clean(v) for v in tables[p].iloc[at].tolist()] for p in _PARTS}
    return {"years": years, "year_labels": [labels[y] for y in years], "measures": measures,
            "authorities": authorities, "rows": rows}


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; max-width: 1400px; }
h1 { font-size: 1.4em; margin: 0 0 8px; }
.controls { display: flex; gap: 16px; flex-wrap: wrap; margin: 8px 0 12px; align-items: end; }
label { font-size: 0.9em; display: flex; flex-direction: column; gap: 4px; }
select { font-size: 1em; padding: 4px; min-width: 260px; }
.layout { display: flex; gap: 16px; flex-wrap: wrap; }
#chart { flex: 1 1 0; min-width: 420px; min-height: 440px; overflow: hidden; }
.side { flex: 0 0 auto; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 6px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
#summary { margin: 4px 0 8px; font-size: 0.95em; }
.band { display: inline-block; min-width: 1.4em; text-align: center; border-radius: 3px; background: #eee; }
.note { color: #555; font-size: 0.85em; max-width: 1000px; }
"""

_SCRIPT = """
const DATA = JSON.parse(document.getElementById('explorer-data').textContent);
const byName = Object.fromEntries(DATA.authorities.map(a => [a.code, a]));
const measureOf = Object.fromEntries(DATA.measures.map(m => [m.name, m]));
const authoritySelect = document.getElementById('authority');
const measureSelect = document.getElementById('measure');
for (const a of DATA.authorities) authoritySelect.add(new Option(a.name, a.code));
for (const m of DATA.measures) measureSelect.add(new Option(m.label, m.name));
const fmt = (v, d) => v === null || v === undefined ? '' : (typeof v === 'number' ? v.toFixed(d) : String(v));

function current() {
  const a = byName[authoritySelect.value], m = measureOf[measureSelect.value];
  const parts = (DATA.rows[m.name] || {})[a.code];
  return {a, m, parts};
}

function tableRows() {
  const {a, m, parts} = current();
  const digits = m.unit === 'count' ? 0 : 1;
  return DATA.years.map((y, i) => ({
    year: DATA.year_labels[i], authority: parts ? parts.value[i] : null,
    statistical_neighbours: parts ? parts.sn_average[i] : null, region: parts ? parts.region_value[i] : null,
    england: parts ? parts.england_value[i] : null, rank: parts ? parts.national_rank[i] : null,
    of: parts ? parts.ranked_authorities[i] : null, band: parts ? parts.quartile_band[i] : null,
    neighbours_with_data: parts ? parts.sn_count[i] : null, sn_model: parts ? parts.sn_model[i] : null,
  })).filter(r => [r.authority, r.statistical_neighbours, r.region, r.england].some(v => v !== null));
}

function render() {
  const {a, m, parts} = current();
  const rows = tableRows();
  const x = rows.map(r => r.year);
  const traces = [
    ['authority', a.name, '#1f4e79', 3], ['statistical_neighbours', 'Statistical neighbours (average)', '#c55a11', 2],
    ['region', a.region || 'Region', '#548235', 2], ['england', 'England', '#7f7f7f', 2],
  ].map(([key, name, color, width]) => ({x, y: rows.map(r => r[key]), name, type: 'scatter', mode: 'lines+markers',
     line: {color, width}, connectgaps: false}));
  const digits = m.unit === 'count' ? 0 : 1;
  const body = rows.map(r => '<tr><td>' + r.year + '</td><td>' + fmt(r.authority, digits) + '</td><td>' +
    fmt(r.statistical_neighbours, digits) + '</td><td>' + fmt(r.region, digits) + '</td><td>' + fmt(r.england, digits) +
    '</td><td>' + fmt(r.rank, 0) + (r.of ? ' of ' + r.of : '') + '</td><td><span class="band">' + (r.band || '') +
    '</span></td></tr>').join('');
  document.getElementById('table-body').innerHTML = body;
  Plotly.react('chart', traces, {title: {text: a.name + ': ' + m.label}, yaxis: {title: {text: m.unit}, rangemode: 'tozero'},
    xaxis: {type: 'category', title: {text: 'Collection year (to 31 March)'}},
    legend: {orientation: 'h', y: -0.25}, margin: {t: 50, r: 10}},
    {responsive: true, displaylogo: false});
  const last = rows[rows.length - 1];
  document.getElementById('summary').textContent = last ? (a.name + ', ' + last.year + ': ' + fmt(last.authority, digits) +
    ' (' + m.unit + '); rank ' + fmt(last.rank, 0) + ' of ' + last.of + ' (1 = highest), band ' + (last.band || '-') +
    '; statistical neighbours ' + fmt(last.statistical_neighbours, digits) + ', ' + (a.region || 'region') + ' ' +
    fmt(last.region, digits) + ', England ' + fmt(last.england, digits) + '.') : 'No published values.';
  const header = ['authority', 'old_la_code', 'measure', 'unit', 'collection_year', 'value', 'statistical_neighbours_average',
                  'region', 'england', 'national_rank', 'ranked_authorities', 'quartile_band', 'neighbours_with_data', 'sn_model'];
  const csvRows = rows.map(r => [a.name, a.code, m.name, m.unit, r.year, r.authority, r.statistical_neighbours, r.region,
    r.england, r.rank, r.of, r.band, r.neighbours_with_data, r.sn_model]);
  const quote = v => v === null || v === undefined ? '' :
    (/[",\\n]/.test(String(v)) ? '"' + String(v).replace(/"/g, '""') + '"' : String(v));
  const csv = [header, ...csvRows].map(row => row.map(quote).join(',')).join('\\n') + '\\n';
  const link = document.getElementById('download');
  link.href = 'data:text/csv;charset=utf-8,' + encodeURIComponent(csv);
  link.download = (a.name + '_' + m.name).replace(/[^A-Za-z0-9_-]+/g, '_') + '.csv';
  link.dataset.csv = csv;
  location.hash = 'la=' + a.code + '&measure=' + m.name;
}

const wanted = new URLSearchParams(location.hash.slice(1));
const first = DATA.authorities.find(a => a.code === wanted.get('la'))
  || DATA.authorities.find(a => a.name === DEFAULT_AUTHORITY) || DATA.authorities[0];
authoritySelect.value = first.code;
measureSelect.value = measureOf[wanted.get('measure')] ? wanted.get('measure')
  : (measureOf[DEFAULT_MEASURE] ? DEFAULT_MEASURE : DATA.measures[0].name);
authoritySelect.addEventListener('change', render);
measureSelect.addEventListener('change', render);
render();
document.body.dataset.ready = 'true';
"""


def explorer_html(data: dict, plotly_js: str, built: str = "", source: str = "marts.la_benchmarks") -> str:
    """The page: controls, chart, table, CSV link; data and plotly.js inline."""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    script = (_SCRIPT.replace("DEFAULT_AUTHORITY", json.dumps(DEFAULT_AUTHORITY))
              .replace("DEFAULT_MEASURE", json.dumps(DEFAULT_MEASURE)))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Children in need: authority explorer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_STYLE}</style>
<script>{plotly_js}</script>
</head><body>
<h1>Children in need: authority explorer</h1>
<p class="note">Pick an authority and a measure: its series beside the average of its DfE statistical neighbours
(2021 model to 2021-22, 2025 model from 2022-23), its region and England, with its national rank (1 = highest value)
and quartile band (A = the quarter of authorities with the highest values, D = the lowest). Source:
<code>{html.escape(source)}</code>{(' built ' + html.escape(built)) if built else ''}. Works offline.</p>
<div class="controls">
<label>Authority <select id="authority" aria-label="Authority"></select></label>
<label>Measure <select id="measure" aria-label="Measure"></select></label>
<a id="download" href="#" download="benchmarks.csv">Download this table (CSV)</a>
</div>
<div id="summary"></div>
<div class="layout">
<div id="chart" role="img" aria-label="Chart of the selected measure"></div>
<div class="side"><table id="data-table"><thead><tr><th>Year</th><th>Authority</th><th>Neighbours (avg)</th>
<th>Region</th><th>England</th><th>Rank</th><th>Band</th></tr></thead><tbody id="table-body"></tbody></table></div>
</div>
<script type="application/json" id="explorer-data">{payload}</script>
<script>{script}</script>
</body></html>
"""
