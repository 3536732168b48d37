import pytest

from fact22_assets.core.errors import SourceDataError
from fact22_assets.core.values import read_count, require_columns

SFR_SYMBOLS = {"x": "suppressed", "..": "not_available", ".": "not_applicable"}
EES_SYMBOLS = {"c": "suppressed", "x": "not_available", "z": "not_applicable", "u": "low_reliability"}


@pytest.mark.parametrize(
    ("text", "symbols", "value", "status"),
    [
        ("2882", SFR_SYMBOLS, 2882.0, "published"),
        ("3,835", SFR_SYMBOLS, 3835.0, "published"),       # thousands separator, as the old files print it
        ("1,234,567", SFR_SYMBOLS, 1234567.0, "published"),
        (" 0 ", SFR_SYMBOLS, 0.0, "published"),             # a true zero stays zero
        ("346.2", SFR_SYMBOLS, 346.2, "published"),
        ("x", SFR_SYMBOLS, None, "x"),                      # suppressed: NULL, never zero
        ("..", SFR_SYMBOLS, None, ".."),
        (".", SFR_SYMBOLS, None, "."),
        ("c", EES_SYMBOLS, None, "c"),
        ("z", EES_SYMBOLS, None, "z"),
        ("", SFR_SYMBOLS, None, "blank"),
        (None, SFR_SYMBOLS, None, "blank"),
    ],
)
def test_reads_numbers_and_documented_symbols(text, symbols, value, status):
    assert read_count(text, symbols)[:2] == (value, status)


@pytest.mark.parametrize(
    ("text", "symbols", "problem"),
    [
        ("c", SFR_SYMBOLS, "neither a number nor a symbol"),  # 'c' is not an old-SFR symbol
        ("-4", SFR_SYMBOLS, "negative count"),
        ("3,8", SFR_SYMBOLS, "neither a number"),            # not a thousands separator
        ("12a", EES_SYMBOLS, "neither a number"),
        ("low", EES_SYMBOLS, "neither a number"),
    ],
)
def test_refuses_anything_else(text, symbols, problem):
    value, status, message = read_count(text, symbols)
    assert value is None and status == "invalid" and problem in message


@pytest.mark.parametrize("text", ["nan", "NaN", "NAN", " nan "])
def test_a_nan_cell_is_blank_whatever_its_case(text):
    # pandas writes a missing cell as 'nan' when a column is read as text
    assert read_count(text, SFR_SYMBOLS) == (None, "blank", None)


def test_the_problem_quotes_the_cell_and_lists_the_documented_symbols():
    assert read_count("12a", EES_SYMBOLS)[2] == ("'12a' is neither a number nor a symbol this release documents "
                                                 "('c', 'x', 'z', 'u')")
    assert read_count("?", {})[2] == "'?' is neither a number nor a symbol this release documents (none)"
    assert read_count("-4", SFR_SYMBOLS)[2] == "negative count '-4'"


def test_require_columns_passes_when_every_column_is_there():
    require_columns("b1.csv", ["time_period", " referral_count "], {"referrals": "referral_count"})


def test_require_columns_names_the_file_row_column_and_a_case_slip():
    with pytest.raises(SourceDataError) as raised:
        require_columns("b1.csv", ["time_period", "Referral_count"], {"referrals": "referral_count"}, header_row=3)
    error = raised.value
    assert (error.file, error.row, error.column) == ("b1.csv", 3, "referral_count")
    assert "column for measure 'referrals' not found in the header (found 'Referral_count': column names are " \
           "case-sensitive); a renamed column needs a new mapping in data/sources.yaml" in str(error)


def test_require_columns_without_a_near_miss_gives_no_hint():
    with pytest.raises(SourceDataError) as raised:
        require_columns("b1.csv", ["time_period"], {"referrals": "referral_count"})
    assert raised.value.row == 1
    assert "(found" not in str(raised.value) and "not found in the header; a renamed" in str(raised.value)
