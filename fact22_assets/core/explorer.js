// The authority explorer page's script (core/explorer.py writes the page around it).
const DATA = JSON.parse(document.getElementById('explorer-data').textContent);
const byCode = Object.fromEntries(DATA.authorities.map(a => [a.code, a]));
const measureOf = Object.fromEntries(DATA.measures.map(m => [m.name, m]));
const BASIS = {p: 'DfE published', r: 'rebased', c: 'counts'};
const COLOURS = {authority: '#1f4e79', average: '#c55a11', region: '#548235', england: '#333333', neighbour: '#a6aeb8'};
const authoritySelect = document.getElementById('authority');
const measureSelect = document.getElementById('measure');
const eachNeighbour = document.getElementById('each-neighbour');
for (const a of DATA.authorities) authoritySelect.add(new Option(a.name, a.code));
for (const m of DATA.measures) measureSelect.add(new Option(m.label, m.name));
const fmt = (v, d) => v === null || v === undefined ? '' : (typeof v === 'number' ? v.toFixed(d) : String(v));
const esc = s => String(s).replace(/[&<>"]/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]));

// The neighbours of an authority in each year (the model in force), and their values.
function neighbourSeries(code, m) {
  const values = DATA.values[m];
  const series = {};
  DATA.years.forEach((y, i) => {
    const list = (DATA.models[DATA.model_of_year[i]] || {})[code] || [];
    for (const n of list) {
      if (!series[n]) series[n] = {code: n, name: (byCode[n] || {name: n}).name, y: DATA.years.map(() => null),
                                   years: []};
      series[n].y[i] = values[n] ? values[n][i] : null;
      series[n].years.push(i);
    }
  });
  return Object.values(series);
}

function current() {
  const a = byCode[authoritySelect.value], m = measureOf[measureSelect.value];
  const neighbours = neighbourSeries(a.code, m.name);
  const average = DATA.years.map((_, i) => {
    const vals = neighbours.filter(n => n.years.includes(i)).map(n => n.y[i]).filter(v => v !== null);
    return vals.length ? vals.reduce((s, v) => s + v, 0) / vals.length : null;
  });
  const regions = DATA.regions[m.name] || {};
  return {a, m, neighbours, average, value: DATA.values[m.name][a.code],
          basis: DATA.basis[m.name][a.code], rank: (DATA.rank[m.name] || {})[a.code] || null,
          band: (DATA.band[m.name] || {})[a.code] || null, region: regions[a.region] || DATA.years.map(() => null),
          england: DATA.england[m.name]};
}

// The series the chart draws: exposed for readers' scripts and the tests (window.EXPLORER.traces()).
function traces(c) {
  const out = [{name: c.a.name, role: 'authority', y: c.value}];
  if (eachNeighbour.checked) for (const n of c.neighbours) out.push({name: n.name, role: 'neighbour', y: n.y});
  out.push({name: 'Statistical neighbours (average)', role: 'average', y: c.average});
  out.push({name: c.a.region_name || 'Region', role: 'region', y: c.region});
  out.push({name: 'England', role: 'england', y: c.england});
  return out.map(t => Object.assign(t, {x: DATA.year_labels}));
}

function drawChart(c, lines) {
  const W = 860, H = 440, L = 64, R = 16, T = 34, B = 70;
  const all = lines.flatMap(t => t.y).filter(v => v !== null);
  const top = all.length ? Math.max(...all) * 1.08 : 1;
  const x = i => L + (W - L - R) * (DATA.years.length > 1 ? i / (DATA.years.length - 1) : 0.5);
  const y = v => T + (H - T - B) * (1 - v / top);
  const ticks = Array.from({length: 6}, (_, k) => top * k / 5);
  const parts = [`<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(c.a.name + ': ' + c.m.label)}">`,
    `<text x="${L}" y="20" font-size="15" font-weight="bold">${esc(c.a.name + ': ' + c.m.label)}</text>`];
  for (const t of ticks) parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(t)}" y2="${y(t)}" stroke="#e4e4e4"/>` +
    `<text x="${L - 6}" y="${y(t) + 4}" font-size="11" text-anchor="end">${fmt(t, t >= 100 ? 0 : 1)}</text>`);
  DATA.year_labels.forEach((label, i) => parts.push(`<text x="${x(i)}" y="${H - B + 16}" font-size="11" ` +
    `text-anchor="end" transform="rotate(-45 ${x(i)} ${H - B + 16})">${label}</text>`));
  parts.push(`<text x="12" y="${T + (H - T - B) / 2}" font-size="11" transform="rotate(-90 12 ${T + (H - T - B) / 2})" ` +
    `text-anchor="middle">${esc(c.m.unit)}</text>`);
  const change = DATA.model_of_year.findIndex((m, i) => i > 0 && m !== DATA.model_of_year[i - 1]);
  if (change > 0) {
    const cx = (x(change - 1) + x(change)) / 2;
    parts.push(`<line x1="${cx}" x2="${cx}" y1="${T}" y2="${H - B}" stroke="#888" stroke-dasharray="4 3" data-model-change="${DATA.year_labels[change]}"/>` +
      `<text x="${cx - 4}" y="${T + 10}" font-size="11" fill="#555" text-anchor="end">neighbour model ${DATA.model_of_year[change - 1]} \u2192 ${DATA.model_of_year[change]} (${DATA.year_labels[change]})</text>`);
  }
  const order = ['neighbour', 'region', 'england', 'average', 'authority'];
  for (const t of [...lines].sort((p, q) => order.indexOf(p.role) - order.indexOf(q.role))) {
    const colour = COLOURS[t.role], width = t.role === 'authority' ? 3 : (t.role === 'neighbour' ? 1.2 : 2);
    const dash = t.role === 'england' || t.role === 'average' ? ' stroke-dasharray="6 3"' : '';
    let path = '', pen = false;
    t.y.forEach((v, i) => { if (v === null) { pen = false; return; } path += (pen ? 'L' : 'M') + x(i) + ' ' + y(v); pen = true; });
    parts.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="${width}"${dash} data-role="${t.role}"><title>${esc(t.name)}</title></path>`);
    t.y.forEach((v, i) => { if (v !== null) parts.push(`<circle cx="${x(i)}" cy="${y(v)}" r="${t.role === 'authority' ? 3.5 : 2}" fill="${colour}"><title>${esc(t.name + ', ' + DATA.year_labels[i] + ': ' + fmt(v, 1))}</title></circle>`); });
  }
  parts.push('</svg>');
  document.getElementById('chart').innerHTML = parts.join('');
  document.getElementById('legend').innerHTML = [['authority', c.a.name], ['average', 'Statistical neighbours (average)'],
    ...(eachNeighbour.checked ? [['neighbour', 'each statistical neighbour']] : []), ['region', c.a.region_name || 'Region'],
    ['england', 'England']].map(([role, name]) => `<span><i class="swatch" style="background:${COLOURS[role]}"></i>${esc(name)}</span>`).join('');
}

function render() {
  const c = current(), digits = c.m.unit === 'count' ? 0 : 1;
  const lines = traces(c);
  drawChart(c, lines);
  const rows = DATA.years.map((_, i) => ({year: DATA.year_labels[i], authority: c.value[i], basis: BASIS[c.basis[i]] || '',
    average: c.average[i], region: c.region[i], england: c.england[i], rank: c.rank ? c.rank[i] : null,
    of: DATA.ranked[c.m.name][i], band: c.band ? c.band[i].trim() : '', model: DATA.model_of_year[i]}))
    .filter(r => [r.authority, r.average, r.region, r.england].some(v => v !== null));
  const ranked = c.m.polarity === 'Low' || c.m.polarity === 'High';
  document.getElementById('table-body').innerHTML = rows.map(r => '<tr><td>' + r.year + '</td><td>' +
    fmt(r.authority, digits) + '</td><td>' + r.basis + '</td><td>' + fmt(r.average, digits) + '</td><td>' +
    fmt(r.region, digits) + '</td><td>' + fmt(r.england, digits) + '</td><td>' +
    (ranked ? fmt(r.rank, 0) + (r.rank !== null ? ' of ' + r.of : '') : 'Not applicable') +
    '</td><td><span class="band">' + (ranked ? r.band : 'Not applicable') + '</span></td></tr>').join('');
  // Each neighbour under each model, with its latest value under that model.
  const blocks = [];
  for (const model of [...new Set(DATA.model_of_year)].reverse()) {
    const list = (DATA.models[model] || {})[c.a.code] || [];
    const last = DATA.model_of_year.lastIndexOf(model);
    blocks.push(`<table data-model="${model}"><caption>DfE ${model} model (${DATA.year_labels[DATA.model_of_year.indexOf(model)]} to ${DATA.year_labels[last]}): each neighbour, ${DATA.year_labels[last]}</caption>` +
      '<thead><tr><th>#</th><th>Neighbour</th><th>Value</th></tr></thead><tbody>' +
      list.map((n, k) => '<tr><td>' + (k + 1) + '</td><td>' + esc((byCode[n] || {name: n}).name) + '</td><td>' +
        fmt(DATA.values[c.m.name][n] ? DATA.values[c.m.name][n][last] : null, digits) + '</td></tr>').join('') + '</tbody></table>');
  }
  document.getElementById('neighbours').innerHTML = blocks.join('');
  const last = rows[rows.length - 1];
  document.getElementById('summary').textContent = last ? (c.a.name + ', ' + last.year + ': ' + fmt(last.authority, digits) +
    ' (' + c.m.unit + (last.basis ? ', ' + last.basis : '') + '); ' + (ranked ? 'rank ' + fmt(last.rank, 0) + ' of ' +
    last.of + ' (1 = best, polarity ' + c.m.polarity + '), band ' + (last.band || '-') : 'rank and band not applicable (no polarity)') +
    '; statistical neighbours ' + fmt(last.average, digits) + ', ' + (c.a.region_name || 'region') + ' ' +
    fmt(last.region, digits) + ', England ' + fmt(last.england, digits) + '.') : 'No published values.';
  const header = ['authority', 'old_la_code', 'measure', 'unit', 'collection_year', 'value', 'value_basis',
    'statistical_neighbours_average', 'region', 'england', 'polarity', 'national_rank', 'ranked_authorities',
    'quartile_band', 'sn_model', ...c.neighbours.map(n => n.name)];
  const csvRows = DATA.years.map((_, i) => [c.a.name, c.a.code, c.m.name, c.m.unit, DATA.year_labels[i], c.value[i],
    BASIS[c.basis[i]] || '', c.average[i], c.region[i], c.england[i], c.m.polarity, c.rank ? c.rank[i] : '',
    DATA.ranked[c.m.name][i], ranked ? (c.band ? c.band[i].trim() : '') : 'Not applicable', DATA.model_of_year[i],
    ...c.neighbours.map(n => n.y[i])]);
  const quote = v => v === null || v === undefined ? '' :
    (/[",\n]/.test(String(v)) ? '"' + String(v).replace(/"/g, '""') + '"' : String(v));
  const csv = [header, ...csvRows].map(row => row.map(quote).join(',')).join('\n') + '\n';
  const link = document.getElementById('download');
  link.href = 'data:text/csv;charset=utf-8,' + encodeURIComponent(csv);
  link.download = (c.a.name + '_' + c.m.name).replace(/[^A-Za-z0-9_-]+/g, '_') + '.csv';
  link.dataset.csv = csv;
  location.hash = 'la=' + c.a.code + '&measure=' + c.m.name;
}

window.EXPLORER = {traces: () => traces(current()), data: DATA};
const wanted = new URLSearchParams(location.hash.slice(1));
const first = DATA.authorities.find(a => a.code === wanted.get('la'))
  || DATA.authorities.find(a => a.name === DEFAULT_AUTHORITY) || DATA.authorities[0];
authoritySelect.value = first.code;
measureSelect.value = measureOf[wanted.get('measure')] ? wanted.get('measure')
  : (measureOf[DEFAULT_MEASURE] ? DEFAULT_MEASURE : DATA.measures[0].name);
for (const control of [authoritySelect, measureSelect, eachNeighbour]) control.addEventListener('change', render);
render();
document.body.dataset.ready = 'true';
