"""A deliberately broken copy of a published file is refused, and the message
names the file, the row and the column."""
import csv
import io
import re

import dagster as dg
import pytest

from fact22_assets.core.catalogue import file_sha256

from ..conftest import check_evaluations, run_assets, step_errors

SFR_2011 = "dfe_cin/sfr_underlying_data/2010-11/osr26-2011ud.csv"
EES_C1 = "dfe_cin/ees_cin_2025_release/c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"


def _recatalogue(data_dir, relative):
    """Record the broken file's new checksum, as an engineer re-cataloguing it would."""
    catalogue = data_dir / "sources.yaml"
    text = catalogue.read_text()
    block = text[text.index(f"path: {relative}"):]
    old = re.search(r"sha256: ([0-9a-f]{64})", block).group(1)
    catalogue.write_text(text.replace(old, file_sha256(data_dir / relative)))


def _replace_cell(data_dir, relative, row_starts, column, new_value):
    """Set one cell (the first row whose leading cells are ``row_starts``) in a CSV copy;
    return its file row number (header = row 1)."""
    path = data_dir / relative
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    at = rows[0].index(column)
    for number, row in enumerate(rows):
        if row[: len(row_starts)] == list(row_starts):
            row[at] = new_value
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows)
            path.write_text(out.getvalue(), encoding="utf-8")
            return number + 1
    raise AssertionError(f"no row starting {row_starts!r}")


def test_renamed_column_fails_naming_file_row_and_column(monkeypatch, tmp_path, data_copy):
    path = data_copy / EES_C1
    path.write_text(path.read_text(encoding="utf-8-sig").replace("rereferral_count,", "re_referral_count,", 1),
                    encoding="utf-8")
    _recatalogue(data_copy, EES_C1)
    result = run_assets(monkeypatch, data_copy, tmp_path / "w.duckdb", ["raw.source_files", "raw.cin_ees"])
    errors = " ".join(step_errors(result))
    assert not result.success
    assert EES_C1 in errors and "row 1" in errors and "'rereferral_count'" in errors


def test_c_in_an_old_release_count_fails_the_cells_check(monkeypatch, tmp_path, data_copy):
    # The old releases mark suppression with 'x'; a 'c' there is not a documented symbol.
    row = _replace_cell(data_copy, SFR_2011, ("LA", "895"), "CINEnding1011", "c")
    _recatalogue(data_copy, SFR_2011)
    result = run_assets(monkeypatch, data_copy, tmp_path / "w.duckdb",
                        ["raw.source_files", "raw.la_lookup", "raw.cin_sfr"])
    check = check_evaluations(result)["raw_cin_sfr_cells_valid"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert SFR_2011 in check.description and f"source_row={row}" in check.description
    assert "source_column=CINEnding1011" in check.description


def test_negative_count_fails_the_cells_check(monkeypatch, tmp_path, data_copy):
    row = _replace_cell(data_copy, EES_C1, ("2015", "Reporting year", "Local authority"), "referral_count", "-12")
    _recatalogue(data_copy, EES_C1)
    result = run_assets(monkeypatch, data_copy, tmp_path / "w.duckdb",
                        ["raw.source_files", "raw.la_lookup", "raw.cin_ees"])
    check = check_evaluations(result)["raw_cin_ees_cells_valid"]
    assert not check.passed
    assert f"source_row={row}" in check.description and "source_column=referral_count" in check.description
    assert "negative count" in check.description


def test_duplicate_row_fails_the_uniqueness_check(monkeypatch, tmp_path, data_copy):
    path = data_copy / SFR_2011
    lines = path.read_text(encoding="utf-8").splitlines()
    duplicate = next(i for i, line in enumerate(lines) if line.startswith("LA,895,"))
    lines.insert(duplicate + 1, lines[duplicate])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _recatalogue(data_copy, SFR_2011)
    result = run_assets(monkeypatch, data_copy, tmp_path / "w.duckdb",
                        ["raw.source_files", "raw.la_lookup", "raw.cin_sfr"])
    check = check_evaluations(result)["raw_cin_sfr_cells_valid"]
    assert not check.passed and "ExpectCompoundColumnsToBeUnique" in check.description
    assert SFR_2011 in check.description
    assert f"rows [{duplicate + 1}, {duplicate + 2}]" in check.description


def _with_upstream(*keys: str) -> list[str]:
    """``keys``, every asset they are made from (observed sources excepted) and raw.source_files (what the
    release checks read), as run_assets names them."""
    from fact22_assets.definitions import defs

    graph = defs().resolve_asset_graph()
    chosen = dg.AssetSelection.assets(*(dg.AssetKey(key.split(".")) for key in keys)).upstream().resolve(graph)
    return sorted({".".join(k.path) for k in chosen if graph.get(k).is_materializable} | {"raw.source_files"})


def test_blocking_check_stops_downstream_assets(monkeypatch, tmp_path, data_copy):
    _replace_cell(data_copy, SFR_2011, ("LA", "895"), "CINEnding1011", "c")
    _recatalogue(data_copy, SFR_2011)
    # Everything the rates are made from and nothing else: were the check not blocking, the staging table and
    # the rates would have all they need and be materialised (the casework, estimators and report are not read).
    result = run_assets(monkeypatch, data_copy, tmp_path / "w.duckdb",
                        _with_upstream("staging.cin_area_year", "marts.cin_rates"))
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "raw/cin_sfr" in materialized
    assert "staging/cin_area_year" not in materialized and "marts/cin_rates" not in materialized


def test_changed_bytes_without_recataloguing_are_refused(monkeypatch, tmp_path, data_copy):
    _replace_cell(data_copy, SFR_2011, ("LA", "895"), "CINEnding1011", "1")
    result = run_assets(monkeypatch, data_copy, tmp_path / "w.duckdb", ["raw.source_files"])
    errors = " ".join(step_errors(result))
    assert SFR_2011 in errors and "sha256" in errors


@pytest.mark.parametrize("content", [b"", b"geog_l,geog_c,geog_n\n"])
def test_empty_or_truncated_file_is_refused(monkeypatch, tmp_path, data_copy, content):
    (data_copy / SFR_2011).write_bytes(content)
    if content:
        _recatalogue(data_copy, SFR_2011)
    result = run_assets(monkeypatch, data_copy, tmp_path / "w.duckdb", ["raw.cin_sfr"])
    errors = " ".join(step_errors(result))
    assert SFR_2011 in errors and ("empty" in errors or "no data rows" in errors)
