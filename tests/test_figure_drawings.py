"""A figure asset draws each distinct figure once (defs/report/figures.py `_Drawings`): studies that plot the
same numbers the same way share one drawing; any difference in what is drawn, or in how, draws again."""
import pandas as pd

from fact22_assets.defs.report import figures as figure_assets

drawn: list[tuple] = []


def _draw(frame: pd.DataFrame, *, title: str) -> bytes:
    drawn.append((title, len(frame)))
    return f"{title}:{frame['value'].sum()}".encode()


def _other(frame: pd.DataFrame, *, title: str) -> bytes:
    drawn.append(("other", title))
    return b"other"


def _frame(values) -> pd.DataFrame:
    return pd.DataFrame({"year": range(2010, 2010 + len(values)), "value": values})


def test_equal_content_is_drawn_once_and_any_difference_draws_again():
    drawn.clear()
    figure_assets._drawings.forget()
    first = figure_assets._drawing(_draw, _frame([1.0, 2.0]), title="a")
    again = figure_assets._drawing(_draw, _frame([1.0, 2.0]), title="a")  # another study, the same numbers
    other_values = figure_assets._drawing(_draw, _frame([1.0, 2.5]), title="a")
    other_title = figure_assets._drawing(_draw, _frame([1.0, 2.0]), title="b")
    other_function = figure_assets._drawing(_other, _frame([1.0, 2.0]), title="a")
    assert again is first
    assert len({id(d) for d in (first, other_values, other_title, other_function)}) == 4
    pngs = [d.png() for d in (first, again, other_values, other_title, other_function)]
    assert pngs == [b"a:3.0", b"a:3.0", b"a:3.5", b"b:3.0", b"other"]
    assert drawn == [("a", 2), ("a", 2), ("b", 2), ("other", "a")]  # the shared drawing drawn once


def test_nothing_is_shared_after_forget():
    drawn.clear()
    figure_assets._drawings.forget()
    first = figure_assets._drawing(_draw, _frame([1.0]), title="a")
    first.png()
    figure_assets._drawings.forget()  # a figure asset starts afresh
    second = figure_assets._drawing(_draw, _frame([1.0]), title="a")
    assert second is not first
    second.png()
    assert drawn == [("a", 1), ("a", 1)]
