"""Golden comparators: the authority each study's ranking rule picks, per vintage and outcome,
recomputed from the raw files with pandas, statsmodels and scipy (nothing from fact22_assets).

The rule (core/did/ranking.py's docstring, data/studies.yaml): candidates are the authorities
with the outcome and the covariate in every study year whose series no boundary change
interrupts, less the treated authority and any authority treated in another study whose
programme ran during the window. A candidate passes the pre-trend gate when the OLS
y = a + b T + c year + d T x year on the two units' pre-period rows gives p(d) >= 0.10.
Each distance becomes a percentile among the candidates (average ranks for ties, a missing
value after every observed one): trend = mean of |d| and of the RMS deviation of the yearly
gap from its own line; level = |difference of pre-period means|; demography = mean of the
available percentiles of |ln population ratio|, |difference in CIN per 10,000 children|, the
rank among the treated authority's DfE statistical neighbours (2021 model) and |difference
in IMD 2019 average score|. composite = (0.5 trend + 0.3 level + 0.2 demography) over the
weights used; the pick is the first by (passes the gate, composite, code).

The picks are pinned by name (the literal codes below), for the cin_2025 and the cin_2022
vintages, and must be what the warehouse selected.
"""
from __future__ import annotations

from functools import lru_cache

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml
from scipy.stats import rankdata

from . import raw_published as raw

# (study, vintage, outcome) -> the ranking rule's pick. Studies that fix their comparators are not here.
EXPECTED = {
    ("fact22_cheshire_east", "cin_2025", "closures_per_10k"): "E09000021",  # Kingston upon Thames
    ("fact22_cheshire_east", "cin_2025", "rereferrals_per_10k"): "E06000054",  # Wiltshire
    ("fact22_cheshire_east", "cin_2025", "escalations_per_10k"): "E09000026",  # Redbridge
    ("fact22_cheshire_east", "cin_2022", "closures_per_10k"): "E09000021",
    ("fact22_cheshire_east", "cin_2022", "rereferrals_per_10k"): "E06000054",
    ("fact22_cheshire_east", "cin_2022", "escalations_per_10k"): "E09000026",
    ("illustration_enfield_2019", "cin_2025", "closures_per_10k"): "E09000018",  # Hounslow
    ("illustration_enfield_2019", "cin_2025", "rereferrals_per_10k"): "E09000014",  # Haringey
    ("illustration_enfield_2019", "cin_2025", "escalations_per_10k"): "E06000013",  # North Lincolnshire
    ("illustration_enfield_2019", "cin_2022", "closures_per_10k"): "E09000018",
    ("illustration_enfield_2019", "cin_2022", "rereferrals_per_10k"): "E09000014",
    ("illustration_enfield_2019", "cin_2022", "escalations_per_10k"): "E06000013",
}
VINTAGE_RANK = {"cin_2022": 2022, "cin_2025": 2025}
ALPHA, WEIGHTS = 0.10, (0.5, 0.3, 0.2)


@lru_cache(maxsize=2)
def vintage_counts(vintage: str) -> pd.DataFrame:
    """raw_published.counts() for the releases published up to the vintage: the latest of them wins."""
    cells = pd.concat([raw._sfr_cells(), raw._ees_cells()], ignore_index=True)
    cells = cells[cells["release_rank"] <= VINTAGE_RANK[vintage]]
    latest = cells.sort_values("release_rank").drop_duplicates(["level", "key", "year", "measure"], keep="last")
    latest = latest.assign(value=latest["printed"].map(raw._number))
    wide = latest.pivot(index=["level", "key", "year"], columns="measure", values="value").reset_index()
    wide.loc[wide["year"] == 2010, "rereferrals"] = np.nan
    return wide[wide["level"] == "Local authority"]


@lru_cache(maxsize=4)
def vintage_panel(vintage: str) -> pd.DataFrame:
    """Authority x year in the vintage: each unit named by its code in the vintage's last year with data."""
    frame = vintage_counts(vintage).copy()
    last = frame.groupby("key")["year"].max()
    frame["unit_code"] = frame["key"].map({k: raw.code_in_year(k, int(y)) for k, y in last.items()})
    frame["population_all_ages"] = [raw.all_ages_for(k, y) for k, y in zip(frame["key"], frame["year"])]
    kids = raw.children()
    frame["population_0_17"] = [kids.get((k, y - 1), np.nan) for k, y in zip(frame["key"], frame["year"])]
    for rate, count in raw.RESIDENT_RATES.items():
        frame[rate] = 10000.0 * frame[count] / frame["population_all_ages"]
    frame["cin_per_10k_children"] = 10000.0 * frame["cin_at_31_march"] / frame["population_0_17"]
    return frame


@lru_cache(maxsize=1)
def _studies() -> dict:
    """data/studies.yaml by study id, parsed once (read it, never change it): `eligible` asks per authority."""
    return {s["study_id"]: s for s in yaml.safe_load((raw.DATA / "studies.yaml").read_text())["studies"]}


def _excluded(study_id: str) -> set[str]:
    """Authorities treated in another study whose programme ran during this study's years."""
    studies, mine = _studies(), _studies()[study_id]["design"]
    years = mine["pre_years"] + mine["post_years"]
    out = set()
    for other in studies.values():
        design = other["design"]
        if other.get("programme_ran", True) and design["treated_unit_code"] != mine["treated_unit_code"] \
                and design["post_years"][0] <= max(years) and design["post_years"][-1] >= min(years):
            out.add(design["treated_unit_code"])
    return out


@lru_cache(maxsize=1)
def neighbours_2021() -> pd.DataFrame:
    frame = pd.read_csv(raw.DATA / "statistical_neighbours" / "New_Statistical_Neighbour_Groupings_April_2021.csv",
                        dtype=str, encoding="utf-8-sig")
    columns = [c for c in frame.columns if c.startswith("SN") and c[2:].isdigit()]
    long = frame.melt(id_vars=["LA num"], value_vars=columns, var_name="column", value_name="neighbour")
    long["neighbour_rank"] = long["column"].str[2:].astype(int)
    return long.rename(columns={"LA num": "key"})[["key", "neighbour", "neighbour_rank"]]


@lru_cache(maxsize=1)
def imd() -> pd.Series:
    sheet = pd.read_excel(raw.DATA / "statistical_neighbours" /
                          "File_11_-_IoD2019_Local_Authority_District_Summaries__upper-tier__.xlsx", sheet_name="IMD")
    sheet.columns = [str(c).strip() for c in sheet.columns]
    return sheet.set_index("Upper Tier Local Authority District code (2019)")["IMD - Average score"].astype(float)


def _percentile(distance: np.ndarray) -> np.ndarray:
    """Average ranks over the observed values, a missing value after every observed one, over n."""
    n, observed = distance.size, ~np.isnan(distance)
    out = np.full(n, (observed.sum() + (n - observed.sum() + 1) / 2) / n)
    out[observed] = rankdata(distance[observed], method="average") / n
    return out


def eligible(study_id: str, vintage: str, outcome: str) -> list[str]:
    design = _studies()[study_id]["design"]
    years = list(design["pre_years"]) + list(design["post_years"])
    frame = vintage_panel(vintage)
    frame = frame[frame["year"].isin(years)]
    complete = frame.dropna(subset=[outcome, design["covariate"]]).groupby("unit_code")["year"].nunique()
    keys = frame.groupby("unit_code")["key"].first()
    excluded = _excluded(study_id)
    return sorted(u for u, n in complete.items() if n == len(years) and u != design["treated_unit_code"]
                  and u not in excluded and not raw._boundary_breaks_window(keys[u], tuple(years)))


def rule_pick(study_id: str, vintage: str, outcome: str, pseudo_treated: str | None = None) -> tuple[str, pd.DataFrame]:
    """The rule's pick for the study's treated authority, or for an eligible authority as a placebo
    (its candidates: every other eligible authority; its own statistical neighbours)."""
    design = _studies()[study_id]["design"]
    treated, pre = pseudo_treated or design["treated_unit_code"], list(design["pre_years"])
    years = pre + list(design["post_years"])
    frame = vintage_panel(vintage)
    frame = frame[frame["year"].isin(years)]
    keys = frame.groupby("unit_code")["key"].first()
    candidates = [u for u in eligible(study_id, vintage, outcome) if u != treated]
    wide = frame.pivot(index="unit_code", columns="year", values=outcome)[pre]
    t = wide.loc[treated].to_numpy()
    rows = []
    for c in candidates:
        y = wide.loc[c].to_numpy()
        design_matrix = pd.DataFrame({"T": [1.0] * len(pre) + [0.0] * len(pre), "year": pre * 2})
        design_matrix["Tx"] = design_matrix["T"] * design_matrix["year"]
        fit = sm.OLS(np.r_[t, y], sm.add_constant(design_matrix)).fit()
        gap = y - t
        line = np.polyval(np.polyfit(pre, gap, 1), pre)
        rows.append({"unit_code": c, "p": fit.pvalues["Tx"], "slope": abs(fit.params["Tx"]),
                     "gap_rmse": round(float(np.sqrt(np.mean((gap - line) ** 2))), 9),
                     "level": abs(y.mean() - t.mean())})
    scores = pd.DataFrame(rows)
    pre_rows = frame[frame["year"].isin(pre)]

    def pre_mean(column):
        return pre_rows.groupby("unit_code")[column].mean()

    population, cin = pre_mean("population_all_ages"), pre_mean("cin_per_10k_children")
    scores["population"] = np.abs(np.log(population.reindex(candidates).to_numpy() / population[treated]))
    scores["cin_rate"] = np.abs(cin.reindex(candidates).to_numpy() - cin[treated])
    own = neighbours_2021()
    own = own[own["key"] == keys[treated]]
    unit_of = frame.drop_duplicates("key").set_index("key")["unit_code"]
    ranks = dict(zip(own["neighbour"].map(unit_of), own["neighbour_rank"]))
    scores["neighbour"] = [ranks.get(c, np.nan) for c in candidates]
    scores["imd"] = np.abs(imd().reindex(candidates).to_numpy() - imd().get(treated, np.nan))
    scores["pct_trend"] = (_percentile(scores["slope"].to_numpy()) + _percentile(scores["gap_rmse"].to_numpy())) / 2
    scores["pct_level"] = _percentile(scores["level"].to_numpy())
    demographic = [_percentile(scores[d].to_numpy()) for d in ("population", "cin_rate", "neighbour", "imd")
                   if scores[d].notna().any()]
    scores["demography"] = np.mean(demographic, axis=0)
    parts = scores[["pct_trend", "pct_level", "demography"]].to_numpy()
    used = np.where(np.isnan(parts), 0.0, WEIGHTS)
    scores["composite"] = np.nansum(parts * used, axis=1) / used.sum(axis=1)
    scores["passes"] = scores["p"] >= ALPHA
    ordered = scores.sort_values(["passes", "composite", "unit_code"], ascending=[False, True, True])
    return ordered["unit_code"].iloc[0], ordered


@pytest.fixture(scope="module")
def selected(built_warehouse) -> dict[tuple, str]:
    con = duckdb.connect(str(built_warehouse), read_only=True)
    rows = con.execute("SELECT study_id, vintage, outcome, unit_code FROM marts.comparator_ranking WHERE selected").df()
    con.close()
    return {(r.study_id, r.vintage, r.outcome): r.unit_code for r in rows.itertuples()}


@pytest.mark.parametrize("key", list(EXPECTED), ids=["-".join(k) for k in EXPECTED])
def test_the_rule_picks_the_named_comparator(key, selected):
    pick, ordered = rule_pick(*key)
    assert pick == EXPECTED[key], ordered.head(5).to_string()
    assert selected[key] == EXPECTED[key]


def test_studies_that_fix_their_comparators_select_them(selected):
    fixed = _studies()["fact22_original_comparators"]["design"]["comparators"]
    for vintage in VINTAGE_RANK:
        for outcome, code in fixed.items():
            assert selected[("fact22_original_comparators", vintage, outcome)] == code
