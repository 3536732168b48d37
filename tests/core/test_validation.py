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
