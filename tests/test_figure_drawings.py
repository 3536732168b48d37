"""A figure asset draws each distinct figure once (defs/report/figures.py `_Drawings`): studies that plot the
same numbers the same way share one drawing; any difference in what is drawn, or in how, draws again.  A build
keeps its drawings (`KeptDrawings`): the next draws only those whose call or code changed."""
import pandas as pd

from fact22_assets.core import figures, result_store
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


def _kept(tmp_path, code="code-1"):
    return figure_assets.KeptDrawings(result_store.ResultStore(tmp_path / "figures"), code)


def _draw_three(values_of_b=(1.0, 2.0)):
    figure_assets._drawings.forget()
    return [figure_assets._drawing(_draw, _frame([1.0]), title="a"),
            figure_assets._drawing(_draw, _frame(list(values_of_b)), title="b"),
            figure_assets._drawing(_other, _frame([1.0]), title="c")]


def test_kept_drawings_come_back_byte_for_byte_and_only_while_nothing_they_depend_on_changed(tmp_path):
    drawn.clear()
    first = _draw_three()
    assert figure_assets._drawings.draw_all(_kept(tmp_path)) == (0, 3)
    assert [d.png() for d in first] == [b"a:1.0", b"b:3.0", b"other"]
    drawn.clear()
    again = _draw_three()  # the next build, nothing changed: nothing is drawn
    assert figure_assets._drawings.draw_all(_kept(tmp_path)) == (3, 0) and drawn == []
    assert [d.png() for d in again] == [b"a:1.0", b"b:3.0", b"other"]
    changed = _draw_three(values_of_b=(1.0, 2.5))  # one figure's numbers changed: that one only is drawn
    assert figure_assets._drawings.draw_all(_kept(tmp_path)) == (2, 1) and drawn == [("b", 2)]
    assert [d.png() for d in changed] == [b"a:1.0", b"b:3.5", b"other"]
    assert len(list((tmp_path / "figures").iterdir())) == 3  # the store holds this build's drawings only
    drawn.clear()
    _draw_three(values_of_b=(1.0, 2.5))  # new code: everything is drawn again
    assert figure_assets._drawings.draw_all(_kept(tmp_path, code="code-2")) == (0, 3) and len(drawn) == 3


def test_a_kept_figure_keeps_its_data(tmp_path):
    from tests.core.test_figures_report import _risk

    for expected_kept in (0, 1):
        figure_assets._drawings.forget()
        drawing = figure_assets._drawing(figures.risk_scores, _risk())
        assert figure_assets._drawings.draw_all(_kept(tmp_path)) == (expected_kept, 1 - expected_kept)
        fresh = figures.risk_scores(_risk())
        assert bytes(drawing.png()) == bytes(fresh)
        pd.testing.assert_frame_equal(drawing.png().data, fresh.data)


def test_a_trend_drawn_from_its_plotted_rows_alone_is_the_one_drawn_from_every_authority():
    # The trend figures are drawn from the rows they plot (`_plotted`), so a change to another authority's
    # rates keeps them; the PNG and its data are those drawn from every authority's rows.
    from tests.core.test_figures_report import COMPARATOR, ENGLAND, NEIGHBOUR, TREATED, _rates

    others = _rates().assign(unit_code="E06000001", unit_name="Hartlepool", closures_per_10k=99.0)
    every = pd.concat([others, _rates()], ignore_index=True)  # another authority, listed first
    plotted = figure_assets._plotted(every, "closures_per_10k", TREATED, COMPARATOR, NEIGHBOUR, ENGLAND)
    assert set(plotted["unit_code"]) == {TREATED, COMPARATOR, NEIGHBOUR, ENGLAND}
    kwargs = {"treated_code": TREATED, "comparator_code": COMPARATOR, "neighbour_code": NEIGHBOUR,
              "first_post_year": 2014}
    whole = figures.outcome_trends(every, "closures_per_10k", **kwargs)
    narrow = figures.outcome_trends(plotted, "closures_per_10k", **kwargs)
    assert bytes(narrow) == bytes(whole)
    pd.testing.assert_frame_equal(narrow.data, whole.data)
    cin = figure_assets._plotted(every, "cin_per_10k_children", TREATED, ENGLAND)
    assert bytes(figures.cin_treated_vs_england(cin, treated_code=TREATED)) == bytes(
        figures.cin_treated_vs_england(every, treated_code=TREATED))


def test_the_code_version_of_the_rows_is_not_drawn_and_a_new_commit_alone_redraws_nothing(tmp_path):
    """marts carry the commit that computed them (code_version); a figure never shows it, so a frame that
    differs in it alone is the same drawing, and the drawing never sees the column."""
    seen = []

    def draw(frame: pd.DataFrame) -> bytes:
        seen.append(list(frame.columns))
        return b"png"

    def rows(commit: str) -> pd.DataFrame:
        return _frame([1.0, 2.0]).assign(code_version=commit)

    figure_assets._drawings.forget()
    figure_assets._drawing(draw, rows("1111111+dirty"))
    figure_assets._drawing(draw, frame=rows("1111111+dirty"))
    assert figure_assets._drawings.draw_all(_kept(tmp_path)) == (0, 2)
    assert seen == [["year", "value"]] * 2
    figure_assets._drawings.forget()  # the next build, at another commit, the same numbers: kept
    figure_assets._drawing(draw, rows("2222222"))
    figure_assets._drawing(draw, frame=rows("2222222"))
    assert figure_assets._drawings.draw_all(_kept(tmp_path)) == (2, 0) and len(seen) == 2
    figure_assets._drawings.forget()  # a number moved: drawn again
    figure_assets._drawing(draw, rows("2222222").assign(value=[1.0, 2.5]))
    assert figure_assets._drawings.draw_all(_kept(tmp_path)) == (0, 1) and len(seen) == 3
