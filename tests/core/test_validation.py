"""The Great Expectations wrapper: a verdict for a pass, the rows named for a failure."""
import pandas as pd

from fact22_assets.core.validation import Expectation, validate_frame

EXPECTATIONS = [Expectation("ExpectColumnValuesToNotBeNull", column="value"),
                Expectation("ExpectColumnValuesToBeBetween", column="value", min_value=0)]
LOCATOR = ["source_file", "source_row"]


def _frame(values):
    return pd.DataFrame({"source_file": "c1.csv", "source_row": range(2, 2 + len(values)), "value": values})


def test_a_clean_frame_passes_with_every_expectation_counted():
    outcome = validate_frame(_frame([1.0, 2.0, 0.0]), EXPECTATIONS, "clean", LOCATOR)
    assert outcome.success and outcome.evaluated == 2 and outcome.failures == []
    assert outcome.message() == "clean: all 2 expectations met"


def test_a_failure_names_the_expectation_and_the_rows():
    outcome = validate_frame(_frame([1.0, -3.0, 2.0, -1.0]), EXPECTATIONS, "negative", LOCATOR)
    assert not outcome.success
    [failure] = outcome.failures
    assert failure.expectation.startswith("ExpectColumnValuesToBeBetween(column='value', min_value=0")
    assert failure.unexpected_count == 2
    assert failure.unexpected_rows == [{"source_file": "c1.csv", "source_row": 3},
                                       {"source_file": "c1.csv", "source_row": 5}]
    assert "c1.csv rows [3, 5]" in outcome.message()


def test_each_validation_sees_its_own_frame():
    """One GX data asset serves every frame: a second frame must not be judged by the first."""
    assert not validate_frame(_frame([None, 1.0]), EXPECTATIONS, "first", LOCATOR).success
    second = validate_frame(_frame([1.0, 2.0, 3.0, 4.0]), EXPECTATIONS, "second", LOCATOR)
    assert second.success
    third = validate_frame(_frame([5.0, None]), EXPECTATIONS, "third", LOCATOR)
    assert [f.unexpected_rows for f in third.failures] == [[{"source_file": "c1.csv", "source_row": 3}]]


def test_a_validating_process_gives_the_same_outcomes_and_keeps_gx_out_of_its_parent():
    """validate_in_background (what a build starts first): GX is imported and run in the forked process only,
    and every outcome equals the one validating here gives."""
    import subprocess
    import sys

    script = """
import os, sys
import pandas as pd
from fact22_assets.core import helper_process, validation
from tests.core.test_validation import EXPECTATIONS, LOCATOR, _frame
assert validation.validate_in_background()
assert helper_process.pid() not in (None, os.getpid())
outcomes = [validation.validate_frame(_frame(v), EXPECTATIONS, "s", LOCATOR) for v in ([1.0, -3.0, None], [2.0])]
print("gx in parent:", "great_expectations" in sys.modules)
helper_process.stop()
assert helper_process.pid() is None
print([o.message() for o in outcomes] == [validation.validate_frame(_frame(v), EXPECTATIONS, "s", LOCATOR).message()
                                          for v in ([1.0, -3.0, None], [2.0])])
print(outcomes[0].message())
"""
    from fact22_assets.settings import REPO_ROOT

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "gx in parent: False"
    assert lines[1] == "True"
    assert "c1.csv rows [3]" in lines[2] and "c1.csv rows [4]" in lines[2]
