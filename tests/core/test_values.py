import pytest

from fact22_assets.core.values import read_count

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
