"""Strand 1: comparator selection, difference-in-differences and inference,
for every configured study and every data vintage that covers its years."""
import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from ...core.did.config import load_studies
from ...core.did.evaluation import evaluate_study
from ...settings import SQL_DIR, code_version, studies_path
from ...warehouse import replace_table, table_metadata

GROUP = "did"
OWNERS = ["team:evaluation"]
TABLES = {
    "comparator_ranking": "Every candidate authority per study, vintage and outcome with eligibility (and why not), "
                          "pre-trend test, level and demographic similarity, component percentiles, composite score and "
                          "rank; `selected` marks the comparator.",
    "did_results": "Per study, vintage and outcome: the 2x2 difference of means, the report's OLS with and without the "
                   "CIN covariate (classical and HC1 errors, t, p, 95% CI, n) with the placebo-in-space permutation "
                   "p-value, and the synthetic-control estimate (mean post-period gap) with its placebo p-values.",
    "did_placebo_space": "The estimator with every eligible authority as pseudo-treated against the comparator.",
    "did_placebo_time": "Fake start years inside the pre-period (pre-period data only).",
    "did_event_study": "One coefficient per year relative to the last pre-period year, with placebo-based intervals.",
    "synthetic_control_weights": "Synthetic-control donor weights per study, vintage and outcome.",
    "synthetic_control_paths": "Treated and synthetic yearly paths and their gap.",
    "synthetic_control_placebos": "Placebo synthetic controls behind the synthetic-control p-values.",
    "did_runs": "Which study and vintage pairs were estimated, and why any was not.",
}


def _sql(name: str) -> str:
    return (SQL_DIR / "did" / f"{name}.sql").read_text(encoding="utf-8")


def _estimate_all(context: dg.AssetExecutionContext, con) -> dict[str, pd.DataFrame]:
    studies = load_studies(studies_path())
    vintages = con.execute(_sql("vintages")).df()
    deprivation = con.execute("SELECT utla_code AS unit_code, imd_average_score FROM raw.deprivation").df()
    version = code_version()
    tables: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    runs = []
    for entry in studies:
        study = entry.study
        neighbours = con.execute(_sql("neighbours"), {"model": entry.neighbour_model,
                                                      "treated_unit_code": study.treated_unit_code}).df()
        for vintage in vintages.itertuples():
            covered = vintage.first_year <= min(study.pre_years) and vintage.last_year >= max(study.post_years)
            if not covered:
                runs.append({"study_id": study.study_id, "vintage": vintage.vintage, "status": "not estimated",
                             "reason": f"vintage covers {vintage.first_year}-{vintage.last_year}, the study needs "
                                       f"{min(study.pre_years)}-{max(study.post_years)}"})
                continue
            panel = con.execute(_sql("panel"), {"vintage": vintage.vintage}).df()
            context.log.info(f"estimating {study.study_id} on vintage {vintage.vintage} ({len(panel)} unit-years)")
            results = evaluate_study(panel, study, neighbours, deprivation)
            for name in TABLES:
                if name == "did_runs":
                    continue
                frame = getattr(results, name).copy()
                frame.insert(1, "vintage", vintage.vintage)
                frame["code_version"] = version
                tables[name].append(frame)
            runs.append({"study_id": study.study_id, "vintage": vintage.vintage, "status": "estimated",
                         "reason": None})
    out = {name: pd.concat(frames, ignore_index=True) for name, frames in tables.items() if name != "did_runs"}
    out["did_runs"] = pd.DataFrame(runs).assign(code_version=version)
    return out


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["marts", name], group_name=GROUP, kinds={"duckdb", "python"}, owners=OWNERS, description=text,
                     deps=[dg.AssetKey(["marts", "cin_rates_vintages"]), dg.AssetKey(["marts", "cin_rates"]),
                           dg.AssetKey(["raw", "statistical_neighbours"]), dg.AssetKey(["raw", "deprivation"])])
        for name, text in TABLES.items()
    ],
    can_subset=False,
)
def did_marts(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """One pass over every study and vintage (the estimators share the comparator choice)."""
    with duckdb.get_connection() as con:
        tables = _estimate_all(context, con)
        for name, frame in tables.items():
            table = f"marts.{name}"
            replace_table(con, table, frame)
            yield dg.MaterializeResult(asset_key=["marts", name], metadata=table_metadata(con, table))
