"""The explorer's data and page, on a hand-made benchmark table."""
import json
import re

import numpy as np
import pandas as pd

from fact22_assets.core.explorer import explorer_data, explorer_html


def _benchmarks():
    rows = []
    for code, name in (("801", "Aville"), ("802", "Btown")):
        for year in (2024, 2025):
            rows.append({"la_name": name, "old_la_code": code, "region_name": "North", "collection_year": year,
                         "collection_year_label": f"{year - 1}-{year % 100}", "measure": "cin_per_10k_children",
                         "measure_label": "Children in need per 10,000 children", "unit": "per 10,000 children",
                         "value": np.nan if (code, year) == ("802", 2024) else float(year - 2000 + int(code) % 10),
                         "sn_average": 1.5, "region_value": 2.5, "england_value": 3.5,
                         "national_rank": pd.NA if (code, year) == ("802", 2024) else int(code) - 800,
                         "ranked_authorities": 2, "quartile_band": "A" if code == "801" else "C", "sn_count": 10,
                         "sn_model": "2025"})
    frame = pd.DataFrame(rows)
    frame["national_rank"] = frame["national_rank"].astype("Int64")
    return frame


def test_data_is_aligned_by_year_with_nulls_for_gaps():
    data = explorer_data(_benchmarks())
    assert data["years"] == [2024, 2025] and data["year_labels"] == ["2023-24", "2024-25"]
    assert [a["name"] for a in data["authorities"]] == ["Aville", "Btown"]
    btown = data["rows"]["cin_per_10k_children"]["802"]
    assert btown["value"] == [None, 27.0] and btown["national_rank"] == [None, 2] and btown["quartile_band"] == ["C", "C"]
    json.dumps(data, allow_nan=False)  # no NaN reaches the page


def test_page_embeds_plotly_and_data_and_nothing_remote():
    page = explorer_html(explorer_data(_benchmarks()), "/* plotly */ window.Plotly = {};")
    assert "/* plotly */" in page and "<script src" not in page and "http" not in page.split("<script>")[0]
    payload = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(payload)["rows"]["cin_per_10k_children"]["801"]["value"] == [25.0, 26.0]
    assert 'id="authority"' in page and 'id="measure"' in page and 'id="download"' in page
