"""End to end in a real browser: the Dagster UI and the evaluation report, as a person sees them.

A temporary warehouse and Dagster instance are built by `make warehouse`,
`make ui` serves them on 127.0.0.1 (tests/e2e/conftest.py), and headless
Chromium (Debian's /usr/bin/chromium) visits the asset graph, an asset's
checks, a figure asset and the report file.  Screenshots go to
test-artifacts/e2e/.
"""
import time
from pathlib import Path

import pytest

from fact22_assets.defs.report import assets as report_assets
from fact22_assets.defs.report import figures as report_figures
from fact22_assets.glue.sources import NOT_REFRESHED_GROUP
from fact22_assets.settings import REPO_ROOT

from .browser import CHROMIUM, Browser

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("e2e"),  # one webserver and one browser: every test of the module in one worker
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                     "(apt-get install -y chromium)"),
]

ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
GROUPS_IN_FLOW_ORDER = ["ingest", "staging", "rates", "did", "report"]
FIGURE_ASSETS = list(report_figures.FIGURES)
DISMISS = """(() => { if (!document.body.innerText.includes('Join the Dagster community')) return false;
  const b = Array.from(document.querySelectorAll('button')).find(x => x.innerText.trim() === 'Skip');
  if (b) b.click(); return Boolean(b); })()"""
# Left edge of each element showing exactly this text, in the graph (right of the sidebar).
GRAPH_X = """Array.from(document.querySelectorAll('*'))
  .filter(e => e.childElementCount === 0 && e.textContent.trim() === %r)
  .map(e => e.getBoundingClientRect()).filter(r => r.x > 450 && r.width > 0).map(r => r.x)"""


@pytest.fixture(scope="module")
def browser():
    with Browser(width=1600, height=1100) as chromium:
        yield chromium


def _shown(name: str, text: str) -> bool:
    """The name as a person reads it: whole, or middle-truncated ('cin_tr…_vs_england') in a graph node."""
    for line in text.splitlines():
        line = line.strip()
        if line == name:
            return True
        head, dots, tail = line.partition("\u2026")
        if dots and head and name.startswith(head) and name.endswith(tail) and len(head) + len(tail) < len(name):
            return True
    return False


def _dismiss_dialog(browser: Browser) -> None:
    """Close the "Join the Dagster community" dialog the UI shows a first-time visitor, as a person would."""
    if browser.evaluate(DISMISS):
        time.sleep(0.5)


def _visit(browser: Browser, url: str, *needles: str, timeout: float = 90) -> str:
    browser.open(url)
    browser.wait_for_text(*needles, timeout=timeout)
    _dismiss_dialog(browser)
    return browser.text()


def _screenshot(browser: Browser, name: str, settle: float = 0.0, full_page: bool = False) -> None:
    time.sleep(settle)
    _dismiss_dialog(browser)
    browser.screenshot(ARTIFACTS / name, full_page=full_page)


def test_build_terminal_is_short_and_keeps_the_full_log(site):
    out = site["build"].stdout.splitlines()
    assert out[-1].startswith("warehouse built and published: ")
    assert len(out) + len(site["build"].stderr.splitlines()) < 25, site["build"].stdout + site["build"].stderr
    stages = [line.split()[1] for line in out if line.startswith("  ok  ")]
    assert set(GROUPS_IN_FLOW_ORDER) <= set(stages)
    log = Path(out[-2].split(" log ")[1].split(";")[0])
    assert log.exists() and "STEP_SUCCESS" in log.read_text() and "STEP_SUCCESS" not in site["build"].stdout


ASSETS_AND_CHECKS = """fetch('/graphql', {method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({query: `{ assetNodes { assetKey { path } isMaterializable groupName
    assetMaterializations(limit: 1) { runId }
    assetChecksOrError { ... on AssetChecks { checks { name
      executionForLatestMaterialization { status evaluation { severity } } } } } } }`})})
  .then(r => r.json())"""
# A WARN check another change is fixing; it may report, nothing else may.
KNOWN_WARNINGS = {"authorities_add_up_to_published_totals"}


def test_ui_shows_every_asset_materialised_and_every_check_passed(site, browser):
    # The asset's page says when the build materialised it; the graph's nodes show the same status.
    _visit(browser, f"{site['url']}/assets/marts/la_benchmarks", "Latest materialization", "la_benchmarks")
    _visit(browser, f"{site['url']}/asset-groups/?expanded=global%40global%3Arates", "cin_rates", "revisions")
    _screenshot(browser, "asset_graph_rates_materialised.png", settle=4)
    assert "Never materialized" not in browser.text()
    nodes = browser.evaluate(ASSETS_AND_CHECKS)["data"]["assetNodes"]
    # The national placebo study is never part of a build (`make calibrate` runs it): the only asset a build leaves
    # unmaterialised, and the build reads its files (none yet) as a source.
    never = ["/".join(n["assetKey"]["path"]) for n in nodes if n["isMaterializable"] and not n["assetMaterializations"]
             and n["groupName"] != NOT_REFRESHED_GROUP]
    assert never == []
    assert any(n["groupName"] == NOT_REFRESHED_GROUP for n in nodes)
    checks = {(("/".join(n["assetKey"]["path"])), c["name"]): c["executionForLatestMaterialization"]
              for n in nodes for c in (n.get("assetChecksOrError") or {}).get("checks", [])}
    assert len(checks) >= 30
    not_run = [k for k, e in checks.items() if e is None]
    failed = [k for k, e in checks.items() if e is not None and e["status"] != "SUCCEEDED"
              and not (k[1] in KNOWN_WARNINGS and e["evaluation"]["severity"] == "WARN")]
    assert not_run == [] and failed == []
    assert checks[("meta/publication", "serves_latest_build")]["status"] == "SUCCEEDED"


def test_cin_rates_page_shows_column_descriptions(site, browser):
    from fact22_assets.core import measures

    wanted = [measures.rate("closures_per_10k").description, measures.rate("cin_per_10k_children").description]
    _visit(browser, f"{site['url']}/assets/marts/cin_rates", "cin_per_10k_children", *wanted, timeout=120)
    _screenshot(browser, "cin_rates_columns_in_ui.png", settle=1, full_page=True)


def test_asset_graph_shows_the_stages_in_data_flow_order(site, browser):
    _visit(browser, f"{site['url']}/asset-groups", "Global asset lineage", *GROUPS_IN_FLOW_ORDER)
    positions = {g: browser.wait_for(GRAPH_X % g) for g in GROUPS_IN_FLOW_ORDER}
    lefts = [min(positions[g]) for g in GROUPS_IN_FLOW_ORDER]
    _screenshot(browser, "asset_graph_groups.png", settle=2)
    assert lefts == sorted(lefts), dict(zip(GROUPS_IN_FLOW_ORDER, lefts))


def test_report_group_shows_every_figure_the_report_and_the_dictionary(site, browser):
    names = ["evaluation_report", "data_dictionary", *FIGURE_ASSETS]
    # The expanded group is taller than a laptop screen, and the graph draws only the nodes in view.
    browser.resize(1600, 2600)
    try:
        _visit(browser, f"{site['url']}/asset-groups/?expanded=global%40global%3Areport", "evaluation_report",
               "data_dictionary")
        browser.wait_for("document.body.innerText.includes('risk_scores')")
        text = browser.text()
        _screenshot(browser, "asset_graph_report_group.png", settle=3)  # node statuses load after the layout
    finally:
        browser.resize(1600, 1100)
    assert [n for n in names if not _shown(n, text)] == []


@pytest.mark.parametrize("asset, check, says", [
    ("reports/evaluation_report", "report_complete", f"figures and {len(report_assets.REPORT_TABLES)} tables present"),
    ("marts/data_dictionary", "every_column_described", "no tables or columns not described as the data dictionary says"),
])
def test_checks_page_shows_the_check_passed_with_its_evidence(site, browser, asset, check, says):
    text = _visit(browser, f"{site['url']}/assets/{asset}?view=checks", check, "Passed", says)
    _screenshot(browser, f"checks_{asset.replace('/', '_')}.png")
    assert "Succeeded" in text or "Passed" in text


def test_figure_asset_shows_its_images_in_the_ui(site, browser):
    _visit(browser, f"{site['url']}/assets/figures/outcome_trends", "Show Markdown", "Latest materialization",
           "path_outcome_trends_closures_per_10k")
    browser.evaluate("""(() => { const a = Array.from(document.querySelectorAll('a, button'))
        .find(x => x.innerText.trim() === '[Show Markdown]'); a.click(); return true; })()""")
    shown = browser.wait_for("""(() => { const i = Array.from(document.images)
        .filter(x => x.src.startsWith('data:image/png;base64,') && x.complete && x.naturalWidth > 400);
        return i.length >= 3 ? i.length : 0; })()""")
    browser.wait_for_text("Closures (CIN episodes ended) per 10,000 residents")
    _screenshot(browser, "figure_outcome_trends_in_ui.png", settle=1)  # the dialog fades in
    assert shown == 3


def test_report_opens_with_every_figure_and_table(site, browser):
    path = site["outputs"] / report_assets.REPORT_FILE
    assert path.exists(), f"no report at {path}"
    browser.open(path.as_uri())
    text = browser.wait_for_text("FACT22 evaluation: Cheshire East", "Selected comparator:", "10. Limitations",
                                 "SYNTHETIC DATA.", "Code version:")
    browser.wait_for("document.readyState === 'complete'")
    images = browser.evaluate("""Array.from(document.images).map(i => [
        i.closest('figure').dataset.figure, i.complete && i.naturalWidth > 400, i.getBoundingClientRect().width])""")
    tables = browser.evaluate("Array.from(document.querySelectorAll('table[data-table]')).map(t => t.dataset.table)")
    _screenshot(browser, "evaluation_report_top.png")
    _screenshot(browser, "evaluation_report_full.png", full_page=True)
    outcomes = ["closures_per_10k", "rereferrals_per_10k", "escalations_per_10k"]
    assert [name for name, _, _ in images] == report_assets.report_figure_names(outcomes)
    assert all(decoded and width > 300 for _, decoded, width in images), images
    assert set(report_assets.REPORT_TABLES) <= set(tables)
    assert "not available" not in text
    # Every chart has its data beside it; a table of contents links the sections.
    shown_data = browser.evaluate("Array.from(document.querySelectorAll('details.figure-data')).map(d => "
                                  "d.dataset.figureData)")
    assert shown_data == [name for name, _, _ in images]
    assert browser.evaluate("document.querySelectorAll('nav#contents a').length") >= 10
    # On a 1000 px screen no table is wider than the page.
    browser.call("Emulation.setDeviceMetricsOverride", width=1000, height=900, deviceScaleFactor=1, mobile=False)
    try:
        browser.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        too_wide = browser.evaluate("""Array.from(document.querySelectorAll('div.table-wrap')).filter(w =>
            w.querySelector('table').scrollWidth > w.clientWidth + 1).map(w => w.querySelector('table').dataset.table)""")
        page_width = browser.evaluate("document.documentElement.scrollWidth")
        _screenshot(browser, "evaluation_report_1000px.png")
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")
    assert too_wide == [] and page_width <= 1000


CHART = "window.EXPLORER.traces().map(t => ({name: t.name, role: t.role, x: t.x, y: t.y}))"
CHOOSE = """(() => { const s = document.getElementById(%r); s.value = %r; s.dispatchEvent(new Event('change'));
  return s.options[s.selectedIndex].text; })()"""


def test_explorer_shows_each_neighbour_beside_the_average_region_and_england(site, browser):
    import duckdb

    from fact22_assets.defs.report.explorer import EXPLORER_FILE

    path = site["outputs"] / EXPLORER_FILE
    assert path.exists(), f"no explorer at {path}"
    assert "https://" not in path.read_text(encoding="utf-8")[:2000]  # nothing fetched from a network
    browser.open(path.as_uri())
    browser.wait_for("document.body !== null && document.body.dataset.ready === 'true'")
    con = duckdb.connect(str(site["warehouse"]), read_only=True)
    code = con.execute("SELECT old_la_code FROM marts.la_benchmarks WHERE la_name = 'Manchester' LIMIT 1").fetchone()[0]
    assert browser.evaluate(CHOOSE % ("authority", code)) == "Manchester"
    assert browser.evaluate(CHOOSE % ("measure", "rereferral_percentage")).startswith("Re-referrals")
    browser.wait_for("document.getElementById('summary').textContent.startsWith('Manchester')")
    traces = browser.evaluate(CHART)
    expected = con.execute("SELECT * FROM marts.la_benchmarks WHERE old_la_code = ? AND measure = 'rereferral_percentage' "
                           "ORDER BY collection_year", [code]).df()
    con.close()
    roles = [t["role"] for t in traces]
    assert roles[0] == "authority" and roles[-3:] == ["average", "region", "england"]
    assert [t["name"] for t in traces][-3:] == ["Statistical neighbours (average)", expected.region_name.iloc[-1],
                                                 "England"]
    by_role = {t["role"]: t for t in traces if t["role"] != "neighbour"}
    for role, column in [("authority", "value"), ("average", "sn_average"), ("region", "region_value"),
                         ("england", "england_value")]:
        shown = dict(zip(by_role[role]["x"], by_role[role]["y"]))
        for label, value in zip(expected.collection_year_label, expected[column]):
            if value == value:  # not NaN
                assert shown[label] == pytest.approx(value, abs=1e-3), (role, label)
    # Each neighbour's own series: in every year, the neighbours drawn are the mart's (the model in force).
    neighbours = [t for t in traces if t["role"] == "neighbour"]
    assert len(neighbours) >= 10
    for i, row in enumerate(expected.itertuples()):
        # The page carries values to 4 decimals (core/explorer.py): the same within 0.00005.
        drawn = sorted((t["name"], t["y"][i]) for t in neighbours if t["y"][i] is not None)
        mart = sorted((getattr(row, f"sn_{k}_la_name"), getattr(row, f"sn_{k}_value")) for k in range(1, 11)
                      if getattr(row, f"sn_{k}_value") == getattr(row, f"sn_{k}_value"))
        assert [name for name, _ in drawn] == [name for name, _ in mart], row.collection_year_label
        assert [value for _, value in drawn] == pytest.approx([value for _, value in mart], abs=5e-5), \
            row.collection_year_label
    assert browser.evaluate("document.querySelector('[data-model-change]').dataset.modelChange") == "2022-23"
    assert browser.evaluate("document.querySelectorAll('#neighbours table').length") == 2  # one per model
    last = expected.iloc[-1]
    table = browser.evaluate("Array.from(document.querySelectorAll('#table-body tr')).map(r => r.innerText)")
    assert table[-1].split("\t")[0] == last.collection_year_label
    assert f"{int(last.national_rank)} of" in table[-1] and table[-1].rstrip().endswith(last.quartile_band)
    csv = browser.evaluate("document.getElementById('download').dataset.csv").splitlines()
    assert csv[0].startswith("authority,old_la_code,measure") and len(csv) == len(expected) + 1
    assert csv[-1].startswith(f"Manchester,{code},rereferral_percentage,")
    _screenshot(browser, "authority_explorer.png", settle=1)
    # Without polarity: no rank or band.
    browser.evaluate(CHOOSE % ("measure", "cin_per_10k_children"))
    browser.wait_for("document.getElementById('summary').textContent.includes('not applicable')")
    row = browser.evaluate("Array.from(document.querySelectorAll('#table-body tr')).pop().innerText")
    assert row.rstrip().endswith("Not applicable")
