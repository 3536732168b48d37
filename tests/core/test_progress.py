"""The build's terminal lines: a stage is reported once, when its assets and its checks are all done."""
from fact22_assets.core.progress import Progress, plural, shorten

GROUPS = {"raw/a": "ingest", "raw/b": "ingest", "marts/c": "rates"}
CHECKS = ["raw/a:rows", "marts/c:bounds"]


def test_a_stage_is_reported_once_after_its_assets_and_checks():
    progress = Progress(GROUPS, CHECKS)
    assert progress.materialised("raw/a", 1.0) == []
    assert progress.materialised("raw/b", 2.0) == []          # raw/a:rows still to come
    lines = progress.checked("raw/a", "rows", True, True, elapsed=3.0)
    assert len(lines) == 1 and "ingest" in lines[0] and "2 of 2" in lines[0] and "1 check passed" in lines[0]
    assert lines[0].rstrip().endswith("3.0 s")
    assert progress.checked("raw/a", "rows", True, True, elapsed=4.0) == []  # never twice


def test_warnings_are_counted_and_blocking_failures_printed_at_once():
    progress = Progress(GROUPS, CHECKS)
    progress.materialised("marts/c", 1.0)
    [line] = progress.checked("marts/c", "bounds", False, False, "3 rows out of bounds")
    assert line.split() == ["ok", "rates", "1", "of", "1", "assets", "0", "checks", "passed,", "1", "warning", "0.0", "s"]
    assert progress.warnings() == ["marts/c:bounds 3 rows out of bounds"] and progress.failures == []
    failed = Progress(GROUPS, CHECKS)
    failed.materialised("marts/c", 1.0)
    lines = failed.checked("marts/c", "bounds", False, True, "3 rows out of bounds", 2.0)
    assert lines[0] == "  FAILED check marts/c:bounds 3 rows out of bounds"
    assert "ERR" in lines[1] and "1 FAILED" in lines[1]
    assert failed.failures == ["check marts/c:bounds 3 rows out of bounds"]
    assert failed.totals() == (1, 3, 0, 0, 1)


def test_stages_a_failure_left_unbuilt_are_named():
    progress = Progress(GROUPS, CHECKS)
    progress.step_failed("raw__a", "boom")
    progress.materialised("marts/c", 1.0)
    progress.checked("marts/c", "bounds", True, True)
    unfinished = progress.unfinished()
    assert len(unfinished) == 1 and "ingest" in unfinished[0] and "raw/a, raw/b" in unfinished[0]
    assert progress.failures == ["step raw__a: boom"]


def test_words():
    assert plural(1, "check") == "1 check" and plural(0, "check") == "0 checks"
    assert shorten("a  b\n c") == "a b c" and shorten("x" * 200, 10) == "x" * 9 + "\u2026"
