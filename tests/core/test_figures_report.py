"""Tier 2: figures and the report from tiny hand-made frames."""
import base64
import io
import re

import pandas as pd
import pytest
from PIL import Image

from fact22_assets.core import dictionary, figures, report
from fact22_assets.core.did.study import RankingRule, Study

TREATED, COMPARATOR, NEIGHBOUR, ENGLAND = "E06000049", "E06000030", "E06000050", "E92000001"
OUTCOMES = ("closures_per_10k", "rereferrals_per_10k")
PRE, POST = (2011, 2012, 2013), (2014, 2015)
# The treated authority's pre-period closures: mean 50, SD exactly 10.
TREATED_CLOSURES = {2011: 40.0, 2012: 50.0, 2013: 60.0, 2014: 45.0, 2015: 44.0}


def _rates() -> pd.DataFrame:
    rows = []
    for code, name, shift in ((TREATED, "Cheshire East", 0), (COMPARATOR, "Swindon", 5),
                              (NEIGHBOUR, "Cheshire West and Chester", 8), (ENGLAND, "England", 12)):
        for year in range(2010, 2017):
            closures = TREATED_CLOSURES.get(year, 50.0) + shift
            rows.append({"unit_code": code, "unit_name": name, "collection_year": year,
                         "closures_per_10k": closures, "rereferrals_per_10k": closures / 3,
                         "cin_per_10k_children": 300 + shift})
    return pd.DataFrame(rows)


def _events() -> pd.DataFrame:
    return pd.DataFrame([{"outcome": o, "covariate_adjusted": adj, "collection_year": y,
                          "estimate": 0.0 if y == 2013 else 1.5, "ci_low": -3.0, "ci_high": 4.0}
                         for o in OUTCOMES for adj in (False, True) for y in PRE + POST])


def _placebos() -> pd.DataFrame:
    rows = [{"outcome": o, "unit_code": TREATED, "unit_name": "Cheshire East", "role": "treated", "estimate": -5.0}
            for o in OUTCOMES]
    rows += [{"outcome": o, "unit_code": f"E0600{i:04d}", "unit_name": f"Placebo {i}", "role": "placebo",
              "estimate": float(i - 10)} for o in OUTCOMES for i in range(20)]
    return pd.DataFrame(rows)


def _paths() -> pd.DataFrame:
    return pd.DataFrame([{"outcome": o, "collection_year": y, "period": "pre" if y in PRE else "post",
                          "treated_value": 50.0 + i, "synthetic_value": 50.0 + i / 2, "gap": i / 2}
                         for o in OUTCOMES for i, y in enumerate(PRE + POST)])


def _rct(origin: str = "SYNTHETIC") -> pd.DataFrame:
    base = {"trial_id": "fact22_crewe", "treated_arm": "FACT22", "control_arm": "CEC", "analysis": "itt",
            "subgroup": "all", "n_treated": 83, "n_control": 43, "data_origin": origin}
    return pd.DataFrame([
        {**base, "outcome": "closed", "status": "estimated", "n_cases": 126, "events_treated": 59, "events_control": 35,
         "treated_rate_observed": 0.71, "control_rate_observed": 0.81, "control_rate_if_treated": 0.71,
         "control_rate_if_treated_ci_low": 0.61, "control_rate_if_treated_ci_high": 0.81, "p_value": 0.17,
         "stars": "", "note": ""},
        {**base, "outcome": "escalated", "status": "too_few_events", "n_cases": 128, "events_treated": None,
         "events_treated_status": "c",
         "events_control": 0, "treated_rate_observed": 0.05, "control_rate_observed": 0.0,
         "control_rate_if_treated": None, "control_rate_if_treated_ci_low": None,
         "control_rate_if_treated_ci_high": None, "p_value": 0.30, "stars": "", "note": "too few events to model"},
    ])


def _risk(origin: str = "SYNTHETIC") -> pd.DataFrame:
    return pd.DataFrame([{"arm": arm, "time_point": tp, "n_cases": n, "mean_total_score": total,
                          "mean_protective_score": 4.0, "mean_risk_score": -6.0, "mean_engagement_score": 1.0,
                          "data_origin": origin}
                         for arm, offset in (("FACT22", 0.0), ("CEC", -1.0))
                         for tp, n, total in (("referral_2015", 15, -1.0 + offset), ("six_months_2016", 15, -0.5),
                                              ("latest_2019", 6, -3.0 + offset))])


def _service(origin: str = "SYNTHETIC") -> pd.DataFrame:
    return pd.DataFrame({"start_year": [2015, 2016, 2019], "n_started": [49, 89, 56], "n_closed": [40, 67, None],
                         "mean_days_to_close": [163.0, 190.0, 151.0], "n_open": [0, 0, 18], "data_origin": origin})


def _curve() -> pd.DataFrame:
    return pd.DataFrame([{"outcome": o, "curve_position": i + 1, "unit_code": f"E0600{i:04d}",
                          "unit_name": f"Comparator {i}", "estimate": float(i - 2), "selected": i == 1}
                         for o in OUTCOMES for i in range(5)])


FIGURES = {
    "outcome_trends": lambda: figures.outcome_trends(
        _rates(), "closures_per_10k", treated_code=TREATED, comparator_code=COMPARATOR, first_post_year=2014,
        study_years=PRE + POST),
    "cin_treated_vs_england": lambda: figures.cin_treated_vs_england(_rates(), treated_code=TREATED,
                                                                     first_post_year=2014),
    "event_study": lambda: figures.event_study(_events(), first_post_year=2014),
    "placebo_distribution": lambda: figures.placebo_distribution(_placebos(), p_values={"closures_per_10k": 0.45}),
    "synthetic_control_path": lambda: figures.synthetic_control_path(_paths(), first_post_year=2014),
    "rct_probabilities": lambda: figures.rct_probabilities(_rct()),
    "risk_scores": lambda: figures.risk_scores(_risk()),
    "service_case_length": lambda: figures.service_case_length(_service()),
    "specification_curve": lambda: figures.specification_curve(_curve()),
}
SYNTHETIC_FIGURES = {"rct_probabilities", "risk_scores", "service_case_length"}


def _png_text(png: bytes) -> dict:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width > 400 and image.height > 300
    return dict(image.text)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_is_a_png_labelled_by_its_origin(name):
    text = _png_text(FIGURES[name]())
    assert text["Title"]
    assert ("SYNTHETIC DATA" in text["Description"]) == (name in SYNTHETIC_FIGURES)


@pytest.mark.parametrize("draw", [
    lambda: figures.rct_probabilities(_rct("council")),
    lambda: figures.risk_scores(_risk("council")),
    lambda: figures.service_case_length(_service("council")),
])
def test_casework_figures_from_council_data_carry_no_synthetic_label(draw):
    assert "SYNTHETIC" not in _png_text(draw())["Description"]


def test_a_published_figure_can_be_forced_to_say_synthetic():
    png = figures.outcome_trends(_rates(), "closures_per_10k", treated_code=TREATED, comparator_code=None,
                                 first_post_year=2014, synthetic=True)
    assert "SYNTHETIC DATA" in _png_text(png)["Description"]


def test_figures_draw_when_a_series_is_missing():
    # No comparator row and no England row: still a figure, with what there is.
    rates = _rates()
    png = figures.outcome_trends(rates[rates.unit_code == TREATED], "rereferrals_per_10k", treated_code=TREATED,
                                 comparator_code="E09999999", first_post_year=2014)
    assert _png_text(png)["Title"].startswith("Re-referrals")
    assert _png_text(figures.event_study(_events().iloc[0:0]))["Title"]


def test_panels_follow_the_study_order():
    assert figures._panel_order(_events(), ["rereferrals_per_10k", "closures_per_10k"]) == \
        ["rereferrals_per_10k", "closures_per_10k"]
    assert figures._panel_order(_events(), None) == list(OUTCOMES)


@pytest.mark.parametrize("year, label", [(2016, "2015-16"), (2010, "2009-10"), (2000, "1999-00")])
def test_year_labels(year, label):
    assert figures.year_label(year) == label == report.year_label(year)


# --------------------------------------------------------------------------- the report


def _study() -> report.StudySetup:
    design = Study(study_id="s1", treated_unit_code=TREATED, first_post_year=2014, pre_years=PRE, post_years=POST,
                   outcomes=OUTCOMES, covariate="cin_at_31_march", ranking=RankingRule(pretrend_alpha=0.1))
    return report.StudySetup(design, treated_name="Cheshire East", description="FACT22 <pilot> & more")


def _did() -> pd.DataFrame:
    rows = []
    for outcome in OUTCOMES:
        common = {"outcome": outcome, "comparator_name": "Swindon", "n_obs": 10, "vintage": "cin_2025"}
        rows += [
            {**common, "method": "difference_of_means", "estimate": -4.0, "treated_pre_mean": 50.0,
             "treated_post_mean": 44.5, "comparator_pre_mean": 55.0, "comparator_post_mean": 53.5},
            {**common, "method": "ols_with_covariate", "estimate": -5.0, "se_classical": 2.0, "p_classical": 0.03,
             "ci_low_classical": -9.0, "ci_high_classical": -1.0, "se_hc1": 2.5, "p_hc1": 0.06,
             "permutation_p_value": 0.40, "n_placebos": 20},
            {**common, "method": "synthetic_control", "estimate": -2.0, "permutation_p_value": 0.5, "pre_rmspe": 0.0,
             "post_rmspe_p_value": 0.6, "n_obs": None},
        ]
    return pd.DataFrame(rows)


def _ranking() -> pd.DataFrame:
    rows = []
    for outcome in OUTCOMES:
        for rank, (code, name) in enumerate([(COMPARATOR, "Swindon"), ("E09000001", "<script>alert(1)</script>")], 1):
            rows.append({"outcome": outcome, "unit_code": code, "unit_name": name, "eligible": True, "rank": rank,
                         "selected": rank == 1, "passes_pretrend": rank == 1, "differential_slope": 0.2 * rank,
                         "differential_slope_p": 0.9 / rank, "pre_mean": 55.0, "level_difference": 5.0,
                         "pct_trend": 0.1 * rank, "pct_level": 0.2, "demography_score": 0.3,
                         "composite_score": 0.15 * rank})
        rows.append({"outcome": outcome, "unit_code": "E10000001", "unit_name": "Split county", "eligible": False,
                     "rank": None, "selected": False, "passes_pretrend": None})
    return pd.DataFrame(rows)


SOURCES = pd.DataFrame({"source_file": ["dfe_cin/a.csv"], "publication": ["SFR45/2013"], "release_id": ["cin_2013"],
                        "source_sha256": ["ab" * 32]})


def _inputs(**overrides) -> report.ReportInputs:
    figs = {key: report.ReportFigure(title=key, png=FIGURES["event_study"]() if key == report.FIGURE_EVENT_STUDY
                                     else b"\x89PNG fake " + key.encode())
            for key in [report.outcome_trend_figure(o) for o in OUTCOMES] + [
                report.FIGURE_CIN, report.FIGURE_EVENT_STUDY, report.FIGURE_PLACEBO, report.FIGURE_SYNTHETIC_CONTROL,
                report.FIGURE_RCT, report.FIGURE_RISK, report.FIGURE_SERVICE]}
    values = dict(
        study=_study(), vintage="cin_2025",
        treated_rates=pd.DataFrame({"collection_year": list(TREATED_CLOSURES),
                                    "closures_per_10k": list(TREATED_CLOSURES.values()),
                                    "rereferrals_per_10k": [20.0] * 5}),
        comparator_ranking=_ranking(), did_results=_did(), estimates_by_vintage=_did(),
        rct_results=_rct(), risk_scores_by_arm=_risk(), service_case_length_by_year=_service(),
        source_files=SOURCES,
        vintages=pd.DataFrame({"vintage": ["cin_2025"], "first_year": [2010], "last_year": [2025]}),
        code_versions=["abc123def456"], figures=figs, generated_at="2026-01-01 00:00 UTC")
    values.update(overrides)
    return report.ReportInputs(**values)


def test_report_embeds_every_figure_and_its_tables():
    html = report.render_report(_inputs())
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 9
    for name in ("study", "comparator_ranking", "did_results", "did_means", "inference", "did_results_by_vintage",
                 "rct_results", "risk_scores_by_arm", "service_case_length_by_year", "vintages", "source_files"):
        assert f'data-table="{name}"' in html, name
    # the real PNG survives the round trip
    encoded = re.search(r'data-figure="event_study"><img src="data:image/png;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(encoded).startswith(b"\x89PNG")


def test_report_escapes_every_text_from_data():
    html = report.render_report(_inputs())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "FACT22 &lt;pilot&gt; &amp; more" in html


def test_report_names_the_comparator_and_why():
    html = report.render_report(_inputs())
    assert "Selected comparator: <strong>Swindon</strong>" in html
    assert "rank 1 of 2 eligible authorities (1 ineligible)" in html


def test_synthetic_banner_follows_data_origin():
    assert 'class="synthetic-banner"' in report.render_report(_inputs())
    council = _inputs(rct_results=_rct("council"), risk_scores_by_arm=_risk("council"),
                      service_case_length_by_year=_service("council"))
    assert 'class="synthetic-banner"' not in report.render_report(council)


def test_missing_strands_say_so_instead_of_failing():
    html = report.render_report(_inputs(did_results=None, rct_results=None, comparator_ranking=None, figures={}))
    assert "marts.did_results" in html and "not available" in html and "was not drawn" in html


def test_footer_carries_vintage_checksums_and_code_version():
    footer = report.render_report(_inputs()).split('<footer id="provenance">')[1]
    assert "ab" * 32 in footer and "abc123def456" in footer and "cin_2025" in footer and "SFR45/2013" in footer


def test_limitations_are_computed_from_the_data():
    notes = report.limitations(_inputs())
    text = "\n".join(notes)
    assert "Only 3 pre-period years (2010-11 to 2012-13) and 2 post-period years" in text
    # SD of 40, 50, 60 is 10; consecutive changes 10 and 10; the estimate -5 is 0.5 SDs.
    assert "standard deviation of 10.0" in text and "mean absolute change between consecutive years 10.0" in text
    assert "0.5 such standard deviations" in text
    assert "10 unit-years" in text
    assert "classical p-value (0.030) and the placebo-in-space p-value (0.400) disagree" in text
    assert "too few events to model" in text and "escalated" in text
    assert "fits the pre-period exactly for 2 of 2 outcomes" in text
    assert "2019 are biased short" in text
    assert "SYNTHETIC inputs: marts.rct_results, marts.risk_scores_by_arm" in text


def test_withheld_counts_say_so():
    html = report.render_report(_inputs())
    rct_table = html.split('data-table="rct_results"')[1].split("</table>")[0]
    assert rct_table.count(">withheld</span>") == 1
    assert any("events: FACT22 withheld (1 to 5), CEC 0" in n for n in report.limitations(_inputs()))


def test_a_failed_pretrend_gate_is_a_limitation():
    ranking = _ranking().assign(passes_pretrend=False)
    assert any("No candidate passed the parallel pre-trend test" in n
               for n in report.limitations(_inputs(comparator_ranking=ranking)))


def test_tables_keep_the_study_order_of_outcomes():
    reordered = _did().iloc[::-1].reset_index(drop=True)
    html = report.render_report(_inputs(did_results=reordered))
    did_table = html.split('data-table="did_results"')[1].split("</table>")[0]
    assert did_table.index("Closures") < did_table.index("Re-referrals")


# --------------------------------------------------------------------------- data dictionary

SPEC = {
    "columns": {"source_file": "shared file", "vintage": "shared vintage"},
    "patterns": {"*_status": "status of {stem}"},
    "tables": {
        "marts.t": {"description": "  a   table ", "columns": {"vintage": "own vintage"},
                    "patterns": {"*_status": "withheld {stem}"}},
        "raw.r": {"description": "raw | table"},
    },
}


@pytest.mark.parametrize("table, column, expected", [
    ("marts.t", "vintage", "own vintage"),          # the table's own entry wins
    ("marts.t", "n_cases_status", "withheld n_cases"),  # then the table's pattern
    ("raw.r", "vintage", "shared vintage"),         # then the shared columns
    ("raw.r", "closures_status", "status of closures"),  # then the shared patterns
    ("raw.r", "_status", None),                     # a pattern needs a stem
    ("raw.r", "unknown", None),
])
def test_column_descriptions_resolve_in_order(table, column, expected):
    assert dictionary.column_description(SPEC, table, column) == expected


def test_dictionary_markdown_lists_tables_then_columns():
    tables = pd.DataFrame({"table_schema": ["marts", "raw"], "table_name": ["t", "r"],
                           "description": [dictionary.table_description(SPEC, "marts.t"),
                                           dictionary.table_description(SPEC, "raw.r")]})
    columns = dictionary.describe_columns(SPEC, pd.DataFrame({
        "table_schema": ["raw", "marts", "marts"], "table_name": ["r", "t", "t"],
        "column_name": ["source_file", "vintage", "n_status"], "data_type": ["VARCHAR", "VARCHAR", "VARCHAR"]}))
    text = dictionary.data_dictionary_markdown(tables, columns)
    assert text.index("## raw.r") < text.index("## marts.t")  # layers in data-flow order
    assert "| `raw.r` | raw \\| table |" in text.replace("[`raw.r`](#rawr)", "`raw.r`")
    assert "| `n_status` | VARCHAR | withheld n |" in text and "a table" in text


def test_report_has_a_linked_table_of_contents():
    html = report.render_report(_inputs())
    nav = re.search(r'<nav id="contents".*?</nav>', html, re.S).group(0)
    targets = re.findall(r'<a href="#([^"]+)">', nav)
    assert targets[:4] == ["glance", "robust", "calibration", "setup"]
    assert targets[-2:] == ["limitations", "provenance"]
    assert len(targets) == 14
    for target in targets:
        assert f'id="{target}"' in html, target


def test_report_tables_show_no_raw_codes():
    changes = pd.DataFrame({"from_time_point": ["referral_2015"], "to_time_point": ["six_months_2016"],
                            "arm": ["FACT22"], "n_cases": [30], "mean_change": [-1.5], "p_value_paired": [0.2],
                            "p_value_between_arms": [0.5], "data_origin": ["SYNTHETIC"]})
    summary = pd.DataFrame({"measure": ["escalated", "outcome"], "category": ["cp_or_lac", "escalated_lac"],
                            "n_families": [50, 20], "share": [0.13, 0.05], "data_origin": "SYNTHETIC"})
    html = report.render_report(_inputs(risk_score_changes=changes, service_summary=summary))
    cells = re.findall(r"<td>(.*?)</td>", html)
    for code in ("referral_2015", "six_months_2016", "latest_2019", "cp_or_lac", "escalated_lac", "escalated"):
        assert code not in cells, code
    assert "Referral (2015)" in cells and "Six months (2016)" in cells and "Latest (2019)" in cells
    assert "To a child protection plan or looked after" in cells and "Escalated to looked after" in cells
    for code in ("itt", "too_few_events", "excluding_contaminated", "chi_square"):
        assert code not in cells, code
    assert "Intention to treat" in cells and "Too few events to model" in cells
    assert "cin_at_31_march" not in cells and "Children in need at 31 March" in cells
    assert report.label("previous_cin_history") == "Previous CIN involvement"
    assert report.label("some_new_code") == "some new code"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_carries_the_data_it_plots(name):
    data = FIGURES[name]().data
    assert list(data.columns) == figures.DATA_COLUMNS and len(data) > 0
    for column in ("panel", "series", "statistic", "x_axis", "unit"):
        assert data[column].str.len().gt(0).all(), column
    assert data.loc[data["x"].notna(), "x_label"].str.len().gt(0).all()  # every x says what it is
    assert data["x"].map(lambda v: v is None or isinstance(v, float)).all()  # typed, not text


def _of(data, **where):
    rows = data
    for column, value in where.items():
        rows = rows[rows[column] == value]
    return rows


def test_outcome_trends_data_are_the_plotted_rates_in_the_registry_s_unit():
    data = FIGURES["outcome_trends"]().data
    rates = _rates()
    for code, name in ((TREATED, "Cheshire East"), (ENGLAND, "England")):
        series = data[data["series"].str.startswith(name)].sort_values("x")
        expected = rates[rates.unit_code == code].set_index("collection_year")["closures_per_10k"]
        assert list(series["x"]) == list(expected.index) and list(series["value"]) == list(expected)
        assert list(series["x_label"])[:2] == ["2009-10", "2010-11"]
    assert set(data["unit"]) == {"per 10,000 residents"} and set(data["outcome"]) == {"closures_per_10k"}


def test_event_study_data_label_each_estimate_and_interval():
    data = FIGURES["event_study"]().data
    for outcome in OUTCOMES:
        for series in ("CIN-adjusted", "unadjusted"):
            rows = _of(data, outcome=outcome, series=series)
            by = {(r.statistic, r.x): r.value for r in rows.itertuples()}
            assert by[("estimate", 2013.0)] == 0.0 and by[("estimate", 2014.0)] == 1.5
            assert by[("ci_low", 2014.0)] == -3.0 and by[("ci_high", 2014.0)] == 4.0
            assert len(rows) == 3 * len(PRE + POST)
    assert set(data["unit"]) == {"effect, per 10,000 residents"}


def test_specification_curve_data_name_each_comparator_and_outcome():
    data = FIGURES["specification_curve"]().data
    points = _of(data, outcome="rereferrals_per_10k", statistic="DiD estimate")
    assert list(points["x_label"]) == [f"Comparator {i}" for i in range(5)]
    assert list(points["value"]) == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert list(points["series"]).count("chosen comparator") == 1
    assert _of(data, outcome="rereferrals_per_10k", statistic="median")["value"].tolist() == [0.0]


def test_placebo_data_bin_every_placebo_and_mark_the_treated_estimate():
    data = FIGURES["placebo_distribution"]().data
    for outcome in OUTCOMES:
        bins = _of(data, outcome=outcome, statistic="authorities in the bin")
        assert bins["value"].sum() == 20 and bins["x_label"].str.contains(" to ").all()
        assert _of(data, outcome=outcome, statistic="estimate")["value"].tolist() == [-5.0]
    assert _of(data, outcome="closures_per_10k", statistic="permutation p-value")["value"].tolist() == [0.45]


def test_casework_data_are_the_plotted_values():
    service = FIGURES["service_case_length"]().data
    assert list(service["x"]) == [2015.0, 2016.0, 2019.0] and list(service["value"]) == [163.0, 190.0, 151.0]
    assert service["series"].iloc[-1].endswith("some still open") and set(service["unit"]) == {"days"}
    rct = FIGURES["rct_probabilities"]().data
    closed = _of(rct, x_label="Case closed", statistic="probability")
    assert dict(zip(closed["series"], closed["value"])) == {"CEC (control): observed": 0.81,
                                                             "CEC had it received FACT22": 0.71}
    assert "Escalated (CP or LAC)" not in set(rct["x_label"])  # too few events: nothing plotted
    risk = FIGURES["risk_scores"]().data
    assert set(risk["x_label"]) == {"Referral (2015)", "Six months (2016)", "Latest (2019)"}
    assert _of(risk, panel="Total score", series="CEC", x_label="Referral (2015)")["value"].tolist() == [-2.0]


def test_report_shows_each_figures_data_with_a_csv():
    frame = pd.DataFrame({"study_id": "s1", "figure": "cin_treated_vs_england", "panel": "CIN", "outcome": None,
                          "series": ["England", "England", "England"], "statistic": ["rate", "rate", "rate"],
                          "x": [2015.0, 2016.0, None], "x_label": ["2014-15", "2015-16", None],
                          "x_axis": "collection year (to 31 March)", "value": [1.5, 2.5, 3.0],
                          "unit": "per 10,000 children aged 0-17", "data_origin": "PUBLIC"})
    frame.loc[2, "statistic"] = "median"
    inputs = _inputs()
    figs = dict(inputs.figures)
    figs[report.FIGURE_CIN] = report.ReportFigure(title="cin", png=b"\x89PNG", data=frame)
    html = report.render_report(_inputs(figures=figs))
    block = re.search(r'<details class="figure-data" data-figure-data="cin_treated_vs_england">.*?</details>', html,
                      re.S).group(0)
    assert "<th scope=\"col\">England: rate</th>" in block and "<td>2015-16</td><td>2.50</td>" in block
    assert "study_id = &#x27;s1&#x27;" in block and "Data origin: <strong>PUBLIC</strong>" in block
    assert "(per 10,000 children aged 0-17)" in block
    csv = base64.b64decode(re.search(r'href="data:text/csv;base64,([^"]+)"', block).group(1)).decode()
    assert csv.splitlines()[0] == ",".join(frame.columns) and csv.splitlines()[2].startswith("s1,cin_treated")
