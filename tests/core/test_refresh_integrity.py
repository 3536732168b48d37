"""The pure parts of a safe refresh: the lock, stale partial copies, the
fingerprint that says whether there is anything to do, refused files kept
apart, and a published release not landed twice."""
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from fact22_assets.core.errors import INFRASTRUCTURE, InfrastructureError, SourceDataError
from fact22_assets.core.fingerprint import Fingerprint, by_content, by_place, code_fingerprint, input_files, unchanged
from fact22_assets.core.landing import load_full_catalogue, reject
from fact22_assets.core.locking import RefreshLock, remove_stale_partials
from fact22_assets.settings import REPO_ROOT

C1_2025 = "dfe_cin/ees_cin_2025_release/c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"


def test_second_lock_waits_for_the_first_and_then_gets_it(tmp_path):
    first, second = RefreshLock(tmp_path / "lock"), RefreshLock(tmp_path / "lock")
    first.acquire(0)
    threading.Timer(0.5, first.release).start()
    started = time.monotonic()
    second.acquire(5, poll_seconds=0.05)
    waited = time.monotonic() - started
    second.release()
    assert 0.4 < waited < 3


def test_lock_held_too_long_is_an_infrastructure_error_naming_the_holder(tmp_path):
    first = RefreshLock(tmp_path / "lock")
    first.acquire(0)
    try:
        with pytest.raises(InfrastructureError) as raised:
            RefreshLock(tmp_path / "lock").acquire(0.3, poll_seconds=0.05)
    finally:
        first.release()
    message = str(raised.value)
    assert INFRASTRUCTURE in message and f"pid {os.getpid()}" in message and "What to do" in message


def test_lock_of_a_killed_refresh_is_free_at_once(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from fact22_assets.core.locking import "
                               f"RefreshLock; RefreshLock({str(tmp_path / 'lock')!r}).acquire(0); print('held', "
                               "flush=True); time.sleep(60)"], stdout=subprocess.PIPE, env={**os.environ,
                               "PYTHONPATH": str(REPO_ROOT)})
    assert holder.stdout.readline().strip() == b"held"
    with pytest.raises(InfrastructureError):
        RefreshLock(tmp_path / "lock").acquire(0)
    holder.kill()
    holder.wait()
    lock = RefreshLock(tmp_path / "lock")
    lock.acquire(0)
    assert lock.held
    lock.release()


def test_partial_copies_of_dead_writers_are_removed_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".fact22.duckdb.partial-{dead.pid}"
    live = tmp_path / f".fact22.duckdb.partial-{os.getppid()}"
    stale.write_bytes(b"half")
    live.write_bytes(b"copying")
    assert remove_stale_partials(tmp_path) == [stale]
    assert not stale.exists() and live.exists()


def test_fingerprint_tells_what_changed(tmp_path):
    data, landing, accepted = tmp_path / "data", tmp_path / "landing", tmp_path / "releases"
    for folder in (data, landing, accepted):
        folder.mkdir()
    (data / "sources.yaml").write_text("sources: []\n")
    (landing / "c1.csv").write_text("1\n")
    code = code_fingerprint(REPO_ROOT)

    def now() -> Fingerprint:
        return Fingerprint(by_place(input_files([data]), data, "data")
                           | by_content(input_files([landing, accepted]), "landed"), code)

    manifest = yaml.safe_load(now().to_json())
    assert unchanged(now(), manifest)[0]
    # A landed file filed away in the accepted store is the same input: content counts there, not place.
    shutil.move(landing / "c1.csv", accepted / "c1.csv")
    assert unchanged(now(), manifest)[0]
    # In the shipped folder place counts: the same bytes there are another input.
    shutil.copy(accepted / "c1.csv", data / "c1.csv")
    same, why = unchanged(now(), manifest)
    assert not same and "data/c1.csv" in why
    (data / "c1.csv").unlink()
    (data / "sources.yaml").write_text("sources: [x]\n")
    same, why = unchanged(now(), manifest)
    assert not same and "data/sources.yaml" in why
    assert not unchanged(Fingerprint(now().inputs, "other code"), manifest)[0]
    assert not unchanged(now(), None)[0]


def test_second_refusal_of_the_same_name_keeps_both(tmp_path):
    rejected = tmp_path / "rejected"
    moment = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
    for content in ("first", "second"):
        landed = tmp_path / "c1.csv"
        landed.write_text(content)
        reject([landed], [f"landing/c1.csv row 2: {content} problem"], rejected, now=moment)
    files = sorted(p.name for p in rejected.iterdir())
    assert len(files) == 4, files
    kept = sorted(p.read_text() for p in rejected.iterdir() if not p.name.endswith(".reason.txt"))
    reasons = " ".join(p.read_text() for p in rejected.iterdir() if p.name.endswith(".reason.txt"))
    assert kept == ["first", "second"] and "first problem" in reasons and "second problem" in reasons


def test_relanding_a_published_release_with_other_values_is_refused(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    text = (REPO_ROOT / "data" / C1_2025).read_text(encoding="utf-8-sig")
    changed = text.replace(",Local authority,", ",Local authority,", 1)
    lines = changed.splitlines()
    lines[-1] = lines[-1].rsplit(",", 1)[0] + ",1"  # one value changed: the same release, revised
    (landing / Path(C1_2025).name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SourceDataError) as raised:
        load_full_catalogue(REPO_ROOT / "data", tmp_path / "releases", landing)
    message = str(raised.value)
    assert f"landing/{Path(C1_2025).name}" in message and "release cin_2025 is already catalogued" in message
    assert C1_2025 in message


def test_relanding_identical_bytes_is_nothing_to_do(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(REPO_ROOT / "data" / C1_2025, landing)
    _, candidates = load_full_catalogue(REPO_ROOT / "data", tmp_path / "releases", landing)
    assert candidates == []


@pytest.mark.parametrize("content", [bytes(range(256)) * 40, b"a,b\r\n\x00\r\x00,\xff\n"])
def test_binary_garbage_is_a_source_data_error_not_a_crash(tmp_path, content):
    from fact22_assets.core.tabular import read_csv_table

    path = tmp_path / "c1.csv"
    path.write_bytes(content)
    with pytest.raises(SourceDataError) as raised:
        read_csv_table(path, "landing/c1.csv")
    assert "landing/c1.csv" in str(raised.value)
