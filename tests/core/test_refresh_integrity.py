"""The pure parts of a safe refresh: the lock, stale partial copies, the
fingerprint that says whether there is anything to do, refused files kept
apart, and a published release not landed twice."""
import hashlib
import os
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from fact22_assets.core.audit import INCOMPLETE, PublicationRefused, RunAudit, require_publishable
from fact22_assets.core.errors import INFRASTRUCTURE, InfrastructureError, SourceDataError
from fact22_assets.core.fingerprint import Fingerprint, by_content, by_place, code_fingerprint, input_files, unchanged
from fact22_assets.core.landing import REVISION_SIDECAR, accept_landed, landing_files, load_full_catalogue, reject
from fact22_assets.core.landing_folder import LandingRules, copy_verified, survey, take_in, tidy
from fact22_assets.core.locking import RefreshLock, remove_stale_partials
from fact22_assets.settings import REPO_ROOT

C1_2025 = "dfe_cin/ees_cin_2025_release/c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"


def test_second_lock_waits_for_the_first_and_then_gets_it(tmp_path):
    first, second = RefreshLock(tmp_path / "lock"), RefreshLock(tmp_path / "lock")
    first.acquire(0)
    released = threading.Event()

    def release():
        released.set()
        first.release()

    threading.Timer(0.5, release).start()
    second.acquire(600, poll_seconds=0.05)  # a bound on a hang, not a speed: raises if it never gets the lock
    got_it_after_release = released.is_set()
    second.release()
    assert got_it_after_release  # it waited for the first to let go, then had it


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


def _changed_c1(landing: Path, value: str = "1") -> Path:
    """The 2025 c1 file with its last value changed: the same release, other values."""
    landing.mkdir(exist_ok=True)
    lines = (REPO_ROOT / "data" / C1_2025).read_text(encoding="utf-8-sig").splitlines()
    lines[-1] = lines[-1].rsplit(",", 1)[0] + "," + value
    target = landing / Path(C1_2025).name
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def test_relanding_a_published_release_with_other_values_is_a_candidate_revision(tmp_path):
    landed = _changed_c1(tmp_path / "landing")
    catalogue, candidates = load_full_catalogue(REPO_ROOT / "data", tmp_path / "releases", tmp_path / "landing")
    [source] = candidates
    release = source.release
    # A release of its own, ranked just above the one it revises (staging's latest release wins), not declared.
    assert release.release_id == "cin_2025_r1" and release.revises == "cin_2025" and not release.revision
    assert catalogue.releases["cin_2025"].rank < release.rank < catalogue.releases["cin_2025"].rank + 1
    assert source.path == landed and source.relative_path == f"landing/{landed.name}"
    # The revised release keeps its own files: raw holds both.
    assert C1_2025 in {s.relative_path for s in catalogue.sources if s.release.release_id == "cin_2025"}


def test_a_relanded_file_alone_is_a_whole_revision_not_a_release_waiting_for_its_parts(tmp_path):
    _changed_c1(tmp_path / "landing")
    _, candidates, waiting = load_full_catalogue(REPO_ROOT / "data", tmp_path / "releases", tmp_path / "landing",
                                                 with_waiting=True)
    assert waiting == [] and len(candidates) == 1


def test_a_revision_sidecar_declares_the_release_a_revision(tmp_path):
    landed = _changed_c1(tmp_path / "landing")
    sidecar = landed.with_name(landed.name + REVISION_SIDECAR)
    sidecar.write_text("reason: DfE corrected one authority's 2024-25 referrals\nrevises: cin_2025\n")
    assert landing_files(tmp_path / "landing") == [landed]
    _, [source] = load_full_catalogue(REPO_ROOT / "data", tmp_path / "releases", tmp_path / "landing")
    assert source.release.revision and source.release.revision_reason == "DfE corrected one authority's 2024-25 referrals"
    # Accepted: the sidecar is filed with its file and the catalogue records the reason.
    accepted = tmp_path / "releases"
    filed = accept_landed([source], accepted, PASSED)
    assert sorted(p.name for p in (accepted / "cin_2025_r1").iterdir()) == sorted([landed.name, sidecar.name])
    assert filed.stored == [f"releases/cin_2025_r1/{landed.name}"] and filed.left == []
    assert not landed.exists() and not sidecar.exists()
    entry = next(r for r in yaml.safe_load((accepted / "accepted_sources.yaml").read_text())["releases"]
                 if r["release_id"] == "cin_2025_r1")
    assert entry["revision"] is True and entry["revises"] == "cin_2025" and "corrected" in entry["revision_reason"]
    # The next build reads it back as the same release.
    catalogue, candidates = load_full_catalogue(REPO_ROOT / "data", accepted, tmp_path / "landing")
    assert candidates == [] and catalogue.releases["cin_2025_r1"] == source.release


@pytest.mark.parametrize("text, problem", [("revises: cin_2025\n", "reason"), ("reason: ''\n", "reason"),
                                            ("reason: x\nrevises: cin_2022\n", "cin_2025"),
                                            ("reason: x\nrevsies: cin_2025\n", "revsies"), ("reason: [x\n", "YAML")])
def test_a_bad_sidecar_is_refused_naming_it(tmp_path, text, problem):
    landed = _changed_c1(tmp_path / "landing")
    landed.with_name(landed.name + REVISION_SIDECAR).write_text(text)
    with pytest.raises(SourceDataError) as raised:
        load_full_catalogue(REPO_ROOT / "data", tmp_path / "releases", tmp_path / "landing")
    message = str(raised.value)
    assert f"landing/{landed.name}{REVISION_SIDECAR}" in message and problem in message, message


def test_a_refused_file_takes_its_sidecar_along(tmp_path):
    landed = _changed_c1(tmp_path / "landing")
    landed.with_name(landed.name + REVISION_SIDECAR).write_text("reason: corrected\n")
    [moved] = reject([landed], [f"landing/{landed.name} row 2: a problem"], tmp_path / "landing" / "rejected")
    assert moved.with_name(moved.name + REVISION_SIDECAR).read_text() == "reason: corrected\n"
    assert sorted(p.name for p in (tmp_path / "landing").iterdir() if p.is_file()) == []


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


# --------------------------------------------------------------------------- the publication rule (core/audit.py)

BLOCKING = {"raw/cin_ees": ("cells_valid",), "staging/cin_area_year": ("valid",)}
CLOSURE = ("raw/cin_ees", "staging/cin_area_year", "marts/cin_rates")
PASSED = RunAudit(required=CLOSURE, built=frozenset(CLOSURE), blocking=BLOCKING,
                  evaluations={"raw/cin_ees:cells_valid": True, "staging/cin_area_year:valid": True},
                  plan="only cin_ees changed")


@pytest.mark.parametrize("audit, says", [
    (RunAudit((), frozenset(), BLOCKING), "nothing was built"),
    # The UI's "Materialize" of the ingest alone: the marts the changed source reaches were not rebuilt.
    (RunAudit(CLOSURE, frozenset({"raw/cin_ees"}), BLOCKING, {"raw/cin_ees:cells_valid": True}, "only cin_ees changed"),
     f"{INCOMPLETE} all that this refresh must rebuild (only cin_ees changed): 2 of the 3 assets it must "
     "rebuild were not materialised in it: staging/cin_area_year, marts/cin_rates."),
    (RunAudit(CLOSURE, frozenset(CLOSURE), BLOCKING, {"raw/cin_ees:cells_valid": True,
                                                      "staging/cin_area_year:valid": False}),
     "1 blocking check(s) failed: staging/cin_area_year:valid"),
    (RunAudit(CLOSURE, frozenset(CLOSURE), BLOCKING, {"raw/cin_ees:cells_valid": True}),
     "were not run, e.g. staging/cin_area_year:valid"),
    # More than the closure is fine, but what it built beyond it is audited too.
    (RunAudit(CLOSURE, frozenset({*CLOSURE, "raw/la_lookup"}), {**BLOCKING, "raw/la_lookup": ("lookup_valid",)},
              {"raw/cin_ees:cells_valid": True, "staging/cin_area_year:valid": True}), "raw/la_lookup:lookup_valid"),
])
def test_a_run_that_did_not_build_and_audit_the_closure_may_not_publish(audit, says):
    with pytest.raises(PublicationRefused) as refused:
        require_publishable(audit)
    assert says in str(refused.value), str(refused.value)


def test_a_run_that_built_and_audited_the_closure_may_publish():
    require_publishable(PASSED)
    # Nothing changed since the last publication: an empty closure; what was built must still pass.
    require_publishable(RunAudit((), frozenset({"raw/cin_ees"}), BLOCKING, {"raw/cin_ees:cells_valid": True}))
    with pytest.raises(PublicationRefused):
        require_publishable(None)


def test_filing_landed_files_applies_the_same_rule_and_moves_nothing_when_refused(tmp_path):
    landed = _changed_c1(tmp_path / "landing")
    _, [source] = load_full_catalogue(REPO_ROOT / "data", tmp_path / "releases", tmp_path / "landing")
    subset = RunAudit(CLOSURE, frozenset({"raw/cin_ees"}), BLOCKING, {"raw/cin_ees:cells_valid": True})
    for audit in (subset, None):
        with pytest.raises(PublicationRefused):
            accept_landed([source], tmp_path / "releases", audit)
        assert landed.exists() and not (tmp_path / "releases").exists()
    assert accept_landed([source], tmp_path / "releases", PASSED).stored == [f"releases/cin_2025_r1/{landed.name}"]
    assert not landed.exists()


# --------------------------------------------------------------------------- the landing folder (core/landing_folder.py)

RULES = LandingRules(largest_known=1000, unused_parts={"c3": "dfe_cin_ees"})
EES_HEADER = b"time_period,time_identifier,geographic_level,old_la_code,new_la_code,la_name\n2025,Reporting year,National,,,\n"


def test_the_survey_reads_only_regular_text_files_of_a_plausible_size(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "b1_x_2013_to_2025.csv").write_bytes(EES_HEADER)
    (folder / "linked.csv").symlink_to(tmp_path / "elsewhere.csv")
    os.mkfifo(folder / "pipe.csv")
    (folder / "sub").mkdir()
    (folder / "rejected").mkdir()
    (folder / "orphan.csv.revision.yaml").write_text("reason: x\n")
    (folder / "b1_x_2013_to_2025.csv.revision.yaml").write_text("reason: x\n")
    (folder / "big.csv").write_bytes(b"a,b\n" * 251)                # larger than any known file, not 10 times
    (folder / "huge.csv").write_bytes(b"a,b\n" * 2600)              # 10,400 bytes: over 10 x 1000
    (folder / "binary.csv").write_bytes(b"a,b\n1,2\n\x00\x01")
    (folder / "fake.xlsx").write_bytes(b"a,b\n")
    (folder / "c3_factors_2018_to_2025.csv").write_bytes(EES_HEADER)
    (folder / "c3_not_ees.csv").write_bytes(b"x,y\n1,2\n")
    (folder / ".retry").write_text("r")
    found = survey(folder, RULES)
    assert [p.name for p in found.files] == ["b1_x_2013_to_2025.csv", "big.csv", "c3_not_ees.csv"]
    refused = {p.name: why for p, why in found.refused}
    assert sorted(refused) == ["binary.csv", "fake.xlsx", "huge.csv", "linked.csv", "pipe.csv"]
    assert "a symbolic link" in refused["linked.csv"] and "a named pipe" in refused["pipe.csv"]
    assert "refused without reading it" in refused["huge.csv"] and "row 3: not a text file" in refused["binary.csv"]
    assert [p.name for p, _ in found.set_aside] == ["c3_factors_2018_to_2025.csv"]
    assert sorted(p.name for p, _ in found.ignored) == ["orphan.csv.revision.yaml", "sub"]
    # Without rules, from lstat alone: nothing is opened.
    assert [p.name for p in survey(folder).files] == ["b1_x_2013_to_2025.csv", "big.csv", "binary.csv",
                                                       "c3_factors_2018_to_2025.csv", "c3_not_ees.csv", "fake.xlsx",
                                                       "huge.csv"]


def test_tidying_moves_links_as_links_and_never_overwrites(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    target = tmp_path / "elsewhere.csv"
    target.write_text("kept")
    moment = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
    said = []
    for _ in range(2):
        (folder / "linked.csv").symlink_to(target)
        said += tidy(folder, survey(folder, RULES), now=moment)
    moved = sorted((folder / "rejected").glob("*linked.csv"))
    assert len(moved) == 2 and all(p.is_symlink() for p in moved) and target.read_text() == "kept"
    assert len(said) == 2 and all("a symbolic link" in line for line in said)


def test_a_copy_is_verified_against_what_was_checked(tmp_path):
    source = tmp_path / "c1.csv"
    source.write_bytes(b"a,b\n1,2\n")
    good = hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert copy_verified(source, tmp_path / "copy" / "c1.csv") == good
    with pytest.raises(InfrastructureError) as refused:
        copy_verified(source, tmp_path / "archive" / "c1.csv", expected="0" * 64)
    assert "does not hold the bytes that were checked" in str(refused.value)
    assert not (tmp_path / "archive" / "c1.csv").exists()


def test_the_intake_copies_each_readable_file_once_and_names_what_it_copied(tmp_path):
    folder, intake = tmp_path / "landing", tmp_path / "run" / "landed"
    folder.mkdir()
    (folder / "b1_x_2013_to_2025.csv").write_bytes(EES_HEADER)
    (folder / "b1_x_2013_to_2025.csv.revision.yaml").write_text("reason: x\n")
    (folder / "linked.csv").symlink_to(folder / "b1_x_2013_to_2025.csv")
    copied = take_in(folder, intake, RULES)
    assert copied == {"b1_x_2013_to_2025.csv": hashlib.sha256(EES_HEADER).hexdigest(),
                      "b1_x_2013_to_2025.csv.revision.yaml": hashlib.sha256(b"reason: x\n").hexdigest()}
    assert sorted(p.name for p in intake.iterdir()) == sorted(copied)


def test_a_refusal_leaves_a_file_whose_bytes_are_no_longer_those_checked(tmp_path):
    landed = tmp_path / "c1.csv"
    landed.write_text("checked")
    checked = {"c1.csv": hashlib.sha256(b"checked").hexdigest()}
    landed.write_text("replaced after the check")
    assert reject([landed], ["landing/c1.csv row 2: a problem"], tmp_path / "rejected", checked=checked) == []
    assert landed.read_text() == "replaced after the check"
    landed.write_text("checked")
    assert len(reject([landed], ["landing/c1.csv row 2: a problem"], tmp_path / "rejected", checked=checked)) == 1
