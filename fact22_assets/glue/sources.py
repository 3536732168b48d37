"""The files a refresh reads, as observable source assets upstream of the graph.

One source per group of files one reader takes (core/source_versions.py):
``sources/cin_ees`` feeds ``raw/cin_ees``, ``sources/studies`` the DiD marts,
and so on.  Every refresh observes them first; each observation carries the
source's data version, so the UI tells which assets are stale and why, and a
refresh rebuilds only what lies downstream of the sources that changed.
"""
import warnings

import dagster as dg

from fact22_assets.core.source_versions import CALIBRATION, CASEWORK, CATALOGUED, REFERENCE, SEED_FILES, STUDIES
from fact22_assets.glue.freshness import current_source_versions

GROUP = "sources"
# The national placebo study runs in its own partitioned job (`make calibrate`); a refresh reads its files as
# the source sources/calibration, and neither selects nor requires the group's assets.
NOT_REFRESHED_GROUP = "calibration"

DESCRIPTIONS = {
    **{name: f"The catalogued files of famil{'ies' if len(f) > 1 else 'y'} {', '.join(f)} "
             f"(data/sources.yaml, accepted and landed files) that raw/{name} parses."
       for name, f in CATALOGUED.items()},
    REFERENCE: f"The project's seed files data/reference/{{{','.join(SEED_FILES.values())}}}.",
    CASEWORK: "The council's case-level extracts (FACT22_CASEWORK_DIR; SYNTHETIC stand-ins by default).",
    STUDIES: "The studies file (data/studies.yaml): treated authorities, years, outcomes, fixed comparators.",
    CALIBRATION: "The national placebo study's result files (FACT22_CALIBRATION_DIR, default warehouse/calibration/): "
                 "one parquet file and one manifest per outcome, written by the calibration job (`make calibrate`).",
}


def source_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["sources", name])


def downstream_of(graph, sources: tuple[str, ...] | None) -> list[dg.AssetKey] | None:
    """What a refresh of ``sources`` selects: those sources (observed first) and every asset downstream of
    them, in the UI's order; None (everything) when ``sources`` is None.  The refresh's selection and the
    publication's audit both take it from here."""
    if sources is None:
        return None
    selected = dg.AssetSelection.assets(*(source_key(s) for s in sources)).downstream() \
        - dg.AssetSelection.groups(NOT_REFRESHED_GROUP)
    return sorted(selected.resolve(graph), key=lambda key: key.to_user_string())


def _observable(name: str) -> dg.SourceAsset:
    def _observe() -> dg.DataVersion:
        return dg.DataVersion(current_source_versions()[name])

    _observe.__name__ = f"observe_{name}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # observable sources are "beta" in Dagster 1.13
        return dg.observable_source_asset(key=source_key(name), group_name=GROUP,
                                          description=DESCRIPTIONS[name])(_observe)


def observed_sources() -> list[dg.SourceAsset]:
    """Every source, for the Definitions (added after owners are set: they are not the project's tables)."""
    return [_observable(name) for name in DESCRIPTIONS]
