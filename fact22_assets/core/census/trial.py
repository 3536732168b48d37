"""A trial's cases from the census returns and its randomisation list.

One row per randomised child. The child's *index episode* is the episode of
need open on its randomisation date (children are randomised at referral);
its outcomes are read from every return loaded, up to the trial's follow-up
end, by the measure registry's trial definitions (core/measures.py
CASE_MEASURES):

- closed: the index episode ended by the end of follow-up; unknown (<NA>)
  when it ended by transfer to another authority (reason RC5), since the
  child's later referrals are then in another council's return;
- rereferred: a referral within 12 months of the child's previous one (the
  first compared with the index referral), by the end of follow-up; unknown
  with closed;
- escalated: a child protection plan started on or after randomisation, by
  the end of follow-up;
- case_length_days: index referral to closure, for cases not escalated with a
  known outcome; censored at the end of follow-up while open.

Covariates from the return: female (GenderCurrent 2), age at the index
referral (completed years, from PersonBirthDate; unknown without one) and
under_11, previous CIN history (an episode of need referred before the index
referral, in the returns loaded), disabled (a disability other than NONE),
White British (WBRI), Other White (WIRI, WIRT, WOTH, WROM), aged out (18th
birthday by the end of follow-up; 0 without a birth date, since the records
do not show it). Columns the trial names in its randomisation list
(other_cin_in_family, later_received_treatment) come from the list.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..casework.rct import TREATED, was_rereferred
from .config import Trial

TRANSFERRED_OUT = "RC5"
OTHER_WHITE = ("WIRI", "WIRT", "WOTH", "WROM")


class TrialDataError(ValueError):
    """A randomised child the returns cannot place: names the list row and the child's key (never its id)."""


def latest_records(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """One row per ``key`` across every return: the latest return's, which knows the most (a closure, an end)."""
    ordered = frame.sort_values([*key, "collection_year"], kind="stable")
    return ordered.drop_duplicates(key, keep="last").reset_index(drop=True)


def episodes_across_returns(episodes: pd.DataFrame) -> pd.DataFrame:
    """Each episode once (a child's referral date identifies it), as the latest return that holds it records it."""
    return latest_records(episodes, ["authority_code", "child_key", "referral_date"])


def plans_across_returns(cp_plans: pd.DataFrame) -> pd.DataFrame:
    return latest_records(cp_plans, ["authority_code", "child_key", "start_date"])


def completed_years(birth: pd.Series, on: pd.Series) -> pd.Series:
    """Age in completed years on a date (NaN without a birth date)."""
    years = on.dt.year - birth.dt.year
    before_birthday = (on.dt.month < birth.dt.month) | ((on.dt.month == birth.dt.month) & (on.dt.day < birth.dt.day))
    return (years - before_birthday.astype(int)).astype("Float64").where(birth.notna())


def _flag(mask) -> pd.Series:
    return pd.Series(mask).astype("boolean").astype("Int64")


def index_episodes(cases: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """Each case's episode of need open on its randomisation date (the latest referral on or before it)."""
    joined = cases[["child_key", "randomised_on", "source_row"]].merge(
        episodes[~episodes["referral_nfa"].fillna(False).astype(bool)], on="child_key", how="left")
    open_then = (joined["referral_date"] <= joined["randomised_on"]) & (
        joined["closure_date"].isna() | (joined["closure_date"] >= joined["randomised_on"]))
    found = joined[open_then.fillna(False)].sort_values(["child_key", "referral_date"])
    found = found.drop_duplicates("child_key", keep="last")
    missing = cases[~cases["child_key"].isin(found["child_key"])]
    if len(missing):
        rows = ", ".join(f"row {int(r.source_row)} (child_key {r.child_key}, randomised {r.randomised_on.date()})"
                         for r in missing.head(5).itertuples())
        raise TrialDataError(f"{len(missing)} randomised child(ren) have no episode of need open on their "
                             f"randomisation date in the census returns loaded: randomisation list {rows}")
    return found[["child_key", "referral_date", "closure_date", "reason_for_closure"]].rename(columns={
        "referral_date": "index_referral_date", "closure_date": "index_closure_date",
        "reason_for_closure": "index_closure_reason"})


def trial_cases(trial: Trial, randomisation: pd.DataFrame, children: pd.DataFrame, episodes: pd.DataFrame,
                cp_plans: pd.DataFrame) -> pd.DataFrame:
    """One row per randomised child, outcomes and covariates as the module says.

    ``randomisation`` is the validated, pseudonymised list (child_key, arm, randomised_on, the trial's list
    columns, source_row, data_origin); ``children``, ``episodes`` and ``cp_plans`` are the restricted census
    tables of the trial's authority (every return), with authority_code, collection_year and child_key.
    """
    end = pd.Timestamp(trial.follow_up_end)
    episodes = episodes_across_returns(episodes)
    plans = plans_across_returns(cp_plans)
    cases = randomisation.reset_index(drop=True).copy()
    cases["randomised_on"] = pd.to_datetime(cases["randomised_on"])
    out = cases[["child_key", "arm", "randomised_on"]].copy()
    out[TREATED] = (cases["arm"] == trial.treated_arm).astype("Int64")
    out = out.merge(index_episodes(cases, episodes), on="child_key", how="left")

    child = latest_records(children, ["authority_code", "child_key"])
    birth = children.dropna(subset=["birth_date"]).sort_values("collection_year").drop_duplicates(
        "child_key", keep="last").set_index("child_key")["birth_date"]
    child = child.set_index("child_key")
    out["female"] = _flag(out["child_key"].map(child["gender"]) == "2")
    born = pd.to_datetime(out["child_key"].map(birth))
    out["age_at_referral"] = completed_years(born, out["index_referral_date"]).astype("Int64")
    out["under_11"] = (out["age_at_referral"].astype("Float64") < 11).astype("Int64")
    earlier = episodes[~episodes["referral_nfa"].fillna(False).astype(bool)][["child_key", "referral_date"]]
    first_referral = earlier.groupby("child_key")["referral_date"].min()
    out["previous_cin_history"] = _flag(out["child_key"].map(first_referral) < out["index_referral_date"])
    disabilities = out["child_key"].map(child["disabilities"]).fillna("")
    out["disabled"] = _flag(disabilities.map(lambda codes: any(c not in ("", "NONE") for c in codes.split(";"))))
    ethnicity = out["child_key"].map(child["ethnicity"])
    out["white_british"] = _flag(ethnicity == "WBRI")
    out["other_white"] = _flag(ethnicity.isin(OTHER_WHITE))
    eighteenth = born + pd.DateOffset(years=18)
    out["aged_out_by_end"] = _flag((eighteenth <= end).fillna(False))
    for column in trial.list_columns:
        out[column] = cases[column].astype("boolean").astype("Int64").to_numpy()

    transferred = (out["index_closure_reason"] == TRANSFERRED_OUT) & (out["index_closure_date"] <= end)
    closed = out["index_closure_date"].notna() & (out["index_closure_date"] <= end)
    out["closed"] = _flag(closed).mask(transferred.to_numpy())

    later = episodes[["child_key", "referral_date"]].merge(out[["child_key", "index_referral_date"]], on="child_key")
    later = later[later["referral_date"] > later["index_referral_date"]]
    by_child = later.groupby("child_key")["referral_date"].apply(list)
    out["rereferred"] = pd.array([
        int(was_rereferred(index, by_child.get(key, []), end))
        for key, index in zip(out["child_key"], out["index_referral_date"])], dtype="Int64")
    out["rereferred"] = out["rereferred"].mask(transferred.to_numpy())

    started = plans[["child_key", "start_date"]].merge(out[["child_key", "randomised_on"]], on="child_key")
    started = started[(started["start_date"] >= started["randomised_on"]) & (started["start_date"] <= end)]
    out["escalated"] = _flag(out["child_key"].isin(started["child_key"]))

    stop = out["index_closure_date"].where(closed, end)
    length = (stop - out["index_referral_date"]).dt.days.astype("Float64")
    out["case_length_days"] = length.where(out["closed"].notna().to_numpy() & (out["escalated"] == 0).to_numpy())
    out["data_origin"] = trial.data_origin
    return out.drop(columns=["index_closure_reason"]).reset_index(drop=True)


def binary_outcome_columns(trial: Trial) -> list[str]:
    return list(trial.binary_outcomes)


def age_column_check(cases: pd.DataFrame) -> np.ndarray:
    """Cases whose age at referral is out of range for a child (0 to 17): a wrong birth date."""
    age = cases["age_at_referral"].astype("Float64")
    return ((age < 0) | (age > 17)).fillna(False).to_numpy()
