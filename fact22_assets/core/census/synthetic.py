"""SYNTHETIC children-in-need census returns for an authority, valid against DfE's schema.

Every child, date and code here is invented (seeded, deterministic). The
returns are built so that the authority's totals, counted by DfE's
definitions (core/census/totals.py), equal the figures DfE published for it
(given as targets: referrals, re-referrals, episodes ended, episodes open at
31 March, child protection plans started, per collection year, and the
episodes open at the 31 March before the first year), and so that the
histories of a trial's children (``pinned``: fixed referrals, closures and
plans) sit inside those totals.

The simulation runs year by year: the stock of open episodes carries over;
each year draws its referrals (episodes of need and referrals with no
further action) over the year, closes exactly as many episodes as DfE
counted, makes exactly the published number of referrals re-referrals (a
child referred again within 12 months of its last referral, once its
episode has closed), and starts the published number of child protection
plans inside open episodes. Everything obeys the DfE rules
core/census/rules.py checks (no overlapping or twice-open episodes, plans
inside their episode, dates inside the census year that reports them).

`write_returns` writes one XML file per collection year, each holding the
episodes open at any time in that year as that year's return would show
them (a closure after 31 March is not yet known), with SoftwareCode and a
comment saying SYNTHETIC.
"""
from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

SOFTWARE_CODE = "SYNTHETIC fact22-warehouse census generator"
INF = 10**9
_ETHNICITIES = ("WBRI", "WBRI", "WBRI", "WBRI", "WBRI", "WBRI", "WOTH", "WIRI", "MWBC", "MWAS", "MOTH", "AIND",
                "APKN", "BAFR", "BCRB", "CHNE", "OOTH", "NOBT")
_SOURCES = ("1A", "1B", "1C", "2A", "2B", "3A", "3B", "3C", "3E", "4", "5A", "5B", "6", "7", "8", "9", "10")
_NEEDS = ("N1", "N1", "N1", "N2", "N3", "N4", "N5", "N5", "N6", "N7", "N8")
_FACTORS = ("1B", "2B", "3A", "3B", "4B", "5A", "6B", "7A", "14A", "16A", "17A", "18A", "20")
_CATEGORIES = ("NEG", "NEG", "EMO", "EMO", "PHY", "SAB", "MUL")
_REASONS = ("RC7", "RC7", "RC7", "RC7", "RC7", "RC8", "RC8", "RC5", "RC6", "RC3", "RC4")


class TargetError(ValueError):
    """Published figures no census can give back (e.g. more episodes ending than were open)."""


@dataclass
class History:
    """Everything that happened in the authority, as far as the years generated go."""

    children: pd.DataFrame  # child_id, birth_date, gender, ethnicity, disabilities, pinned
    episodes: pd.DataFrame  # child_id, referral_date, referral_nfa, closure_date, reason_for_closure, ...
    plans: pd.DataFrame  # child_id, referral_date (its episode), start_date, end_date, categories


def _ordinal(value) -> int | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value).date().toordinal()


def _year_start(year: int) -> int:
    return date(year - 1, 4, 1).toordinal()


def _year_end(year: int) -> int:
    return date(year, 3, 31).toordinal()


_MINUS_12 = {}


def minus_12_months(day: int) -> int:
    """The same day a year earlier (29 February -> 28 February), as pandas' DateOffset(months=12) gives it."""
    found = _MINUS_12.get(day)
    if found is None:
        d = date.fromordinal(day)
        try:
            found = d.replace(year=d.year - 1).toordinal()
        except ValueError:
            found = d.replace(year=d.year - 1, day=28).toordinal()
        _MINUS_12[day] = found
    return found


def _eighteenth(birth: int) -> int:
    d = date.fromordinal(birth)
    try:
        return d.replace(year=d.year + 18).toordinal()
    except ValueError:
        return d.replace(year=d.year + 18, day=28).toordinal()


class _Simulation:
    """The authority's state as the years pass. Scalar draws use Python's seeded ``random.Random`` (a numpy call
    per draw costs ten times as much); bulk draws use numpy. Both are seeded, so the history is deterministic."""

    def __init__(self, rng: np.random.Generator, prefix: str):
        self.rng = rng
        self.r = random.Random(int(rng.integers(0, 2**31)))
        self.prefix = prefix
        # children
        self.c_id: list[str] = []
        self.c_birth: list[int | None] = []
        self.c_gender: list[str] = []
        self.c_eth: list[str] = []
        self.c_dis: list[str] = []
        self.c_pinned: list[bool] = []
        self.c_last_ref: list[int] = []
        self.c_free: list[int] = []  # the first day the child may be referred again
        # episodes
        self.e_child: list[int] = []
        self.e_ref: list[int] = []
        self.e_nfa: list[bool] = []
        self.e_close: list[int | None] = []
        self.e_reason: list[str | None] = []
        self.e_busy: list[int] = []  # last day of its latest plan (a new plan starts after)
        self.e_first_plan: list[int] = []  # start of its first plan (a closure comes after it)
        # plans
        self.p_ep: list[int] = []
        self.p_start: list[int] = []
        self.p_planned_end: list[int] = []
        self.open_filler: set[int] = set()
        self.recent_dates: list[int] = []  # referral days of filler children, in order
        self.recent_child: list[int] = []
        self.used_ids: set[str] = set()

    # -- children ---------------------------------------------------------------------------------------
    def new_child(self, day: int) -> int:
        r = self.r
        age_days = r.randrange(0, 18 * 365 - 40) if r.random() < 0.75 else r.randrange(0, 5 * 365)
        while True:
            child_id = f"{self.prefix}{r.randrange(1_000_000, 8_999_999)}"
            if child_id not in self.used_ids:
                break
        return self._add_child(child_id, day - age_days, r.choice(("1", "2")), r.choice(_ETHNICITIES),
                               "NONE" if r.random() < 0.9 else r.choice(("LD", "AUT", "COMM", "BEH")), False)

    def _add_child(self, child_id, birth, gender, ethnicity, disabilities, pinned) -> int:
        self.used_ids.add(child_id)
        self.c_id.append(child_id)
        self.c_birth.append(birth)
        self.c_gender.append(gender)
        self.c_eth.append(ethnicity)
        self.c_dis.append(disabilities)
        self.c_pinned.append(pinned)
        self.c_last_ref.append(-INF)
        self.c_free.append(-INF)
        return len(self.c_id) - 1

    # -- episodes ---------------------------------------------------------------------------------------
    def add_episode(self, child: int, day: int, nfa: bool, close: int | None, reason: str | None) -> int:
        self.e_child.append(child)
        self.e_ref.append(day)
        self.e_nfa.append(nfa)
        self.e_close.append(close)
        self.e_reason.append(reason)
        self.e_busy.append(day - 1)
        self.e_first_plan.append(INF)
        index = len(self.e_ref) - 1
        self.c_last_ref[child] = max(self.c_last_ref[child], day)
        if nfa:
            self.c_free[child] = max(self.c_free[child], day + 1)
        else:
            self.c_free[child] = close if close is not None else INF
            if close is None and not self.c_pinned[child]:
                self.open_filler.add(index)
        if not self.c_pinned[child]:
            self.recent_dates.append(day)
            self.recent_child.append(child)
        return index

    def close_episode(self, episode: int, day: int) -> None:
        self.e_close[episode] = day
        self.e_reason[episode] = self.r.choice(_REASONS)
        self.c_free[self.e_child[episode]] = day
        self.open_filler.discard(episode)

    def add_plan(self, episode: int, start: int, planned_end: int) -> None:
        self.p_ep.append(episode)
        self.p_start.append(start)
        self.p_planned_end.append(planned_end)
        self.e_busy[episode] = planned_end
        self.e_first_plan[episode] = min(self.e_first_plan[episode], start)

    # -- choosing children for referrals -------------------------------------------------------------------
    def rereferable(self, day: int) -> int | None:
        """A filler child whose last referral was within the 12 months before ``day`` and who is free."""
        low = bisect.bisect_left(self.recent_dates, minus_12_months(day))
        high = bisect.bisect_left(self.recent_dates, day)
        if high <= low:
            return None
        for _ in range(40):
            position = self.r.randrange(low, high)
            child = self.recent_child[position]
            if (self.c_last_ref[child] == self.recent_dates[position] and self.c_free[child] <= day
                    and self.c_last_ref[child] < day and _eighteenth(self.c_birth[child]) > day + 30):
                return child
        return None

    def returning(self, day: int) -> int | None:
        """A filler child last referred more than 12 months before ``day`` (so not a re-referral), free, under 17."""
        high = bisect.bisect_left(self.recent_dates, minus_12_months(day))
        if high == 0:
            return None
        for _ in range(10):
            position = self.r.randrange(0, high)
            child = self.recent_child[position]
            if (self.c_last_ref[child] < minus_12_months(day) and self.c_free[child] <= day
                    and _eighteenth(self.c_birth[child]) > day + 365):
                return child
        return None


def _pinned_counts(sim: _Simulation, pinned_eps: list[int], pinned_plans: list[int], year: int) -> dict[str, int]:
    """What the trial's children contribute to a year's totals, by DfE's definitions."""
    s, e = _year_start(year), _year_end(year)
    counts = dict.fromkeys(("referrals", "rereferrals", "closures", "cin_at_31_march", "escalations"), 0)
    by_child: dict[int, list[int]] = {}
    for ep in pinned_eps:
        by_child.setdefault(sim.e_child[ep], []).append(sim.e_ref[ep])
    for ep in pinned_eps:
        ref, close, nfa = sim.e_ref[ep], sim.e_close[ep], sim.e_nfa[ep]
        if s <= ref <= e:
            counts["referrals"] += 1
            earlier = [r for r in by_child[sim.e_child[ep]] if r < ref]
            if earlier and max(earlier) >= minus_12_months(ref):
                counts["rereferrals"] += 1
        if not nfa and close is not None and s <= close <= e:
            counts["closures"] += 1
        if not nfa and ref <= e and (close is None or close > e):
            counts["cin_at_31_march"] += 1
    counts["escalations"] = sum(1 for p in pinned_plans if s <= sim.p_start[p] <= e)
    return counts


def generate_history(prefix: str, years: list[int], targets: pd.DataFrame, seed: int,
                     pinned: History | None = None) -> History:
    """The authority's invented history over ``years`` (collection years, in order), meeting ``targets``
    (collection_year, measure, value: referrals, rereferrals, closures, cin_at_31_march, escalations for each
    year, and cin_at_31_march for the year before the first). Re-referrals of the first year are met as far as
    the generated children allow (no census before it counts them)."""
    rng = np.random.default_rng([seed, sum(map(ord, prefix))])
    sim = _Simulation(rng, prefix)
    target = {(int(r.collection_year), r.measure): int(r.value) for r in targets.itertuples()}
    first = years[0]
    s0 = _year_start(first)

    pinned_eps, pinned_plans = [], []
    if pinned is not None:
        index = {}
        for row in pinned.children.itertuples():
            index[row.child_id] = sim._add_child(row.child_id, _ordinal(row.birth_date), row.gender, row.ethnicity,
                                                 row.disabilities, True)
        episode_of = {}
        for row in pinned.episodes.sort_values("referral_date").itertuples():
            ep = sim.add_episode(index[row.child_id], _ordinal(row.referral_date), bool(row.referral_nfa),
                                 _ordinal(row.closure_date), row.reason_for_closure if isinstance(
                                     row.reason_for_closure, str) else None)
            episode_of[(row.child_id, _ordinal(row.referral_date))] = ep
            pinned_eps.append(ep)
        for row in pinned.plans.itertuples():
            ep = episode_of[(row.child_id, _ordinal(row.referral_date))]
            end = _ordinal(row.end_date)
            sim.add_plan(ep, _ordinal(row.start_date), end if end is not None else INF)
            pinned_plans.append(len(sim.p_ep) - 1)

    # the stock open at the start: episodes referred in the three years before
    stock = target[(first - 1, "cin_at_31_march")]
    for day in np.sort(rng.integers(s0 - 3 * 365, s0, stock)):
        child = sim.new_child(int(day))
        episode = sim.add_episode(child, int(day), False, None, None)
        if sim.r.random() < 0.12:  # some already on a plan
            start = sim.r.randrange(int(day), s0)
            sim.add_plan(episode, start, start + sim.r.randrange(120, 500))

    for year in years:
        _simulate_year(sim, year, target, _pinned_counts(sim, pinned_eps, pinned_plans, year), year == first)
    return _history(sim, years)


def _simulate_year(sim: _Simulation, year: int, target: dict, pinned: dict[str, int], first: bool) -> None:
    rng, r = sim.rng, sim.r
    s, e = _year_start(year), _year_end(year)
    need = {m: target[(year, m)] - pinned[m] for m in pinned}
    open_start = sorted(sim.open_filler)
    new_episodes = need["cin_at_31_march"] - len(open_start) + need["closures"]
    nfa = need["referrals"] - new_episodes
    if min(new_episodes, nfa, need["closures"], need["escalations"], need["rereferrals"]) < 0:
        raise TargetError(f"{year}: the published figures cannot all hold ({need}, {len(open_start)} open at the "
                          "start): more episodes ending or open than referred")

    days = np.sort(rng.integers(s, e + 1, new_episodes + nfa))
    is_nfa = np.zeros(len(days), dtype=bool)
    is_nfa[rng.choice(len(days), nfa, replace=False)] = True
    closes: list[int | None] = [None] * len(days)

    # which episodes end this year: some of the stock, some of the new
    closable_new = [i for i in range(len(days)) if not is_nfa[i] and days[i] <= e - 7]
    k_new = min(len(closable_new), int(round(need["closures"] * 0.4)), need["closures"])
    k_old = need["closures"] - k_new
    if k_old > len(open_start):
        k_old = len(open_start)
        k_new = need["closures"] - k_old
    if k_new > len(closable_new):
        raise TargetError(f"{year}: {need['closures']} episodes must end but only {len(open_start)} are open and "
                          f"{len(closable_new)} start early enough")
    if k_old:
        age = np.array([s - sim.e_ref[i] + 60 for i in open_start], dtype=float)
        chosen = rng.choice(len(open_start), k_old, replace=False, p=age / age.sum())
        for position in chosen:
            episode = open_start[position]
            low = max(s, sim.e_ref[episode] + 1, sim.e_first_plan[episode] + 1 if sim.e_first_plan[episode] < INF
                      else s)
            low = max(low, min(sim.e_busy[episode], e) if sim.e_busy[episode] >= s else s)
            sim.close_episode(episode, r.randint(min(low, e), e))
    for position in rng.choice(len(closable_new), k_new, replace=False):
        i = closable_new[position]
        closes[i] = int(days[i]) + 1 + int(min(r.expovariate(1 / 110), e - days[i] - 1))

    # referrals in date order, the published number of them re-referrals
    marks = np.zeros(len(days), dtype=bool)
    marks[rng.choice(len(days), min(need["rereferrals"], len(days)), replace=False)] = True
    owed = 0
    made = 0
    first_new = len(sim.e_ref)
    for i, day in enumerate(days):
        day = int(day)
        child = None
        if marks[i] or owed:
            child = sim.rereferable(day)
            if child is not None:
                made += 1
                owed = owed + (1 if marks[i] else 0) - 1
            elif marks[i]:
                owed += 1
        if child is None and r.random() < 0.12:
            child = sim.returning(day)
        if child is None:
            child = sim.new_child(day)
        sim.add_episode(child, day, bool(is_nfa[i]), closes[i], None)
        if closes[i] is not None:
            sim.e_reason[-1] = r.choice(_REASONS)
    if owed and not first:
        raise TargetError(f"{year}: could make only {made} of {need['rereferrals']} re-referrals")

    # child protection plans starting this year, inside open episodes
    candidates = [ep for ep in [*open_start, *range(first_new, len(sim.e_ref))]
                  if not sim.e_nfa[ep] and not sim.c_pinned[sim.e_child[ep]] and sim.e_ref[ep] <= e
                  and (sim.e_close[ep] is None or sim.e_close[ep] >= s + 2)]
    order = rng.permutation(len(candidates))
    started = 0
    for position in order:
        if started == need["escalations"]:
            break
        ep = candidates[position]
        close = sim.e_close[ep]
        low = max(s, sim.e_ref[ep], sim.e_busy[ep] + 1)
        high = min(e, close - 1) if close is not None else e
        if low > high:
            continue
        start = r.randint(low, high)
        planned = start + r.randint(90, 419)
        if close is not None:
            planned = min(planned, close)
        sim.add_plan(ep, start, planned)
        started += 1
    if started < need["escalations"]:
        raise TargetError(f"{year}: only {started} of {need['escalations']} child protection plans could start")


EPOCH = date(1970, 1, 1).toordinal()


def _dates(days) -> np.ndarray:
    """Day numbers (None or >= INF: no date) as datetime64 (NaT)."""
    values = np.array([INF if d is None else d for d in days], dtype=np.int64)
    out = (values - EPOCH).astype("datetime64[D]").astype("datetime64[s]")
    out[values >= INF] = np.datetime64("NaT")
    return out


def _days(values) -> np.ndarray:
    """datetime64 (or dates) as day numbers, NaT as INF."""
    series = pd.Series(values)
    if not pd.api.types.is_datetime64_any_dtype(series):
        series = pd.to_datetime(series, cache=False)
    stamps = series.to_numpy(dtype="datetime64[D]")
    out = stamps.astype(np.int64) + EPOCH
    out[np.isnat(stamps)] = INF
    return out


def _history(sim: _Simulation, years: list[int]) -> History:
    last = _year_end(years[-1])
    rng = sim.rng
    children = pd.DataFrame({
        "child_id": sim.c_id, "birth_date": _dates(sim.c_birth), "gender": sim.c_gender,
        "ethnicity": sim.c_eth, "disabilities": sim.c_dis, "pinned": sim.c_pinned})
    n = len(sim.e_ref)
    ref = np.array(sim.e_ref, dtype=np.int64)
    close = np.array([c if c is not None else INF for c in sim.e_close], dtype=np.int64)
    nfa = np.array(sim.e_nfa, dtype=bool)
    started = np.minimum(ref + rng.integers(0, 6, n), close)
    authorised = np.minimum(started + rng.integers(10, 45, n), close)
    episodes = pd.DataFrame({
        "child_id": [sim.c_id[c] for c in sim.e_child], "referral_date": _dates(sim.e_ref),
        "referral_nfa": nfa, "closure_date": _dates(close.tolist()),
        "reason_for_closure": sim.e_reason,
        "referral_source": rng.choice(_SOURCES, n).astype(object),
        "primary_need": rng.choice(_NEEDS, n).astype(object),
        "assessment_start": _dates(np.where(nfa, INF, started).tolist()),
        "assessment_authorised": _dates(np.where(nfa | (authorised > last), INF, authorised).tolist()),
        "factors": rng.choice(_FACTORS, n).astype(object)})
    plan_close = np.array([sim.e_close[ep] if sim.e_close[ep] is not None else INF for ep in sim.p_ep],
                          dtype=np.int64)
    plan_end = np.minimum(np.array(sim.p_planned_end, dtype=np.int64), plan_close)
    m = len(sim.p_ep)
    plans = pd.DataFrame({
        "child_id": [sim.c_id[sim.e_child[ep]] for ep in sim.p_ep],
        "referral_date": _dates([sim.e_ref[ep] for ep in sim.p_ep]),
        "start_date": _dates(sim.p_start), "end_date": _dates(np.where(plan_end > last, INF, plan_end).tolist()),
        "initial_category": rng.choice(_CATEGORIES, m).astype(object),
        "latest_category": rng.choice(_CATEGORIES, m).astype(object)})
    return History(children, episodes, plans)


# --- writing the returns ----------------------------------------------------------------------------------


class _Arrays:
    """The history as day numbers and lists, prepared once for writing every year's return."""

    def __init__(self, history: History):
        days = _days
        children = history.children.reset_index(drop=True)
        self.child_index = {c: i for i, c in enumerate(children["child_id"])}
        self.c_id = list(children["child_id"])
        self.c_birth = days(children["birth_date"])
        self.c_gender = list(children["gender"])
        self.c_eth = list(children["ethnicity"])
        self.c_dis = [str(d).split(";") for d in children["disabilities"]]
        eps = history.episodes.reset_index(drop=True)
        self.e_child = np.array([self.child_index[c] for c in eps["child_id"]], dtype=np.int64)
        self.e_ref = days(eps["referral_date"])
        self.e_close = days(eps["closure_date"])
        self.e_nfa = eps["referral_nfa"].to_numpy(dtype=bool)
        self.e_reason = list(eps["reason_for_closure"])
        self.e_source = list(eps["referral_source"])
        self.e_need = list(eps["primary_need"])
        self.e_factors = list(eps["factors"])
        self.e_assess = days(eps["assessment_start"])
        self.e_auth = days(eps["assessment_authorised"])
        episode_of = {(c, r): i for i, (c, r) in enumerate(zip(self.e_child.tolist(), self.e_ref.tolist()))}
        plans = history.plans.reset_index(drop=True)
        self.p_start = days(plans["start_date"])
        self.p_end = days(plans["end_date"])
        self.p_initial = list(plans["initial_category"])
        self.p_latest = list(plans["latest_category"])
        self.plans_of: dict[int, list[int]] = {}
        for p, (child, referral) in enumerate(zip(plans["child_id"], days(plans["referral_date"]).tolist())):
            self.plans_of.setdefault(episode_of[(self.child_index[child], referral)], []).append(p)
        for listed in self.plans_of.values():
            listed.sort(key=lambda p: self.p_start[p])
        # Python lists for the per-element reads of the writer (a numpy scalar read costs several times more)
        self.ref, self.close, self.nfa = self.e_ref.tolist(), self.e_close.tolist(), self.e_nfa.tolist()
        self.assess, self.auth, self.child = self.e_assess.tolist(), self.e_auth.tolist(), self.e_child.tolist()
        self.birth = self.c_birth.tolist()
        self.p_start_list, self.p_end_list = self.p_start.tolist(), self.p_end.tolist()
        self.c_xml = [escape(c) for c in self.c_id]
        self._iso: dict[int, str] = {}

    def iso(self, day: int) -> str:
        text = self._iso.get(day)
        if text is None:
            text = self._iso[day] = date.fromordinal(day).isoformat()
        return text


def _return_xml(data: _Arrays, year: int, lea: str, with_cin_plans: bool) -> str:
    s, e = _year_start(year), _year_end(year)
    iso = data.iso
    shown = np.where(data.e_nfa, (data.e_ref >= s) & (data.e_ref <= e), (data.e_ref <= e) & (data.e_close >= s))
    chosen = np.flatnonzero(shown)
    order = np.lexsort((data.e_ref[chosen], [data.c_id[c] for c in data.e_child[chosen]]))
    chosen = chosen[order]
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n',
             "<!-- SYNTHETIC: every child, date and code in this file is invented by the fact22-warehouse census "
             "generator. Not council data. -->\n",
             f"<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>{year}</Year>"
             f"<ReferenceDate>{iso(e)}</ReferenceDate></CollectionDetails><Source><SourceLevel>L</SourceLevel>"
             f"<LEA>{lea}</LEA><SoftwareCode>{SOFTWARE_CODE}</SoftwareCode><Release>1</Release>"
             f"<SerialNo>001</SerialNo><DateTime>{year}-05-15T09:00:00</DateTime></Source></Header><Children>\n"]
    current = -1
    plans_of, p_start, p_end = data.plans_of, data.p_start_list, data.p_end_list
    for ep in chosen.tolist():
        child = data.child[ep]
        if child != current:
            if current >= 0:
                parts.append("</Child>\n")
            current = child
            birth = data.birth[child]
            birth_xml = f"<PersonBirthDate>{iso(birth)}</PersonBirthDate>" if birth < INF else ""
            disabilities = "".join(f"<Disability>{d}</Disability>" for d in data.c_dis[child])
            parts.append(f"<Child><ChildIdentifiers><LAchildID>{data.c_xml[child]}</LAchildID>{birth_xml}"
                         f"<GenderCurrent>{data.c_gender[child]}</GenderCurrent></ChildIdentifiers>"
                         f"<ChildCharacteristics><Ethnicity>{data.c_eth[child]}</Ethnicity><Disabilities>"
                         f"{disabilities}</Disabilities></ChildCharacteristics>")
        ref, close, nfa = data.ref[ep], data.close[ep], data.nfa[ep]
        closed = close <= e
        parts.append(f"<CINdetails><CINreferralDate>{iso(ref)}</CINreferralDate>"
                     f"<ReferralSource>{data.e_source[ep]}</ReferralSource>")
        if not nfa:
            parts.append(f"<PrimaryNeedCode>{data.e_need[ep]}</PrimaryNeedCode>")
        if closed:
            parts.append(f"<CINclosureDate>{iso(close)}</CINclosureDate>"
                         f"<ReasonForClosure>{data.e_reason[ep]}</ReasonForClosure>")
        assess, auth = data.assess[ep], data.auth[ep]
        if assess <= e and auth >= s:
            parts.append(f"<Assessments><AssessmentActualStartDate>{iso(assess)}</AssessmentActualStartDate>")
            if auth <= e:
                parts.append(f"<AssessmentAuthorisationDate>{iso(auth)}</AssessmentAuthorisationDate>"
                             f"<FactorsIdentifiedAtAssessment><AssessmentFactors>{data.e_factors[ep]}"
                             "</AssessmentFactors></FactorsIdentifiedAtAssessment>")
            parts.append("</Assessments>")
        # a CIN plan from the assessment's authorisation to the closure (returns from 2021-22 record them)
        if with_cin_plans and not nfa and auth < INF and auth <= e and close >= s:
            end = f"<CINPlanEndDate>{iso(close)}</CINPlanEndDate>" if closed else ""
            parts.append(f"<CINPlanDates><CINPlanStartDate>{iso(auth)}</CINPlanStartDate>{end}</CINPlanDates>")
        plans = [p for p in plans_of.get(ep, ()) if p_start[p] <= e and p_end[p] >= s] if ep in plans_of else ()
        for p in plans:
            start = p_start[p]
            parts.append(f"<Section47><S47ActualStartDate>{iso(max(ref, start - 10))}</S47ActualStartDate>"
                         f"<DateOfInitialCPC>{iso(start)}</DateOfInitialCPC><ICPCnotRequired>0</ICPCnotRequired>"
                         "</Section47>")
        parts.append(f"<ReferralNFA>{1 if nfa else 0}</ReferralNFA>")
        for p in plans:
            end = p_end[p]
            parts.append(f"<ChildProtectionPlans><CPPstartDate>{iso(p_start[p])}</CPPstartDate>"
                         + (f"<CPPendDate>{iso(end)}</CPPendDate>" if end <= e else "")
                         + f"<InitialCategoryOfAbuse>{data.p_initial[p]}</InitialCategoryOfAbuse>"
                         f"<LatestCategoryOfAbuse>{data.p_latest[p]}</LatestCategoryOfAbuse>"
                         "<NumberOfPreviousCPP>0</NumberOfPreviousCPP></ChildProtectionPlans>")
        parts.append("</CINdetails>")
    if current >= 0:
        parts.append("</Child>\n")
    parts.append("</Children></Message>\n")
    return "".join(parts)


def write_returns(history: History, years: list[int], lea: str, out_dir: Path,
                  with_cin_plans: dict[int, bool]) -> dict[int, Path]:
    """One return per collection year: ``out_dir``/cin_census_<lea>_<year>.xml."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = _Arrays(history)
    paths = {}
    for year in years:
        path = out_dir / f"cin_census_{lea}_{year}.xml"
        path.write_text(_return_xml(data, year, lea, with_cin_plans.get(year, False)), encoding="utf-8")
        paths[year] = path
    return paths


# --- what the returns must give back ----------------------------------------------------------------------

# The published column behind each total in DfE's Explore Education Statistics release (data/sources.yaml).
TARGET_COLUMNS = {"cin_at_31_march": "At31_episodes", "closures": "Ended_episodes", "referrals": "referral_count",
                  "rereferrals": "rereferral_count", "escalations": "CPP_start"}


def published_targets(files: dict[str, Path], authorities: dict[str, list[int]], root: Path) -> pd.DataFrame:
    """The figures DfE published for each authority and collection year, read from the release's files
    (``files``: measure -> file), with the file (relative to ``root``) and line each came from: what a
    synthetic census must give back. ``authorities``: ONS code -> the collection years wanted."""
    import csv

    rows = []
    for measure, path in files.items():
        column = TARGET_COLUMNS[measure]
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for line, record in enumerate(csv.DictReader(handle), start=2):
                code = record.get("new_la_code")
                if record.get("geographic_level") != "Local authority" or code not in authorities:
                    continue
                year = int(record["time_period"][:4]) if len(record["time_period"]) == 4 else int(
                    record["time_period"][:4]) + 1
                if year in authorities[code]:
                    rows.append({"authority_code": code, "la_code": record["old_la_code"], "collection_year": year,
                                 "measure": measure, "value": int(record[column]),
                                 "source_file": Path(path).relative_to(root).as_posix(), "source_line": line})
    out = pd.DataFrame(rows)
    return out.sort_values(["authority_code", "collection_year", "measure"]).reset_index(drop=True)


TARGETS_FILE = "census_targets.csv"
TARGETS_RELEASE = Path("dfe_cin") / "ees_cin_2025_release"
TARGETS_FILES = {"cin_at_31_march": "b1_children_in_need_2013_to_2025.csv",
                 "closures": "b1_children_in_need_2013_to_2025.csv",
                 "referrals": "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
                 "rereferrals": "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
                 "escalations": "d3_cpps_subsequent_plan_2013_to_2025.csv"}


def write_targets(trials, data_dir: Path, out_dir: Path) -> Path:
    """census_targets.csv: what DfE's 2025 release published for each synthetic trial's authority, over its
    collection years and the year before (whose 31 March stock the first return starts from)."""
    authorities: dict[str, list[int]] = {}
    for trial in trials:
        years = list(trial.collection_years)
        authorities[trial.authority_code] = sorted(set(authorities.get(trial.authority_code, []))
                                                   | {min(years) - 1, *years})
    release = Path(data_dir) / TARGETS_RELEASE
    targets = published_targets({m: release / f for m, f in TARGETS_FILES.items()}, authorities, Path(data_dir))
    path = Path(out_dir) / TARGETS_FILE
    path.write_text(targets.to_csv(index=False, lineterminator="\n"), encoding="utf-8", newline="\n")
    return path
