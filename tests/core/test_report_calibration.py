"""The report's first screen and its p-values: calibration, detectable effects, dilution, and the statements
issue 18 found contradicting the report's own data."""
import re

import pandas as pd

from fact22_assets.core import report
from tests.core.test_figures_report import OUTCOMES, _did, _inputs, _study

STRAND_1_TABLES = ("first_screen", "robustness", "whole_pool", "did_results", "inference", "did_results_by_vintage")
DESIGN = "the design"


def _tables(html: str) -> dict[str, str]:
    return {name: html.split(f'data-table="{name}"')[1].split("</table>")[0]
            for name in STRAND_1_TABLES if f'data-table="{name}"' in html}


def _plain_small_p_values(html: str) -> list[tuple[str, str]]:
    """p < 0.05 printed in a strand-1 table cell without the uncalibrated mark."""
    found = []
    for name, body in _tables(html).items():
        found += [(name, p) for p in re.findall(r"<td>(0\.0[0-4]\d|&lt;0\.001)</td>", body)]
    return found


def _calibration(rows) -> pd.DataFrame:
    """estimator_calibration rows: (method, kind, rejection_rate, calibrated) for every outcome and both alphas."""
    out = []
    for outcome in OUTCOMES:
        for method, kind, rate, calibrated in rows:
            for alpha in (0.05, 0.10):
                out.append({"design": DESIGN, "method": method, "outcome": outcome, "alpha": alpha,
                            "p_value_kind": kind, "noise_band": "all", "n_placebo_studies": 900,
                            "rejections": int(rate * 900), "rejection_rate": rate, "rejection_rate_ci_low": rate - 0.02,
                            "rejection_rate_ci_high": rate + 0.02, "calibrated": calibrated})
    return pd.DataFrame(out)


RUNS = pd.DataFrame([{"outcome": o, "vintage": "cin_2025", "code_version": "c0ffee", "computed_at": "2026-12-01T10:00:00Z",
                      "n_placebo_studies": 900} for o in OUTCOMES])
CALIBRATION = _calibration([("ols_with_covariate", "classical", 0.25, False), ("ols_with_covariate", "hc1", 0.26, False),
                            ("ols_with_covariate", "permutation", 0.026, True),
                            ("ols_with_covariate", "reselected", 0.05, True),
                            ("synthetic_control", "permutation", 0.049, True),
                            ("synthetic_control", "post_rmspe", 0.051, True)])
SUMMARY = pd.DataFrame({"outcome": list(OUTCOMES), "reselected_p_value": [0.15, 0.25],
                        "fixed_comparator_p_value": [0.40, 0.40]})
DETECTABLE = pd.DataFrame([{"outcome": o, "method": m, "mde": mde, "n_placebos": 140}
                           for o in OUTCOMES for m, mde in (("ols_with_covariate", 20.9), ("synthetic_control", 30.0))])
DILUTION = pd.DataFrame([{"outcome": o, "reach_per_year": 80.0, "reach_unit": "families", "plausible_effect": 0.2,
                          "population": 382_759.25, "implied_effect": 0.418, "largest_effect": 2.09,
                          "reach_source": "RR1067"} for o in OUTCOMES])


def _calibrated_inputs(**overrides):
    return _inputs(**{"calibration": CALIBRATION, "calibration_runs": RUNS, "inference_summary": SUMMARY,
                      "detectable_effects": DETECTABLE, "dilution": DILUTION, **overrides})


def _section(html: str, name: str) -> str:
    """A section's text with the HTML escapes undone (apostrophes are &#x27; in the page)."""
    import html as html_module

    return html_module.unescape(html.split(f'<section id="{name}">')[1].split("</section>")[0])


def test_without_calibration_every_strand_1_p_value_is_grey_and_the_report_says_why():
    html = report.render_report(_inputs(inference_summary=SUMMARY))
    assert 'data-table="first_screen"' in html
    assert "national placebo study has not been run (make calibrate)" in html
    assert _plain_small_p_values(html) == []
    did = _tables(html)["did_results"]
    assert '<span class="uncalibrated"' in did and "0.030" in did
    # Not run yet is no missing data (the report_complete check fails a report with a "missing" paragraph).
    for section in ("glance", "calibration"):
        assert 'class="missing"' not in html.split(f'<section id="{section}">')[1].split("</section>")[0]


def test_uncalibrated_p_values_are_grey_with_their_rejection_rate_and_calibrated_ones_are_not():
    html = report.render_report(_calibrated_inputs())
    did = _tables(html)["did_results"]
    # The classical p of 0.030 rejected 25% of placebo studies: grey, and the note says so.
    assert re.search(r'<span class="uncalibrated" title="NOT calibrated: rejected 25.0% of 900 placebo studies at '
                     r'0.05[^"]*">0.030</span>', did)
    assert "rejected 25.0% of 900 placebo studies" in html.split('data-table="did_results"')[1].split("</section>")[0]
    # The report's placebo p is the re-selected one (the headline's), calibrated: plain.
    assert "<td>0.150</td>" in did and "0.400" not in did
    # Synthetic DiD was not measured: its p is grey even though no rate is known.
    assert _plain_small_p_values(html) == []


def test_the_first_screen_puts_mde_calibration_and_dilution_beside_each_estimate():
    html = report.render_report(_calibrated_inputs())
    first = html.split('<section id="glance">')[1].split("</section>")[0]
    assert html.index('<section id="glance">') < html.index('<section id="robust">')
    row = first.split("OLS with CIN covariate")[1].split("</tr>")[0]
    assert "<td>-5.00</td>" in row and "<td>0.150</td>" in row and "yes (5.0% at 5%)" in row
    assert "<td>20.9</td>" in row and "<td>0.42</td>" in row and "<td>2.09</td>" in row
    # 2.09 / 20.9 = 10%: the design cannot tell.
    assert "even the largest change the programme could make (2.09) is 10% of it" in row
    assert "80 families a year (RR1067)" in first and "382,759" in first
    assert "computed 2026-12-01 by code c0ffee" in first


def test_a_small_uncalibrated_p_value_is_no_evidence_on_the_first_screen():
    summary = SUMMARY.assign(reselected_p_value=[0.02, 0.02])
    uncalibrated = _calibration([("ols_with_covariate", "reselected", 0.12, False)])
    html = report.render_report(_calibrated_inputs(inference_summary=summary, calibration=uncalibrated))
    first = html.split('<section id="glance">')[1].split("</section>")[0]
    assert "p &le; 0.05, but the test is not calibrated: no evidence" in first
    assert "NO (12.0% at 5%)" in first
    assert _plain_small_p_values(html) == []


def test_calibration_older_than_the_data_says_so():
    html = report.render_report(_calibrated_inputs(vintage="cin_2026"))
    assert "older than the data it sits beside (the estimates here use vintage cin_2026)" in _section(html, "glance")


def test_a_fixed_comparator_is_not_said_to_be_picked_by_the_rule():
    setup = _study()
    fixed = report.StudySetup(setup.study.__class__(**{**vars(setup.study), "comparators": {OUTCOMES[0]: "E06000015"}}),
                              treated_name="Cheshire East")
    html = report.render_report(_calibrated_inputs(study=fixed))
    robust = _section(html, "robust")
    assert "this study fixes the treated authority's comparator instead (the rule did not pick it)" in robust
    assert "For re-referrals per 10,000 residents the same rule picked the treated authority's comparator" in robust
    # Its two-unit p-values are not calibrated by a placebo study of the rule's design: grey.
    assert report.p_value_status(_calibrated_inputs(study=fixed), "ols_with_covariate", OUTCOMES[0],
                                 "reselected").calibrated is None


def test_placebo_drift_is_read_from_the_data():
    spread = pd.DataFrame({"outcome": list(OUTCOMES), "fixed_sd": [9.0, 3.0], "reselected_sd": [6.0, 4.0]})
    html = report.render_report(_calibrated_inputs(placebo_spread=spread))
    robust = _section(html, "robust")
    assert "closures per 10,000 residents: more (standard deviation 9.0 against 6.0)" in robust
    assert "less (standard deviation 3.0 against 4.0)" in robust
    assert "drift less" not in html and "almost never falls below 0.10" not in html
    assert "fell below 0.05 in: closures per 10,000 residents 2.6% and 5.0%" in robust


def test_trend_score_is_described_as_what_it_is():
    html = report.render_report(_inputs())
    text = html.split('<section id="comparators">')[1].split("</p>")[0]
    assert "trend (the mean of the percentile ranks of |differential slope| and of how far the yearly gap strays" in text


def test_limitations_name_calibrated_p_values_and_an_unidentified_synthetic_control():
    identification = pd.DataFrame({"outcome": list(OUTCOMES), "identified": [False, True]})
    notes = "\n".join(report.limitations(_calibrated_inputs(synthetic_control_identification=identification)))
    assert "fairer guide" not in notes
    assert "NOT calibrated, so no evidence: OLS with CIN covariate (report's specification) classical p" in notes
    assert "The plain synthetic control is not identified for closures per 10,000 residents" in notes
    # Power beside reach: 2.09 of 22.0 is 10%.
    assert "detects (80% power, 5%) a change of about 20.9 per 10,000" in notes
    assert "80 families a year could move the rate by 0.42 at the plausible effect and 2.09 at most, 10% of that" in notes
    assert "the design cannot tell, not that the programme did nothing" in notes


def test_limitations_without_calibration_say_power_and_calibration_are_unknown():
    notes = "\n".join(report.limitations(_inputs()))
    assert "national placebo study has not been run" in notes and "Power is unknown" in notes


def test_every_did_method_reaches_the_first_screen():
    did = pd.concat([_did(), pd.DataFrame([{"outcome": o, "method": "synthetic_did", "estimate": 1.0,
                                            "permutation_p_value": 0.01} for o in OUTCOMES])], ignore_index=True)
    html = report.render_report(_calibrated_inputs(did_results=did))
    first = _tables(html)["first_screen"]
    assert first.count("Synthetic DiD") == 2 and "not measured" in first
    assert _plain_small_p_values(html) == []


def test_p_values_are_judged_among_authorities_as_noisy_as_the_treated_one():
    """Calibrated over all placebo studies, but not for the noisiest third, where the treated authority is."""
    noisy = pd.concat([CALIBRATION, CALIBRATION.assign(noise_band="highest third", rejection_rate=0.11,
                                                       rejection_rate_ci_low=0.08, rejection_rate_ci_high=0.14,
                                                       n_placebo_studies=300, calibrated=False),
                       CALIBRATION.assign(noise_band="lowest third", rejection_rate=0.02, n_placebo_studies=300)],
                      ignore_index=True)
    detectable = DETECTABLE.assign(noise_band="highest third")
    inputs = _calibrated_inputs(calibration=noisy, detectable_effects=detectable)
    status = report.p_value_status(inputs, "ols_with_covariate", OUTCOMES[0], "reselected")
    assert status.calibrated is False and status.rate == 0.11
    assert "authorities as noisy as Cheshire East (pre-period noise in the highest third)" in status.why
    html = report.render_report(inputs)
    assert "<td>0.150</td>" not in _tables(html)["did_results"]  # greyed now
    calibration = _section(html, "calibration")
    assert "Calibrated for Cheshire East" in calibration and "11.0% of 300" in calibration
    # The direction of the noise effect is read from the rates, not asserted: steady 5% against noisy 11% here.
    assert "reject the noisiest third more often than the steadiest" in calibration
    steady = pd.concat([CALIBRATION.assign(noise_band="highest third", rejection_rate=0.01),
                        CALIBRATION.assign(noise_band="lowest third", rejection_rate=0.09)], ignore_index=True)
    text = _section(report.render_report(_calibrated_inputs(calibration=steady)), "calibration")
    assert "reject the noisiest third less often than the steadiest" in text


def test_without_calibration_the_first_screen_says_power_is_unknown():
    first = _section(report.render_report(_inputs(inference_summary=SUMMARY)), "glance")
    assert "what the design can detect is not known until the national placebo study runs" in first


def test_a_shipped_calibration_is_named_and_a_stale_one_flagged_on_the_first_screen():
    current = RUNS.assign(origin="shipped", stale=False, stale_reasons=None)
    html = report.render_report(_calibrated_inputs(calibration_runs=current))
    glance = _section(html, "glance")
    assert "computed 2026-12-01 by code c0ffee (shipped with the repository)" in glance and "STALE" not in html
    reason = "computed by other estimator code (c0ffee, calibration code 1111, now 2222)"
    stale = current.assign(stale=[True, False], stale_reasons=[reason, None])
    html = report.render_report(_calibrated_inputs(calibration_runs=stale))
    for section in ("glance", "calibration"):
        text = _section(html, section)
        assert f"STALE: it does not describe the code and data of this build ({reason})" in text
        assert "run make calibrate" in text


def test_a_calibrated_small_p_value_of_another_method_is_no_evidence_on_its_own():
    """Only the pre-specified specification's re-selected placebo p is evidence: another method's calibrated
    p <= 0.05 is greyed with the first screen's family-wise rate (one of five methods side by side)."""
    did = _did()
    did.loc[did["method"] == "synthetic_control", "permutation_p_value"] = 0.031
    summary = SUMMARY.assign(reselected_p_value=[0.021, 0.021])
    calibration = pd.concat([CALIBRATION, _calibration([("any_first_screen_method", "first_screen", 0.141, False)])],
                            ignore_index=True)
    html = report.render_report(_calibrated_inputs(did_results=did, inference_summary=summary,
                                                   calibration=calibration))
    first = _tables(html)["first_screen"]
    # The pre-specified test, calibrated: plain, and evidence.
    row = first.split("OLS with CIN covariate")[1].split("</tr>")[0]
    assert "<td>0.021</td>" in row and "evidence of a change" in row
    # Synthetic control's placebo p is calibrated alone (4.9%) but one of five methods: grey, and why.
    row = first.split("Synthetic control")[1].split("</tr>")[0]
    assert re.search(r'<span class="uncalibrated" title="calibrated: [^"]*; but no evidence on its own: one of 5 '
                     r'methods on the first screen; at least one reaches p &lt;= 0.05 in 14.1% of 900 placebo '
                     r'studies[^"]*">0.031</span>', row), row
    assert "yes (alone)" in row and "no evidence on its own" in row and "evidence of a change" not in row
    assert {p for _, p in _plain_small_p_values(html)} == {"0.021"}
    assert "one reaches 0.05 by chance far more often than 5%" in _section(html, "limitations")
