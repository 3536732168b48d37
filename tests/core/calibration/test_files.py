"""The calibration's files: which folder a refresh reads, when a calibration is stale, and damaged files refused."""
import json
import shutil

import pandas as pd
import pytest

from fact22_assets.core.calibration.files import (
    CALIBRATION_CODE,
    MANIFEST_FIELDS,
    calibration_code,
    manifest_file,
    panel_digest,
    read_results,
    results_file,
    source_folder,
    staleness,
    write_results,
)
from fact22_assets.core.calibration.marts import SHIPPED, CurrentState, calibration_runs
from fact22_assets.settings import REPO_ROOT

DESIGN = "5 pre + 4 post years, the rule"
PANEL = pd.DataFrame({"unit_code": ["E1", "E1", "E2", "E2"], "collection_year": [2019, 2020, 2019, 2020],
                      "closures_per_10k": [10.0, 11.0, 12.5, 13.0]})


def _manifest(**changes) -> dict:
    manifest = {field: None for field in MANIFEST_FIELDS} | {
        "outcome": "closures_per_10k", "vintage": "cin_2025", "code_version": "abc123", "design": [DESIGN],
        "start_years": [2018], "methods": ["twfe_all_donors"], "approximations": {},
        "calibration_code": "code-a", "panel_digest": panel_digest(PANEL)}
    return manifest | changes


def _current(**changes) -> CurrentState:
    fields = {"code": "code-a", "vintage": "cin_2025", "panel": panel_digest(PANEL), "designs": (DESIGN,)} | changes
    return CurrentState(**fields)


def _reasons(manifest: dict, current: CurrentState) -> list[str]:
    return staleness(manifest, current.code, current.vintage, current.panel, list(current.designs))


def test_a_calibration_of_this_code_data_and_design_is_current():
    assert _reasons(_manifest(), _current()) == []


@pytest.mark.parametrize("manifest,current,words", [
    (_manifest(calibration_code="code-b"), _current(), "other estimator code"),
    (_manifest(), _current(vintage="cin_2026"), "vintage cin_2025, the latest is now cin_2026"),
    (_manifest(), _current(panel="0123456789abcdef"), "the figures of vintage cin_2025 changed"),
    (_manifest(design=["3 pre + 2 post years"]), _current(), "the studies now use"),
    (_manifest(calibration_code=None), _current(), "does not record the code and data"),
    ({k: v for k, v in _manifest().items() if k != "panel_digest"}, _current(), "does not record the code and data"),
])
def test_a_stale_calibration_says_why(manifest, current, words):
    reasons = _reasons(manifest, current)
    assert len(reasons) == 1 and words in reasons[0]


def test_calibration_runs_flag_a_stale_manifest_beside_a_current_one():
    runs = calibration_runs([_manifest(), _manifest(outcome="escalations_per_10k", calibration_code="code-old")],
                            SHIPPED, _current())
    assert runs[["outcome", "origin", "stale"]].values.tolist() == [
        ["closures_per_10k", "shipped", False], ["escalations_per_10k", "shipped", True]]
    assert runs["stale_reasons"].isna().tolist() == [True, False]
    assert "code-old" in runs["stale_reasons"].iloc[1] and "code-a" in runs["stale_reasons"].iloc[1]


def test_panel_digest_ignores_row_order_and_sees_any_changed_figure():
    assert panel_digest(PANEL.iloc[::-1]) == panel_digest(PANEL)
    assert panel_digest(PANEL[list(reversed(PANEL.columns))]) == panel_digest(PANEL)
    revised = PANEL.assign(closures_per_10k=[10.0, 11.0, 12.5, 13.000001])
    assert panel_digest(revised) != panel_digest(PANEL)


def test_calibration_code_digests_the_listed_files_only(tmp_path):
    for pattern in ("fact22_assets/core/did", "fact22_assets/core/calibration", "fact22_assets/defs/calibration",
                    "sql/did"):
        shutil.copytree(REPO_ROOT / pattern, tmp_path / pattern, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "fact22_assets/core/measures.py", tmp_path / "fact22_assets/core/measures.py")
    assert calibration_code(tmp_path) == calibration_code(REPO_ROOT)
    before = calibration_code(tmp_path)
    (tmp_path / "fact22_assets/core/calibration/rates.py").write_text("# recomputed by every refresh\n")
    assert calibration_code(tmp_path) == before
    estimator = tmp_path / "fact22_assets/core/did/twfe.py"
    estimator.write_text(estimator.read_text() + "\n# an edit\n")
    assert calibration_code(tmp_path) != before
    assert any("core/did" in p for p in CALIBRATION_CODE) and any(p.startswith("sql/did") for p in CALIBRATION_CODE)


def _write(folder, outcome="closures_per_10k"):
    studies = pd.DataFrame({"vintage": "cin_2025", "unit_code": ["E1", "E2"], "estimate": [0.5, -1.5],
                            "placebo": [True, True]})
    write_results(folder, outcome, studies, _manifest(outcome=outcome))
    return studies


def test_the_warehouse_calibration_is_read_when_it_has_files_else_the_shipped_one(tmp_path):
    computed, shipped = tmp_path / "warehouse" / "calibration", tmp_path / "data" / "calibration"
    _write(shipped)
    assert source_folder(computed, shipped) == shipped  # no folder yet
    computed.mkdir(parents=True)
    assert source_folder(computed, shipped) == shipped  # an empty folder
    _write(computed, "escalations_per_10k")
    assert source_folder(computed, shipped) == computed


def test_results_round_trip_with_their_digest(tmp_path):
    studies = _write(tmp_path)
    read, manifests = read_results(tmp_path)
    pd.testing.assert_frame_equal(read, studies)
    import hashlib

    assert manifests[0]["results_sha256"] == hashlib.sha256(results_file(tmp_path, "closures_per_10k")
                                                            .read_bytes()).hexdigest()


def test_a_damaged_result_file_is_refused_naming_it(tmp_path):
    _write(tmp_path)
    path = results_file(tmp_path, "closures_per_10k")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"closures_per_10k\.parquet: its bytes are not those closures_per_10k\.json"):
        read_results(tmp_path)


def test_an_unreadable_result_file_without_a_digest_is_refused_naming_it(tmp_path):
    """A manifest from before the digest was recorded: the parquet reader's failure names the file."""
    _write(tmp_path)
    manifest = json.loads(manifest_file(tmp_path, "closures_per_10k").read_text())
    del manifest["results_sha256"]
    manifest_file(tmp_path, "closures_per_10k").write_text(json.dumps(manifest))
    results_file(tmp_path, "closures_per_10k").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(ValueError, match=r"closures_per_10k\.parquet: not a readable calibration result file"):
        read_results(tmp_path)


def test_a_damaged_manifest_is_refused_naming_it(tmp_path):
    _write(tmp_path)
    manifest_file(tmp_path, "closures_per_10k").write_text('{"outcome": "closures_per_10k", ')
    with pytest.raises(ValueError, match=r"closures_per_10k\.json: not a calibration manifest"):
        read_results(tmp_path)



def test_the_shipped_calibration_is_the_calibration_source_only_while_it_is_read(monkeypatch, tmp_path):
    """Its files change the source `calibration` (not the shipped data's inputs) while the warehouse's folder is
    empty; once `make calibrate` has filled that folder, they are read by nobody and change nothing."""
    from fact22_assets.core.source_versions import CALIBRATION
    from fact22_assets.glue import freshness

    data = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "data", data, ignore=shutil.ignore_patterns("synthetic", "calibration"))
    monkeypatch.setenv("FACT22_DATA_DIR", str(data))
    monkeypatch.setenv("FACT22_CALIBRATION_DIR", str(tmp_path / "warehouse" / "calibration"))
    monkeypatch.setenv("FACT22_LANDING_DIR", str(tmp_path / "landing"))
    _write(data / "calibration")
    before, inputs = freshness.current_source_versions(), freshness.refresh_inputs()
    assert not [name for name in inputs if name.startswith("data/calibration/")]
    manifest = manifest_file(data / "calibration", "closures_per_10k")
    manifest.write_text(manifest.read_text().replace('"abc123"', '"abc124"'))
    after = freshness.current_source_versions()
    assert [name for name in after if after[name] != before[name]] == [CALIBRATION]
    _write(tmp_path / "warehouse" / "calibration", "escalations_per_10k")
    computed, computed_inputs = freshness.current_source_versions(), freshness.refresh_inputs()
    assert computed[CALIBRATION] != after[CALIBRATION]
    manifest.write_text(manifest.read_text().replace('"abc124"', '"abc125"'))
    assert freshness.current_source_versions() == computed and freshness.refresh_inputs() == computed_inputs
