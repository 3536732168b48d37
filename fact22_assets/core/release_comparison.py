"""A new children-in-need release compared with the one before it.

Plausible damage passes every cell-level check: a file cut at a line
boundary (the missing rows then come silently from the older release), a
dropped digit, values moved between rows.  What catches it is comparison
with what was published before:

- **coverage**: a release covers every area-year-measure its predecessor
  covered (DfE republishes the whole back series each year);
- **revision**: a number an earlier release published for the same area,
  year and measure moves by more than ``REVISION_BOUND`` only in a release
  declared a revision;
- **trend**: an authority's count moves from one year to the next within
  ``TREND_BOUNDS``;
- **parts**: the files of one release (b1, c1, d3) cover the same
  area-years, so rows missing from one file name that file, not a sibling.

"Before it" is what was published before it: for each area-year-measure the
value of the latest earlier release that published it.  A revision that
re-issues some files of a published release (a corrected c1 landed again:
``cin_2025_r1``, ranked just above ``cin_2025``) is a *partial* release: it
must cover what was published for the measures it carries, not the others.

The bounds come from the real history (README, "Comparison with what is
published"): the 2022 and 2025 releases agree on every number for 2013-2022,
so any numeric revision is suspect; and year-on-year ratios of authorities'
counts of at least ``TREND_MIN_COUNT`` ranged from 0.13 to 5.2 over 2013-2025
(0.1 is a dropped digit, 10 an added one).
"""
from __future__ import annotations

import pandas as pd

KEY = ["geographic_level", "area_key", "measure", "collection_year"]
REVISION_BOUND = (0.05, 10.0)        # relative change and absolute change, both exceeded, to block
TREND_BOUNDS = (0.12, 8.0)           # year-on-year ratio outside these bounds blocks
TREND_MIN_COUNT = 50                 # below this the ratio of small counts says little
EVIDENCE = ["source_file", "source_row", "source_column", "area_name", "collection_year", "measure"]


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["area_key"] = out["old_la_code"].fillna(out["area_code"])
    return out


def coverage_gaps(previous: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Area-year-measures ``previous`` published that ``new`` lacks, with
    where the previous release printed them."""
    previous, new = _keyed(previous), _keyed(new)
    merged = previous.merge(new[KEY].drop_duplicates(), on=KEY, how="left", indicator=True)
    gaps = merged[merged["_merge"] == "left_only"].rename(columns={"source_file": "previous_file",
                                                                    "source_row": "previous_row"})
    # The file of the new release that should have held the row: the one carrying that measure.
    carrying = new.groupby("measure")["source_file"].first()
    gaps = gaps.assign(source_file=gaps["measure"].map(carrying))
    return gaps[["source_file", "area_name", "collection_year", "measure", "source_column", "previous_file",
                 "previous_row", "value_text"]].reset_index(drop=True)


def revisions(previous: pd.DataFrame, new: pd.DataFrame, bound=REVISION_BOUND) -> pd.DataFrame:
    """Numbers ``new`` changes by more than ``bound`` from ``previous``, named by the new file's cell."""
    previous, new = _keyed(previous), _keyed(new)
    both = new.merge(previous[[*KEY, "value"]].rename(columns={"value": "previous_value"}), on=KEY)
    both = both[both["value"].notna() & both["previous_value"].notna()]
    change = (both["value"] - both["previous_value"]).abs()
    moved = both[(change > bound[1]) & (change > bound[0] * both["previous_value"].abs())]
    return moved[[*EVIDENCE, "previous_value", "value"]].reset_index(drop=True)


def trend_jumps(release: pd.DataFrame, bounds=TREND_BOUNDS, min_count=TREND_MIN_COUNT,
                only_release: str | None = None) -> pd.DataFrame:
    """Authority counts whose ratio to the same authority's previous year lies outside ``bounds``
    (``only_release``: of the pairs of years ``release`` holds, those where either year is that release's)."""
    frame = _keyed(release)
    frame = frame[(frame["geographic_level"] == "Local authority") & frame["value"].notna()]
    if "release_id" not in frame:
        frame = frame.assign(release_id=None)
    prior = frame[["area_key", "measure", "collection_year", "value", "release_id"]].rename(
        columns={"value": "previous_year_value", "release_id": "previous_year_release_id"})
    prior = prior.assign(collection_year=prior["collection_year"] + 1)
    both = frame.merge(prior, on=["area_key", "measure", "collection_year"])
    both = both[both["previous_year_value"] >= min_count].reset_index(drop=True)
    if only_release is not None:
        both = both[(both["release_id"] == only_release) | (both["previous_year_release_id"] == only_release)]
    both["ratio"] = (both["value"] / both["previous_year_value"]).round(3)
    jumps = both[(both["ratio"] < bounds[0]) | (both["ratio"] > bounds[1])]
    return jumps[[*EVIDENCE, "previous_year_value", "value", "ratio"]].reset_index(drop=True)


def part_gaps(release: pd.DataFrame) -> pd.DataFrame:
    """Area-years the files of one release disagree on, each named by the
    odd one out: the files lacking an area-year most files have, or the
    files having one most files lack (a changed authority code)."""
    frame = _keyed(release)
    keys = ["geographic_level", "area_key", "collection_year"]
    present = frame[[*keys, "source_file", "area_name"]].drop_duplicates(subset=[*keys, "source_file"])
    files = sorted(present["source_file"].unique())
    holders = present.groupby(keys)["source_file"].agg(frozenset).reset_index()
    names = present.drop_duplicates(subset=keys).set_index(keys)["area_name"]
    found = []
    for row in holders.itertuples(index=False):
        have = row.source_file
        if len(have) == len(files):
            continue
        odd = sorted(have) if 2 * len(have) < len(files) else [f for f in files if f not in have]
        problem = "only this file has it" if 2 * len(have) < len(files) else "missing from this file"
        key = (row.geographic_level, row.area_key, row.collection_year)
        found += [{"source_file": f, "geographic_level": key[0], "area_code": key[1], "area_name": names.loc[key],
                   "collection_year": key[2], "problem": problem} for f in odd]
    return pd.DataFrame(found, columns=["source_file", "geographic_level", "area_code", "area_name",
                                        "collection_year", "problem"])


def published_before(rows: pd.DataFrame) -> pd.DataFrame:
    """What ``rows`` (several releases) published: each area-year-measure's
    row from the latest release (by rank) that has it."""
    keyed = _keyed(rows).sort_values("release_rank", kind="stable")
    return keyed.drop_duplicates(subset=KEY, keep="last").drop(columns="area_key")


def compare_releases(rows: pd.DataFrame, revision_releases: set[str] = frozenset(),
                     partial_releases: set[str] = frozenset()) -> dict[str, pd.DataFrame]:
    """Each release against what was published before it, by rank (``rows``:
    raw.cin_ees plus ``release_rank``); what each of the comparisons found.
    ``revision_releases``: declared revisions, exempt from the revision bound;
    ``partial_releases``: revisions re-issuing some files of a published
    release, whose coverage is checked for the measures they carry."""
    ranked = rows[["release_id", "release_rank"]].drop_duplicates().sort_values("release_rank")["release_id"].tolist()
    found = {"parts": [], "coverage": [], "revision": [], "trend": []}
    for position, release in enumerate(ranked):
        new = rows[rows["release_id"] == release]
        found["parts"].append(part_gaps(new).assign(release_id=release))
        if position == 0:
            found["trend"].append(trend_jumps(new).assign(release_id=release))
            continue
        previous = published_before(rows[rows["release_id"].isin(ranked[:position])])
        # The trend of the series as this release leaves it (a partial release's cells among the published ones).
        standing = published_before(pd.concat([previous, new], ignore_index=True))
        found["trend"].append(trend_jumps(standing, only_release=release).assign(release_id=release))
        covered = previous[previous["measure"].isin(new["measure"].unique())] if release in partial_releases \
            else previous
        found["coverage"].append(coverage_gaps(covered, new).assign(release_id=release))
        if release not in revision_releases:
            found["revision"].append(revisions(previous, new).assign(release_id=release))
    return {k: pd.concat(v, ignore_index=True) if v else pd.DataFrame() for k, v in found.items()}
