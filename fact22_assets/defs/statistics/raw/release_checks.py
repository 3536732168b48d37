"""A new release compared with what was published before it: coverage,
revisions and each authority's own trend (core/release_comparison.py).
Blocking: plausible damage (a file cut at a line boundary, a dropped digit,
values moved between rows) passes every cell-level check and only shows
against the history."""
import dagster as dg
from dagster_duckdb import DuckDBResource

from fact22_assets.core.landing import REVISION_SIDECAR
from fact22_assets.core.release_comparison import REVISION_BOUND, TREND_BOUNDS, TREND_MIN_COUNT, compare_releases
from fact22_assets.glue.checks import SAMPLE, check_query
from fact22_assets.glue.resources import SourcesResource

WHAT = {"parts": "area-years one file of a release has and another file of the same release lacks",
        "coverage": "area-year-measures an earlier release published are missing from the later one",
        "revision": f"numbers moved from the earlier release's by more than {REVISION_BOUND[0]:.0%} and "
                    f"{REVISION_BOUND[1]:g} (not declared a revision: if the new numbers are right, land the file "
                    f"again with '<file name>{REVISION_SIDECAR}' beside it saying 'reason: <why>')",
        "trend": f"authority counts (previous year >= {TREND_MIN_COUNT}) moved by a ratio outside "
                 f"{TREND_BOUNDS[0]:g}-{TREND_BOUNDS[1]:g} from the year before"}


def _cells(frame, limit: int = 3) -> str:
    return "; ".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in frame.head(limit).to_dict("records"))


@dg.asset_check(asset=dg.AssetKey(["raw", "cin_ees"]), blocking=True,
                additional_deps=[dg.AssetKey(["raw", "source_files"])],
                description="Each release against what was published before it: it covers every area-year-measure the earlier "
                            "one published, changes no published number beyond the revision bound unless declared a "
                            "revision, and moves no authority's count implausibly from its previous year.")
def raw_cin_ees_consistent_with_earlier_releases(duckdb: DuckDBResource,
                                                 sources: SourcesResource) -> dg.AssetCheckResult:
    rows = check_query(duckdb, "cin_ees_by_release")
    releases = sources.catalogue().releases.values()
    declared = {r.release_id for r in releases if r.revision}
    # Corrected files of a published release landed again: they cover what was published for their measures.
    found = compare_releases(rows, declared, partial_releases={r.release_id for r in releases if r.revises})
    problems = {k: v for k, v in found.items() if not v.empty}
    metadata = {f"{k}_problems": dg.MetadataValue.int(len(v)) for k, v in found.items()}
    metadata |= {f"{k}_sample": dg.MetadataValue.md(v.head(SAMPLE).to_markdown(index=False))
                 for k, v in problems.items()}
    metadata["declared_revisions"] = dg.MetadataValue.json(
        {r.release_id: r.revision_reason or "revision: true in the catalogue" for r in releases if r.revision})
    metadata["bounds"] = dg.MetadataValue.json({"revision_relative": REVISION_BOUND[0],
                                                "revision_absolute": REVISION_BOUND[1],
                                                "trend_ratio": list(TREND_BOUNDS), "trend_min_count": TREND_MIN_COUNT})
    if not problems:
        return dg.AssetCheckResult(passed=True, description="every release covers, and agrees with, the one before "
                                                            "it within the bounds", metadata=metadata)
    description = " | ".join(f"{len(v)} {WHAT[k]} (release {', '.join(sorted(v['release_id'].unique()))}): "
                             f"{_cells(v.drop(columns='release_id'))}" for k, v in problems.items())
    return dg.AssetCheckResult(passed=False, description=description[:2000], metadata=metadata)
