"""A selection of DfE's children-in-need census validation rules, as blocking checks.

DfE validates every return against a published list of rules (codes and
messages as DfE words them; Data to Insight's csc-validator-be-cin implements
them in Python). The XSD checks layout and code lists; these rules check what
an XSD cannot: dates in order, one open episode, a child recorded once. The
ones kept here are those an estimate built on the return would be wrong
without: a closure before its referral makes a negative case length; a plan
before its referral, an escalation that never followed the referral; a child
repeated, a case counted twice.

Each rule is a vectorised function over the tables `returns.parse_return`
builds (and the restricted tables built from them: the same columns, with
``child_key`` for ``child_id``), giving the offending rows. `findings`
turns them into located findings (file, line, child, element, rule);
`violations` gives rows for an asset check.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .returns import Finding, year_bounds

Tables = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Rule:
    code: str
    message: str  # DfE's wording
    table: str
    element: str
    offending: Callable[[Tables, int, str], pd.DataFrame]  # tables, collection year, id column -> rows


def _rows(frame: pd.DataFrame, mask) -> pd.DataFrame:
    mask = np.asarray(pd.Series(mask).fillna(False), dtype=bool) if len(frame) else np.zeros(0, dtype=bool)
    return frame.loc[mask]


def _missing_child_id(t, year, key):
    return _rows(t["children"], t["children"][key].fillna("").astype(str).str.strip() == "")


def _repeated_child(t, year, key):
    children = t["children"]
    return _rows(children, children[key].duplicated(keep="first"))


def _birth_after_period(t, year, key):
    _, end = year_bounds(year)
    return _rows(t["children"], t["children"]["birth_date"] > end)


def _referral_after_period(t, year, key):
    _, end = year_bounds(year)
    episodes = t["episodes"]
    return _rows(episodes, episodes["referral_date"].isna() | (episodes["referral_date"] > end))


def _closure_outside_year(t, year, key):
    start, end = year_bounds(year)
    closure = t["episodes"]["closure_date"]
    return _rows(t["episodes"], closure.notna() & ((closure < start) | (closure > end)))


def _closure_before_referral(t, year, key):
    episodes = t["episodes"]
    return _rows(episodes, episodes["closure_date"] < episodes["referral_date"])


def _closure_without_reason(t, year, key):
    episodes = t["episodes"]
    return _rows(episodes, episodes["closure_date"].notna() & episodes["reason_for_closure"].isna())


def _reason_without_closure(t, year, key):
    episodes = t["episodes"]
    return _rows(episodes, episodes["closure_date"].isna() & episodes["reason_for_closure"].notna())


def _open_episodes(episodes: pd.DataFrame) -> pd.Series:
    return episodes["closure_date"].isna() & ~episodes["referral_nfa"].fillna(False).astype(bool)


def _two_open_episodes(t, year, key):
    """The second and later open episode of a child (a running count within the child, in file order)."""
    episodes = t["episodes"]
    open_ = _open_episodes(episodes).to_numpy()
    running = pd.Series(open_.astype(np.int64)).groupby(pd.factorize(episodes[key])[0]).cumsum().to_numpy()
    return _rows(episodes, open_ & (running > 1))


def _overlapping_episodes(t, year, key):
    """A referral inside an earlier episode of the same child: on or after its referral and before its closure,
    or, while it is open and not a referral with no further action, before the reference date. Sorted by child
    and referral, an episode overlaps an earlier one when its referral is before the latest end of the ones
    before it (a sort, not a pairing of every episode with every other: linear in a national return)."""
    _, end = year_bounds(year)
    episodes = t["episodes"]
    if not len(episodes):
        return episodes
    children = pd.factorize(episodes[key])[0]
    referral = episodes["referral_date"].to_numpy(dtype="datetime64[s]")
    closure = episodes["closure_date"].to_numpy(dtype="datetime64[s]")
    open_need = _open_episodes(episodes).to_numpy()
    # how long each episode blocks a later referral: to its closure, to the reference date while open, or not at all
    blocks_until = np.where(~np.isnat(closure), closure,
                            np.where(open_need, np.datetime64(end + pd.Timedelta(days=1), "s"),
                                     np.datetime64("NaT", "s")))
    order = np.lexsort((referral, children))
    child_sorted, referral_sorted = children[order], referral[order]
    until = blocks_until[order].astype("datetime64[s]").astype(np.int64)
    until[np.isnat(blocks_until[order])] = np.iinfo(np.int64).min
    first = np.r_[True, child_sorted[1:] != child_sorted[:-1]]
    # the latest end among the earlier episodes of the same child (none for a child's first)
    group = np.cumsum(first) - 1
    latest = np.full(len(order), np.iinfo(np.int64).min, dtype=np.int64)
    if len(order) > 1:
        shifted = np.r_[np.iinfo(np.int64).min, until[:-1]]
        shifted[first] = np.iinfo(np.int64).min
        latest = pd.Series(shifted).groupby(group).cummax().to_numpy()
    starts = referral_sorted.astype(np.int64)
    hit_sorted = ~first & (starts < latest)
    hit = np.zeros(len(episodes), dtype=bool)
    hit[order] = hit_sorted
    return _rows(episodes, hit)


def _dates(table: str, first: str, second: str, compare=lambda a, b: a < b):
    """A rule broken by the rows of ``table`` whose date ``first`` compares with their date ``second`` (by
    default: falls before it)."""
    def rule(t, year, key):
        rows = t[table]
        return _rows(rows, compare(rows[first], rows[second]))

    return rule


_assessment_before_referral = _dates("assessments", "start_date", "referral_date")
_assessment_after_authorisation = _dates("assessments", "authorised_date", "start_date")
_plan_before_referral = _dates("cp_plans", "start_date", "referral_date")
_plan_end_before_start = _dates("cp_plans", "end_date", "start_date")
_plan_same_day = _dates("cp_plans", "end_date", "start_date", lambda a, b: a == b)


def _plan_end_outside_year(t, year, key):
    start, end = year_bounds(year)
    ended = t["cp_plans"]["end_date"]
    return _rows(t["cp_plans"], ended.notna() & ((ended < start) | (ended > end)))


def _two_open_plans(t, year, key):
    plans = t["cp_plans"]
    open_ = plans["end_date"].isna()
    later = open_ & (open_.astype(int).groupby(plans[key]).cumsum() > 1)
    return _rows(plans, later)


_cin_plan_before_referral = _dates("cin_plans", "start_date", "referral_date")
_cin_plan_end_before_start = _dates("cin_plans", "end_date", "start_date")


RULES: tuple[Rule, ...] = (
    Rule("8500", "LA Child ID missing", "children", "ChildIdentifiers/LAchildID", _missing_child_id),
    Rule("8510", "More than one child record with the same LA Child ID", "children", "ChildIdentifiers/LAchildID",
         _repeated_child),
    Rule("8520", "Date of Birth is after data collection period (must be on or before the end of the census "
         "period)", "children", "ChildIdentifiers/PersonBirthDate", _birth_after_period),
    Rule("8600", "Child referral date missing or after data collection period", "episodes",
         "CINdetails/CINreferralDate", _referral_after_period),
    Rule("8620", "CIN Closure Date present and does not fall within the Census year", "episodes",
         "CINdetails/CINclosureDate", _closure_outside_year),
    Rule("8630", "CIN Closure Date is before CIN Referral Date for the same CIN episode", "episodes",
         "CINdetails/CINclosureDate", _closure_before_referral),
    Rule("8805", "A CIN case cannot have a CIN closure date without a Reason for Closure", "episodes",
         "CINdetails/ReasonForClosure", _closure_without_reason),
    Rule("8810", "A CIN case cannot have a Reason for Closure without a CIN Closure Date", "episodes",
         "CINdetails/CINclosureDate", _reason_without_closure),
    Rule("8815", "More than one open CIN Details episode (a module with no CIN Closure Date) has been provided for "
         "this child and case is not a referral with no further action.", "episodes", "CINdetails/CINclosureDate",
         _two_open_episodes),
    Rule("8820", "The dates on the CIN episodes for this child overlap", "episodes", "CINdetails/CINreferralDate",
         _overlapping_episodes),
    Rule("1103", "The assessment start date cannot be before the referral date", "assessments",
         "CINdetails/Assessments/AssessmentActualStartDate", _assessment_before_referral),
    Rule("8608", "Assessment Start Date cannot be later than its End Date", "assessments",
         "CINdetails/Assessments/AssessmentActualStartDate", _assessment_after_authorisation),
    Rule("1105", "The child protection plan start date cannot be before the referral date", "cp_plans",
         "CINdetails/ChildProtectionPlans/CPPstartDate", _plan_before_referral),
    Rule("8925", "Child Protection Plan End Date earlier than Start Date", "cp_plans",
         "CINdetails/ChildProtectionPlans/CPPendDate", _plan_end_before_start),
    Rule("8840", "Child Protection Plan cannot start and end on the same day", "cp_plans",
         "CINdetails/ChildProtectionPlans/CPPendDate", _plan_same_day),
    Rule("8930", "Child Protection Plan End Date must fall within the census year", "cp_plans",
         "CINdetails/ChildProtectionPlans/CPPendDate", _plan_end_outside_year),
    Rule("8935", "This child is showing more than one open Child Protection plan, i.e. with no End Date", "cp_plans",
         "CINdetails/ChildProtectionPlans/CPPendDate", _two_open_plans),
    Rule("4015", "The CIN Plan start date cannot be before the referral date", "cin_plans",
         "CINdetails/CINPlanDates/CINPlanStartDate", _cin_plan_before_referral),
    Rule("4011", "CIN Plan End Date earlier than Start Date", "cin_plans", "CINdetails/CINPlanDates/CINPlanEndDate",
         _cin_plan_end_before_start),
)
RULE_CODES = tuple(r.code for r in RULES)


def rule(code: str) -> Rule:
    return next(r for r in RULES if r.code == code)


def violations(tables: Tables, collection_year: int, key: str = "child_key",
               codes: tuple[str, ...] = RULE_CODES) -> pd.DataFrame:
    """Every row any rule refuses: rule, message, table, element, the id column, source_line (and source_file
    when the tables carry it), in rule order then file order."""
    found = []
    for each in RULES:
        if each.code not in codes or each.table not in tables:
            continue
        rows = each.offending(tables, collection_year, key)
        if len(rows):
            columns = [key, "source_line", *(["source_file"] if "source_file" in rows else [])]
            found.append(rows[columns].assign(rule=each.code, message=each.message, table=each.table,
                                              element=each.element))
    if not found:
        return pd.DataFrame(columns=["rule", "message", "table", "element", key, "source_line"])
    out = pd.concat(found, ignore_index=True)
    return out[["rule", "message", "table", "element", key, "source_line",
                *(["source_file"] if "source_file" in out else [])]]


def findings(tables: Tables, collection_year: int, file: str) -> list[Finding]:
    """The rules over a return just parsed (``child_id`` = LAchildID), as located findings."""
    rows = violations(tables, collection_year, key="child_id")
    return [Finding(file, f"rule {r.rule} (DfE)", r.message, line=int(r.source_line), child=str(r.child_id),
                    element=r.element) for r in rows.itertuples()]
