"""The national placebo study: its own asset group and job, partitioned by outcome, never part of a refresh.

Each partition (one outcome) reads the *published* warehouse read-only,
runs every authority's study at every start year the data allow (see
core/calibration) in forked worker processes (FACT22_DID_WORKERS, as the DiD
strand), and writes its result file and manifest into the calibration folder
(FACT22_CALIBRATION_DIR, default warehouse/calibration/).  It never writes the
warehouse, so partitions can run side by side under any executor; the
refresh then reads the folder as the source ``calibration``.

`make calibrate` materialises the partitions of the outcomes the studies
analyse, then refreshes what depends on the calibration.
"""

import os
import resource
import time
from datetime import UTC, datetime
from functools import partial

import dagster as dg
import pandas as pd

from fact22_assets.core import measures
from fact22_assets.core.calibration.files import calibration_code, write_results
from fact22_assets.core.calibration.placebo_studies import LOO_APPROXIMATION, METHODS, STUDY_COLUMNS, run_slice
from fact22_assets.defs.calibration.inputs import read_published
from fact22_assets.defs.did import parallel
from fact22_assets.settings import (
    REPO_ROOT,
    calibration_dir,
    calibration_methods,
    calibration_start_years,
    code_version,
    warehouse_path,
)

GROUP = "calibration"
PLACEBO_STUDIES = dg.AssetKey(["calibration", "placebo_studies"])
# Every rate of the measure registry can be calibrated; `make calibrate` runs those the studies analyse.
OUTCOMES = dg.StaticPartitionsDefinition(list(measures.RATE_NAMES))


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the forked workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def placebo_studies(outcome: str, log=None) -> tuple[pd.DataFrame, dict]:
    """Every study of every slice of ``outcome`` on the published warehouse, and the manifest that says how."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    data = read_published(warehouse_path())
    methods, years = calibration_methods() or list(METHODS), calibration_start_years()
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"FACT22_CALIBRATION_METHODS names {unknown}; the placebo study runs {list(METHODS)}")
    slices = data.slices(outcome, years)
    n_workers = parallel.workers()
    if log:
        log(f"{outcome}: {len(slices)} slices (start years x designs) on vintage {data.vintage}, "
            f"{n_workers} worker(s)")
    results = parallel.run_jobs([partial(run_slice, s, methods=methods) for s in slices], n_workers)
    frames = [frame.assign(design=s.design.label) for s, frame in zip(slices, results)]
    table = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame(columns=[*STUDY_COLUMNS, "design"]))
    table.insert(0, "vintage", data.vintage)
    table.insert(2, "unit_name", data.panel.names.reindex(table["unit_code"]).to_numpy())
    manifest = {
        "outcome": outcome, "vintage": data.vintage, "code_version": code_version(),
        "calibration_code": calibration_code(REPO_ROOT), "panel_digest": data.panel_digest,
        "computed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "design": sorted({d.label for d in data.designs}),
        "start_years": sorted({s.start_year for s in slices}),
        "n_studies": int(table[["unit_code", "first_post_year", "design"]].drop_duplicates().shape[0]),
        "n_placebo_studies": int(table.loc[table["placebo"].astype(bool),
                                           ["unit_code", "first_post_year", "design"]].drop_duplicates().shape[0]),
        "methods": methods, "seed": slices[0].seed if slices else None,
        "approximations": {m: text for m, text in LOO_APPROXIMATION.items() if m in methods},
        "cpu_seconds": round(_cpu_seconds() - cpu, 1), "wall_seconds": round(time.perf_counter() - wall, 1),
        "workers": n_workers if parallel.can_fork() else 1,
    }
    return table, manifest


@dg.asset(key=PLACEBO_STUDIES, group_name=GROUP, partitions_def=OUTCOMES, kinds={"python", "parquet"},
          description="The national placebo study of one outcome: every authority's study (comparator rule, "
                      "estimators and their placebo inference) at every start year the published data allow, "
                      "written to the calibration folder (FACT22_CALIBRATION_DIR) as <outcome>.parquet and "
                      "<outcome>.json. Read by the refresh as sources/calibration; never part of a refresh.")
def calibration_placebo_studies(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    outcome = context.partition_key
    table, manifest = placebo_studies(outcome, context.log.info)
    folder = calibration_dir()
    write_results(folder, outcome, table, manifest)
    context.log.info(f"{outcome}: {manifest['n_studies']} studies ({manifest['n_placebo_studies']} placebo) in "
                     f"{manifest['cpu_seconds']} s CPU, {manifest['wall_seconds']} s wall -> {folder}")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(folder / f"{outcome}.parquet")),
        "vintage": dg.MetadataValue.text(manifest["vintage"]),
        "rows": dg.MetadataValue.int(len(table)),
        "studies": dg.MetadataValue.int(manifest["n_studies"]),
        "placebo_studies": dg.MetadataValue.int(manifest["n_placebo_studies"]),
        "start_years": dg.MetadataValue.text(", ".join(map(str, manifest["start_years"]))),
        "cpu_seconds": dg.MetadataValue.float(manifest["cpu_seconds"]),
        "wall_seconds": dg.MetadataValue.float(manifest["wall_seconds"]),
        "pid": dg.MetadataValue.int(os.getpid()),
    })


calibration = dg.define_asset_job(
    "calibration",
    selection=dg.AssetSelection.groups(GROUP),
    partitions_def=OUTCOMES,
    executor_def=dg.multiprocess_executor,
    description="The national placebo study, one outcome per partition (`make calibrate` runs the studies' "
                "outcomes, then a refresh of what depends on sources/calibration). Reads the published "
                "warehouse; writes only the calibration folder.",
)
