"""Every case-level mart of one trial, with the members of each count it publishes.

`trial_marts` builds the RCT marts (results, balance, minimum detectable
effects, the Tobit of case length) from the trial's cases, and the risk and
service marts from its extracts when it has them; every row starts with
``trial_id`` and the arms' names. Beside them, `populations` says which
cases each published count counts (core/casework/disclosure.py uses them to
find a withheld count that counts in other marts give back).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..census.config import Trial
from . import rct, risk, service
from .disclosure import Cell, Population
from .rct import TREATED
from .schemas import ExtractSchema, service_schema, validate_extract

RCT_MARTS = ("marts.rct_results", "marts.rct_balance", "marts.rct_minimum_detectable_effects",
             "marts.case_length_tobit")
RISK_MARTS = ("marts.risk_scores_by_arm", "marts.risk_score_changes")
SERVICE_MARTS = ("marts.service_summary", "marts.service_case_length_by_year")
TRIAL_MARTS = (*RCT_MARTS, *RISK_MARTS, *SERVICE_MARTS)


def _keyed(frame: pd.DataFrame, trial: Trial) -> pd.DataFrame:
    head = pd.DataFrame({"trial_id": trial.trial_id, "treated_arm": trial.treated_arm,
                         "control_arm": trial.control_arm}, index=frame.index)
    return pd.concat([head, frame], axis=1)


def _mask(index: pd.Index, universe: pd.Index) -> np.ndarray:
    return universe.isin(index)


def _arm_cells(table: str, row: int, members: np.ndarray, cases: pd.DataFrame, outcome: str | None,
               universe: str, counts: dict[str, str]) -> dict[Cell, Population]:
    treated = (cases[TREATED] == 1).to_numpy()
    cells = {(table, row, counts["all"]): Population(universe, members)} if "all" in counts else {}
    cells[(table, row, counts["treated"])] = Population(universe, members & treated)
    cells[(table, row, counts["control"])] = Population(universe, members & ~treated)
    if outcome is not None:
        event = (cases[outcome].astype("Float64") == 1).fillna(False).to_numpy()
        cells[(table, row, counts["events_treated"])] = Population(universe, members & treated & event)
        cells[(table, row, counts["events_control"])] = Population(universe, members & ~treated & event)
    return cells


def rct_marts(trial: Trial, cases: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict[Cell, Population]]:
    """The trial's RCT marts and the members of their counts (universe: the trial's randomised cases)."""
    cases = cases.reset_index(drop=True)
    universe = f"trial:{trial.trial_id}"
    controls = list(trial.covariates)
    outcomes = list(trial.binary_outcomes)
    frames, cells = {}, {}

    results = rct.rct_results(cases, outcomes, controls, rct.ANALYSES, trial.subgroups, trial.min_events_total,
                              trial.min_events_per_arm)
    samples = {(a, rct.ALL): rct.analysis_sample(cases, a) for a in rct.ANALYSES}
    samples.update({("itt", label): sample for label, sample, _ in rct.subgroup_samples(cases, trial.subgroups)})
    for row, r in results.iterrows():
        sample = samples[(r["analysis"], r["subgroup"])]
        variable = next((v for v in trial.subgroups if r["subgroup"] in (v, f"no_{v}")), None)
        used = [c for c in controls if c != variable]
        counted = rct.model_sample(sample, r["outcome"], used) if r["status"] == "estimated" \
            else rct.fisher_sample(sample, r["outcome"])
        cells.update(_arm_cells("marts.rct_results", row, _mask(counted.index, cases.index), cases, r["outcome"],
                                universe, {"all": "n_cases", "treated": "n_treated", "control": "n_control",
                                           "events_treated": "events_treated", "events_control": "events_control"}))
    frames["marts.rct_results"] = results

    balance = pd.concat([rct.balance_table(cases, analysis=a) for a in rct.ANALYSES], ignore_index=True)
    for row, r in balance.iterrows():
        sample = rct.analysis_sample(cases, r["analysis"])
        known = sample[[TREATED, r["characteristic"]]].dropna()
        members = _mask(known.index, cases.index)
        cells.update(_arm_cells("marts.rct_balance", row, members, cases, None, universe,
                                {"treated": "n_treated", "control": "n_control"}))
        has = (cases[r["characteristic"]].astype("Float64") == 1).fillna(False).to_numpy()
        treated = (cases[TREATED] == 1).to_numpy()
        cells[("marts.rct_balance", row, "count_treated")] = Population(universe, members & has & treated)
        cells[("marts.rct_balance", row, "count_control")] = Population(universe, members & has & ~treated)
    frames["marts.rct_balance"] = balance

    effects = rct.minimum_detectable_effects(cases, outcomes)
    everyone = np.ones(len(cases), dtype=bool)
    for row in range(len(effects)):
        cells.update(_arm_cells("marts.rct_minimum_detectable_effects", row, everyone, cases, None, universe,
                                {"treated": "n_treated", "control": "n_control"}))
    frames["marts.rct_minimum_detectable_effects"] = effects

    if trial.models_case_length:
        from . import tobit  # subclasses a statsmodels model: import only when fitting

        lengths = rct.case_lengths(cases, controls)
        table = tobit.case_length_tobit(lengths, controls)
        used = lengths[["case_length_days", "right_censored", TREATED, *controls]].dropna()
        in_model = _mask(cases.index[cases["child_key"].isin(lengths.loc[used.index, "child_key"])], cases.index)
        censored = in_model & (cases["closed"] == 0).fillna(False).to_numpy()
        for row in range(len(table)):
            cells[("marts.case_length_tobit", row, "n_cases")] = Population(universe, in_model)
            cells[("marts.case_length_tobit", row, "n_right_censored")] = Population(universe, censored)
            cells[("marts.case_length_tobit", row, "n_left_censored")] = Population(universe, np.zeros(len(cases), bool))
        frames["marts.case_length_tobit"] = table
    return {name: _keyed(frame, trial) for name, frame in frames.items()}, cells


def risk_marts(trial: Trial, cases: pd.DataFrame, scores: pd.DataFrame
               ) -> tuple[dict[str, pd.DataFrame], dict[Cell, Population]]:
    """Mean risk scores by arm and coding point, and their changes (universe: the trial's cases, since the coded
    cases are trial cases)."""
    time_points = list(trial.extract("risk_notes").options["time_points"])
    universe = f"trial:{trial.trial_id}"
    keys = cases.reset_index(drop=True)["child_key"]
    by_arm = risk.risk_scores_by_arm(scores, trial.arms, time_points)
    changes = risk.risk_score_changes(scores, trial.arms, time_points)
    cells = {}
    for row, r in by_arm.iterrows():
        coded = scores[(scores["arm"] == r["arm"]) & (scores["time_point"] == r["time_point"])]["case_id"]
        cells[("marts.risk_scores_by_arm", row, "n_cases")] = Population(universe, keys.isin(coded).to_numpy())
    for row, r in changes.iterrows():
        arm = scores[scores["arm"] == r["arm"]]
        both = set(arm.loc[arm["time_point"] == r["from_time_point"], "case_id"]) & set(
            arm.loc[arm["time_point"] == r["to_time_point"], "case_id"])
        cells[("marts.risk_score_changes", row, "n_cases")] = Population(universe, keys.isin(both).to_numpy())
    return {"marts.risk_scores_by_arm": _keyed(by_arm, trial), "marts.risk_score_changes": _keyed(changes, trial)}, cells


def service_marts(trial: Trial, service_mi: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict[Cell, Population]]:
    """The service's summary and case length by start year (universe: the families the service worked with)."""
    options = trial.extract("service_information").options
    mi = service_mi.reset_index(drop=True)
    universe = f"service:{trial.trial_id}"
    summary = service.service_summary(mi, list(options["locations"]), float(options["escalation_benchmark"]))
    by_year = service.case_length_by_start_year(mi)
    everyone = np.ones(len(mi), dtype=bool)
    cells = {}
    for row, r in summary.iterrows():
        if r["measure"] == "location":
            members = (mi["location"] == r["category"]).to_numpy()
        elif r["measure"] == "outcome":
            members = (mi["outcome"] == r["category"]).to_numpy()
        elif r["measure"] == "escalated":
            members = mi["outcome"].isin(service.ESCALATED).to_numpy()
        else:
            members = (mi["outcome"] == "closed").to_numpy()
        cells[("marts.service_summary", row, "n_families")] = Population(universe, members)
        cells[("marts.service_summary", row, "n_total")] = Population(universe, everyone)
    year = mi["start_date"].dt.year
    for row, r in by_year.iterrows():
        started = (year == r["start_year"]).to_numpy()
        cells[("marts.service_case_length_by_year", row, "n_started")] = Population(universe, started)
        cells[("marts.service_case_length_by_year", row, "n_ended")] = Population(
            universe, started & mi["end_date"].notna().to_numpy())
        cells[("marts.service_case_length_by_year", row, "n_closed")] = Population(
            universe, started & (mi["outcome"] == "closed").to_numpy())
        cells[("marts.service_case_length_by_year", row, "n_open")] = Population(
            universe, started & (mi["outcome"] == "open").to_numpy())
    return {"marts.service_summary": _keyed(summary, trial),
            "marts.service_case_length_by_year": _keyed(by_year, trial)}, cells


def stack(per_trial: Sequence[tuple[dict[str, pd.DataFrame], dict[Cell, Population]]]
          ) -> tuple[dict[str, pd.DataFrame], dict[Cell, Population]]:
    """Every trial's marts one below the other, the members' row numbers moved with them."""
    frames: dict[str, list[pd.DataFrame]] = {}
    cells: dict[Cell, Population] = {}
    for marts, populations in per_trial:
        offsets = {table: sum(len(f) for f in frames.get(table, [])) for table in marts}
        for table, frame in marts.items():
            frames.setdefault(table, []).append(frame)
        for (table, row, column), population in populations.items():
            cells[(table, row + offsets[table], column)] = population
    return {table: pd.concat(parts, ignore_index=True) for table, parts in frames.items()}, cells


def service_schema_of(trial: Trial) -> ExtractSchema:
    """The schema of the trial's service information extract (its locations and date range)."""
    options = trial.extract("service_information").options
    return service_schema(options["locations"], options["from"], options["to"])


def marts_of_trial(trial: Trial, frames: dict[str, pd.DataFrame]) -> list[tuple[dict[str, pd.DataFrame], dict]]:
    """One trial's marts, unsuppressed, with the members of their counts (what `stack` stacks), from every trial's
    restricted ``cases``, coded ``scores`` and ``service`` information."""
    marts = []
    cases = frames["cases"][frames["cases"]["trial_id"] == trial.trial_id].drop(columns="trial_id")
    marts.append(rct_marts(trial, cases))
    scores = frames["scores"][frames["scores"]["trial_id"] == trial.trial_id]
    if trial.extract("risk_notes") is not None and len(scores):
        marts.append(risk_marts(
            trial, cases, scores.drop(columns=["trial_id", "source_row"]).rename(columns={"case_key": "case_id"})))
    mi = frames["service"][frames["service"]["trial_id"] == trial.trial_id]
    if trial.extract("service_information") is not None and len(mi):
        schema = service_schema_of(trial)
        typed = validate_extract(mi[[*schema.column_names, "data_origin"]].reset_index(drop=True), schema,
                                 "restricted.service_mi")
        marts.append(service_marts(trial, typed))
    return marts
