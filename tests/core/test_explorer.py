"""The explorer's data and page, on a hand-made benchmark table."""
import json
import re

import numpy as np
import pandas as pd

from fact22_assets.core.explorer import explorer_data, explorer_html

AUTHORITIES = (("801", "Aville"), ("802", "Btown"), ("803", "Cville"))


def _benchmarks():
    rows = []
    for code, name in AUTHORITIES:
        for year in (2022, 2023):
            for measure, polarity in (("cin_per_10k_children", "Not applicable"), ("rereferral_percentage", "Low")):
                missing = (code, year) == ("802", 2022)
                rows.append({
                    "la_name": name, "old_la_code": code, "region_code": "E12000001", "region_name": "North",
                    "collection_year": year, "measure": measure, "measure_label": measure.title(),
                    "unit": "per 10,000 children aged 0-17", "polarity": polarity,
                    "value": np.nan if missing else float(year - 2000 + int(code) % 10),
                    "value_basis": None if missing else ("published" if year == 2022 else "rebased"),
                    "region_value": 2.5 if year == 2023 else np.nan, "england_value": 3.5,
                    "national_rank": pd.NA if missing or polarity != "Low" else int(code) - 800,
                    "ranked_authorities": 2 if year == 2022 else 3,
                    "quartile_band": "Not applicable" if polarity != "Low" else (None if missing else "A")})
    frame = pd.DataFrame(rows)
    frame["national_rank"] = frame["national_rank"].astype("Int64")
    return frame


NEIGHBOURS = pd.DataFrame({"model": ["2021", "2021", "2025"], "old_la_code": ["801", "801", "801"],
                           "neighbour_rank": [1, 2, 1], "neighbour_old_la_code": ["802", "803", "803"]})


def test_data_is_aligned_by_year_with_nulls_for_gaps():
    data = explorer_data(_benchmarks(), NEIGHBOURS)
    assert data["years"] == [2022, 2023] and data["year_labels"] == ["2021-22", "2022-23"]
    assert [a["name"] for a in data["authorities"]] == ["Aville", "Btown", "Cville"]
    assert data["values"]["cin_per_10k_children"]["802"] == [None, 25.0]
    assert data["basis"]["cin_per_10k_children"]["801"] == "pr" and data["basis"]["cin_per_10k_children"]["802"] == " r"
    # Rank and band only where the measure has a polarity.
    assert "cin_per_10k_children" not in data["rank"] and data["rank"]["rereferral_percentage"]["802"] == [None, 2]
    assert data["band"]["rereferral_percentage"]["801"] == "AA"
    assert data["regions"]["cin_per_10k_children"]["E12000001"] == [None, 2.5]  # regional value blank, as before 2012-13
    assert data["england"]["rereferral_percentage"] == [3.5, 3.5] and data["ranked"]["rereferral_percentage"] == [2, 3]
    json.dumps(data, allow_nan=False)  # no NaN reaches the page


def test_each_model_s_neighbours_and_the_year_each_is_in_force():
    data = explorer_data(_benchmarks(), NEIGHBOURS)
    assert data["models"] == {"2021": {"801": ["802", "803"]}, "2025": {"801": ["803"]}}
    assert data["model_of_year"] == ["2021", "2025"]  # DfE's 2025 model from 2022-23


def test_page_is_self_contained_with_its_notes():
    page = explorer_html(explorer_data(_benchmarks(), NEIGHBOURS))
    head = page.split('<script type="application/json"')[0]
    assert "<script src" not in page and "http" not in head and "Plotly" not in page
    payload = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(payload)["values"]["cin_per_10k_children"]["801"] == [23.0, 24.0]
    for control in ('id="authority"', 'id="measure"', 'id="download"', 'id="each-neighbour"'):
        assert control in page
    notes = re.sub(r"\s+", " ", re.search(r'<ul class="note" id="notes">(.*?)</ul>', page, re.S).group(1))
    assert "DfE's own published figures" in notes and "2025 model from 2022-23" in notes
    assert "Regional values are blank before 2012-13" in notes and '"Not applicable"' in notes
