"""After a fresh `make warehouse` and `make ui` (conftest.py): the build is in the UI's runs list and in the
refresh job's history, and every output link the UI shows (the report, each figure, the explorer) opens in
Chromium, served over http by `make ui`, never a file:// path into a run's build folder.
"""
import re
import time
from pathlib import Path

import pytest

from fact22_assets.settings import REPO_ROOT

from .browser import CHROMIUM, Browser, BrowserError
from .test_browser import DISMISS

pytestmark = [
    pytest.mark.e2e,
    # The same worker as test_browser.py: its session `site` (a whole build and `make ui`) is made once, not twice.
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                     "(apt-get install -y chromium)"),
]

ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
LINKS = """fetch('/graphql', {method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({query: `{ assetNodes { assetKey { path }
    assetMaterializations(limit: 1) { runId metadataEntries { label __typename
      ... on UrlMetadataEntry { url } ... on PathMetadataEntry { path } ... on MarkdownMetadataEntry { mdStr }
    } } } }`})})
  .then(r => r.json())"""


@pytest.fixture(scope="module")
def browser():
    with Browser(width=1600, height=1100) as chromium:
        yield chromium


def _visit(browser: Browser, url: str, *needles: str, timeout: float = 180) -> str:
    browser.open(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # the first-visit dialog may cover the page until dismissed
        try:
            browser.evaluate(DISMISS)
        except BrowserError:  # the page has no body yet
            pass
        text = browser.text()
        if all(n in text for n in needles):
            return text
        time.sleep(0.5)
    return browser.wait_for_text(*needles, timeout=1)


def _build_run_id(site) -> str:
    """The run `make warehouse` said it was ("... Run <id>: log <file>; `make ui` shows it.")."""
    return re.search(r"Run ([0-9a-f-]{36}): log ", site["build"].stdout).group(1)


def test_the_build_is_in_the_runs_list_and_the_refresh_jobs_history(site, browser):
    run_id = _build_run_id(site)
    text = _visit(browser, f"{site['url']}/runs", run_id[:8], "refresh")
    browser.screenshot(ARTIFACTS / "runs_list.png")
    assert "make warehouse" in text  # its trigger tag, as the list shows the run's tags
    _visit(browser, f"{site['url']}/locations/fact22_assets/jobs/refresh/runs", run_id[:8])
    browser.screenshot(ARTIFACTS / "refresh_job_runs.png")
    # The run's own page, from the code location like a run the daemon launched.
    _visit(browser, f"{site['url']}/runs/{run_id}", "refresh", "Success")


def _links(browser: Browser, site) -> dict[str, dict[str, str]]:
    browser.open(f"{site['url']}/assets/reports/evaluation_report")
    browser.wait_for("document.readyState === 'complete'")
    nodes = browser.evaluate(LINKS)["data"]["assetNodes"]
    found = {}
    for node in nodes:
        for materialization in node["assetMaterializations"]:
            found["/".join(node["assetKey"]["path"])] = {
                entry["label"]: entry.get("url") or entry.get("path") or entry.get("mdStr")
                for entry in materialization["metadataEntries"]
                if entry["__typename"] in ("UrlMetadataEntry", "PathMetadataEntry", "MarkdownMetadataEntry")}
    return found


def test_every_output_link_opens_in_the_browser(site, browser):
    links = _links(browser, site)
    urls = {f"{asset} {label}": value for asset, entries in links.items() for label, value in entries.items()
            if value.startswith(("http", "file:"))}
    # Nothing points into a run's build folder, which publication empties (nor names one in its text).
    assert not [k for k, v in urls.items() if v.startswith("file:")], urls
    into_build = [f"{asset} {k}" for asset, entries in links.items() for k, v in entries.items()
                  if f"/build/{_build_run_id(site)}/" in v]
    assert into_build == [], into_build
    outputs = site["outputs_url"] + "/"
    assert all(v.startswith(outputs) for v in urls.values()), urls
    report, explorer = links["reports/evaluation_report"]["url"], links["reports/authority_explorer"]["open"]
    figures = [v for k, v in urls.items() if k.startswith("figures/")]
    assert len(figures) >= 9, urls
    for url in figures:
        browser.open(url)
        width = browser.wait_for("document.images.length === 1 && document.images[0].complete "
                                 "&& document.images[0].naturalWidth")
        assert width > 400, (url, width)
    browser.open(report)
    browser.wait_for_text("FACT22 evaluation: Cheshire East", "Selected comparator:")
    browser.wait_for("document.readyState === 'complete'")  # its images loaded (or failed), as test_browser waits
    images = browser.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 400).length")
    assert images >= 9
    browser.screenshot(ARTIFACTS / "report_from_the_ui_link.png")
    browser.open(explorer)
    browser.wait_for("document.body !== null && document.body.dataset.ready === 'true'")
    # Each path the UI shows is where the published file lies.
    for asset, entries in links.items():
        for label, value in entries.items():
            if label.startswith("path") and asset.startswith(("figures/", "reports/")):
                assert Path(value).is_relative_to(site["outputs"]) and Path(value).exists(), (asset, label, value)


def test_the_report_link_on_its_asset_page_is_an_http_link(site, browser):
    links = _links(browser, site)
    report = links["reports/evaluation_report"]["url"]
    _visit(browser, f"{site['url']}/assets/reports/evaluation_report", "Latest materialization", report)
    hrefs = browser.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")
    assert report in hrefs, hrefs
    browser.screenshot(ARTIFACTS / "report_asset_link.png")
