"""Strand 1: comparator selection, difference-in-differences and inference,
for every configured study and every data vintage that covers its years."""
import importlib
import time

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core import did_reuse, result_store
from fact22_assets.core.calibration.rates import with_calibration
from fact22_assets.core.did.contract import RESULTS
from fact22_assets.core.did.estimators import ESTIMATORS, MART_DESCRIPTIONS, mart_names
from fact22_assets.core.did.evaluation import evaluate_outcome, stack_outcomes
from fact22_assets.core.did.prepared import PreparedPanel
from fact22_assets.core.did.whole_pool import PENALISED_SC, SYNTHETIC_DID
from fact22_assets.core.source_versions import STUDIES
from fact22_assets.defs.did import parallel
from fact22_assets.glue.publishing import BuildDuckDBResource
from fact22_assets.glue.sources import source_key
from fact22_assets.glue.studies import exclusions
from fact22_assets.glue.studies import studies as configured_studies
from fact22_assets.glue.tables import replace_table, sql_dependencies, sql_text, table_metadata
from fact22_assets.settings import code_version

GROUP = "did"
CALIBRATION = [dg.AssetKey(["marts", "estimator_calibration"]), dg.AssetKey(["marts", "detectable_effects"])]
# The columns every mart's rows are keyed by: all an empty mart has.
EMPTY_MART = {"study_id": "str", "vintage": "str", "outcome": "str", "code_version": "str"}
# Every mart the registered estimators write, then the asset's own log of runs.
TABLES = {**{name: MART_DESCRIPTIONS[name] for name in mart_names()},
          "did_runs": "Which study and vintage pairs were estimated, and why any was not."}


# Read here: the three SQL files below, and the deprivation scores.
DEPS = sorted({*sql_dependencies("did/panel.sql"), *sql_dependencies("did/neighbours.sql"),
               *sql_dependencies("did/neighbours_by_unit.sql"), *sql_dependencies("did/vintages.sql"),
               dg.AssetKey(["raw", "deprivation"]), source_key(STUDIES), *CALIBRATION},
              key=lambda key: key.to_user_string())


def _sql(name: str) -> str:
    return sql_text(f"did/{name}.sql")


# Relative cost of an estimator's work per outcome, to start the longest jobs first (only the order depends on it).
_COST = {"synthetic_did": 10, "penalised_synthetic_control": 4, "comparator_robustness": 3}


def _estimate_all(context: dg.AssetExecutionContext, con, reuse: "_Reuse | None" = None) -> dict[str, pd.DataFrame]:
    studies = configured_studies()
    vintages = con.execute(_sql("vintages")).df()
    deprivation = con.execute("SELECT utla_code AS unit_code, imd_average_score FROM raw.deprivation").df()
    version = code_version()
    tables: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    runs, panels, estimated = [], {}, []
    for entry in studies:
        study = entry.study
        neighbours = con.execute(_sql("neighbours"), {"model": entry.neighbour_model,
                                                      "treated_unit_code": study.treated_unit_code}).df()
        neighbours_by_unit = con.execute(_sql("neighbours_by_unit"), {"model": entry.neighbour_model}).df()
        covered = [v for v in vintages.itertuples()
                   if v.first_year <= min(study.pre_years) and v.last_year >= max(study.post_years)]
        for vintage in vintages.itertuples():
            if vintage not in covered:
                runs.append({"study_id": study.study_id, "vintage": vintage.vintage, "status": "not estimated",
                             "reason": f"vintage covers {vintage.first_year}-{vintage.last_year}, the study needs "
                                       f"{min(study.pre_years)}-{max(study.post_years)}"})
                continue
            if vintage.vintage not in panels:
                panels[vintage.vintage] = PreparedPanel(con.execute(_sql("panel"), {"vintage": vintage.vintage}).df())
            chosen = tuple(e for e in ESTIMATORS if e.name not in entry.skip_estimators)
            skipped = [e.name for e in ESTIMATORS if e not in chosen]
            estimated.append((len(runs), study, vintage.vintage, chosen,
                              dict(neighbours=neighbours, deprivation=deprivation, estimators=chosen,
                                   exclusions=exclusions(entry), neighbours_by_unit=neighbours_by_unit)))
            runs.append({"study_id": study.study_id, "vintage": vintage.vintage, "status": "estimated",
                         "reason": f"skipped by the study: {', '.join(skipped)}" if skipped else None})
    outcome_parts = _evaluate_outcomes(context, estimated, panels, reuse)
    for _, study, vintage, chosen, _ in estimated:
        results = stack_outcomes([outcome_parts[(study.study_id, vintage, outcome)] for outcome in study.outcomes],
                                 chosen)
        for name, frame in results.items():
            frame = frame.copy()
            frame.insert(1, "vintage", vintage)
            frame["code_version"] = version
            tables[name].append(frame)
    # A mart no study's estimators wrote (every study skips them) is published empty, never left as it was.
    out = {name: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(EMPTY_MART)).astype(EMPTY_MART)
           for name, frames in tables.items() if name != "did_runs"}
    out["did_runs"] = pd.DataFrame(runs).assign(code_version=version)
    # Whether each row's p-value is calibrated, from the national placebo study (core/calibration/rates.py).
    calibration = con.execute("SELECT * FROM marts.estimator_calibration").df()
    detectable = con.execute("SELECT design, unit_code, first_post_year, outcome, noise_band "
                             "FROM marts.detectable_effects").df()
    out[RESULTS] = with_calibration(out[RESULTS], calibration, {e.study.study_id: e for e in studies}, detectable)
    return out


class _Reuse:
    """The run's store of job results (core/did_reuse.py), the code and libraries they were computed with, and
    what this run reused and estimated."""

    def __init__(self, store: result_store.ResultStore, code: str):
        self.store = store
        self.code, self.libraries = code, did_reuse.library_versions()
        self.keys: dict[tuple, str] = {}
        self.reused: list[tuple] = []
        self.estimated: list[tuple] = []

    def key(self, panel: pd.DataFrame, study, vintage: str, outcome: str, chosen, arguments,
            slices: dict) -> str | None:
        if not did_reuse.reusable(panel):
            return None
        years = tuple(study.study_years)
        if (vintage, years) not in slices:
            slices[(vintage, years)] = did_reuse.panel_slice_digest(panel, years)
        return did_reuse.job_key(
            code=self.code, libraries=self.libraries, study=study, outcome=outcome,
            estimators=[e.name for e in chosen], panel_slice=slices[(vintage, years)],
            neighbours=arguments["neighbours"], deprivation=arguments["deprivation"],
            exclusions=arguments["exclusions"], neighbours_by_unit=arguments["neighbours_by_unit"])


def _reuse_for(duckdb: DuckDBResource) -> _Reuse | None:
    """Reuse only in a build (a run's resource, beside the published file): the store lies in the warehouse
    folder, ``cache/did/``; the code is the fingerprint the run started with (what the publication records)."""
    if not isinstance(duckdb, BuildDuckDBResource):
        return None
    return _Reuse(*duckdb.kept_results("did"))


def _evaluate_outcomes(context, estimated, panels, reuse: _Reuse | None = None) -> dict:
    """(study_id, vintage, outcome) -> `evaluate_outcome` parts, in worker processes (see `parallel`).

    One job per treated unit, vintage and outcome: studies that share them
    (one only fixing other comparators) run in the same process, one after
    the other, so the whole-pool estimators' cache serves the second.
    With ``reuse``, a (study, vintage, outcome) whose inputs are those of a stored result is taken from the
    store, not estimated (core/did_reuse.py); what is estimated is stored.
    """
    groups: dict[tuple, list] = {}
    done: dict[tuple, dict] = {}
    slices: dict = {}
    for _, study, vintage, chosen, arguments in estimated:
        context.log.info(f"estimating {study.study_id} on vintage {vintage} ({len(panels[vintage].frame)} unit-years, "
                         f"{len(chosen)} estimators, {len(study.outcomes)} outcomes)")
        for outcome in study.outcomes:
            wanted = (study.study_id, vintage, outcome)
            if reuse is not None:
                key = reuse.key(panels[vintage].frame, study, vintage, outcome, chosen, arguments, slices)
                if key is not None:
                    reuse.keys[wanted] = key
                    stored = reuse.store.get(key)
                    if stored is not None:
                        done[wanted] = stored
                        reuse.reused.append(wanted)
                        continue
                reuse.estimated.append(wanted)
            groups.setdefault((study.treated_unit_code, vintage, outcome), []).append(
                (study, vintage, outcome, chosen, arguments))
    keys = list(groups)
    if keys:
        # What every job imports (statsmodels for the OLS fits, scipy.stats for the closed forms' t distribution),
        # imported once here, before the workers fork: imported in each worker, it cost each its own 1-2 s of CPU.
        import scipy.stats  # noqa: F401
        import statsmodels.api  # noqa: F401
    # The compiled solvers, loaded (or compiled, after a change) once, before the workers fork.
    names = {e.name for key in keys for *_, chosen, _ in groups[key] for e in chosen}
    for estimator, kernel in ((SYNTHETIC_DID, "frank_wolfe"), (PENALISED_SC, "penalised_qp")):
        if estimator in names:
            importlib.import_module(f"fact22_assets.core.did.{kernel}")

    def job(key):
        return lambda: [evaluate_outcome(panels[vintage], study, outcome, **arguments)
                        for study, vintage, outcome, _, arguments in groups[key]]

    cost = [sum(_COST.get(e.name, 1) for _, _, _, chosen, _ in groups[key] for e in chosen) for key in keys]
    order = sorted(range(len(keys)), key=lambda i: -cost[i])
    n_workers = parallel.workers()
    started = time.perf_counter()
    results = parallel.run_jobs([job(key) for key in keys], n_workers, order)
    context.log.info(f"{len(keys)} estimation jobs in {time.perf_counter() - started:.1f} s "
                     f"({n_workers if parallel.can_fork() else 1} worker process(es))")
    for key, parts_of_group in zip(keys, results):
        for (study, vintage, outcome, _, _), parts in zip(groups[key], parts_of_group):
            done[(study.study_id, vintage, outcome)] = parts
    if reuse is not None:
        for wanted in reuse.estimated:
            if wanted in reuse.keys:
                reuse.store.put(reuse.keys[wanted], done[wanted])
        reuse.store.keep_only(reuse.keys.values())
        context.log.info(f"{len(reuse.reused)} (study, vintage, outcome) result(s) reused, their inputs unchanged; "
                         f"{len(reuse.estimated)} estimated")
    return done


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["marts", name], group_name=GROUP, kinds={"duckdb", "python"}, description=text,
                     deps=DEPS)
        for name, text in TABLES.items()
    ],
    can_subset=False,
)
def did_marts(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """One pass over every study and vintage (the estimators share the comparator choice).

    The outcomes are evaluated in forked worker processes (FACT22_DID_WORKERS, default 2; see
    `parallel`): the same tables as one after another, in the same order."""
    reuse = _reuse_for(duckdb)
    with duckdb.get_connection() as con:
        tables = _estimate_all(context, con, reuse)
        for name, frame in tables.items():
            table = f"marts.{name}"
            replace_table(con, table, frame)
            metadata = table_metadata(con, table)
            if name == "did_runs" and reuse is not None:
                metadata |= {"jobs_estimated": len(reuse.estimated), "jobs_reused": len(reuse.reused)}
            yield dg.MaterializeResult(asset_key=["marts", name], metadata=metadata)
