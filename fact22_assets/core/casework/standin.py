"""SYNTHETIC stand-ins for a trial's council data: its children in the census, its randomisation list and its
researcher-coded extracts.

The real case-level data are council data about children and are not
public. These are invented: every row is made up, seeded and deterministic,
built from a trial's stand-in specification (data/synthetic/<trial_id>/
standin.yaml: the counts per arm, the model results and the extracts'
aggregates a report published, or chosen ones for an illustration) and
passed through the same schemas and census path a council's files take.

What is written (and committed: small) per trial, into
data/synthetic/<trial_id>/:

- ``randomisation.csv``: the randomisation list (LAchildID, arm, date and
  the trial's list columns);
- ``census_seed/{children,episodes,plans}.csv``: the trial children's census
  histories (birth date, sex, ethnicity, disability; episodes of need before,
  at and after randomisation; child protection plans). At build time
  core/census/synthetic.py places them inside an invented authority census
  whose totals reconcile with DfE's published figures, and writes the
  returns as XML;
- ``risk_notes.csv`` and ``service_mi.csv`` when the trial has those extracts;
- ``README.md``: what the files are and the counts chosen.

Where a report's rounded shares cannot all hold with whole counts, the
specification's notes say which one gives way.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from ..census.config import Trial, collection_year_of
from .rct import TREATED, analyse_outcome
from .risk import load_engagement_scale, load_risk_framework, score_risk_notes
from .schemas import (
    ENGAGEMENT_LEVELS,
    randomisation_schema,
    risk_notes_schema,
    service_schema,
    validate_extract,
)

ORIGIN = "SYNTHETIC"
ROLES = ("treated", "control")
SPEC_FILE = "standin.yaml"
SEED_DIR = "census_seed"
OTHER_ETHNICITIES = ("MWBC", "MWAS", "AIND", "APKN", "BAFR", "BCRB", "CHNE", "OOTH")


def load_spec(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def _stream(seed: int, name: str) -> np.random.Generator:
    """An independent, named random stream, so changing one table's
    generation does not reshuffle the others."""
    return np.random.default_rng([seed, sum(ord(ch) * 31**i for i, ch in enumerate(name)) % 2**32])


def _exactly(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    flags = np.zeros(n, bool)
    flags[rng.choice(n, size=k, replace=False)] = True
    return flags


def _pick(rng: np.random.Generator, candidates: np.ndarray, k: int) -> np.ndarray:
    candidates = np.asarray(candidates)
    if len(candidates) < k:
        raise RuntimeError(f"synthetic generator: need {k} cases, only {len(candidates)} eligible")
    return np.sort(rng.choice(candidates, size=k, replace=False))


def _days(rng: np.random.Generator, low: int, high: int) -> int:
    return int(rng.integers(low, high + 1))


def _by_arm(entry: dict, trial: Trial) -> dict[str, int]:
    """A count given per role (treated, control) keyed by the trial's arm names."""
    return {trial.treated_arm: int(entry["treated"]), trial.control_arm: int(entry["control"])}


# --- the trial's cases -----------------------------------------------------------------------------------


def _characteristics(rng: np.random.Generator, spec: dict, trial: Trial) -> pd.DataFrame:
    counts = {name: _by_arm(entry, trial) for name, entry in spec["counts"].items()}
    n_t, n_c = counts["families"][trial.treated_arm], counts["families"][trial.control_arm]
    n = n_t + n_c
    window = (trial.randomised_to - trial.randomised_from).days
    randomised = np.sort(rng.integers(0, window + 1, size=n))
    arm = np.array([trial.treated_arm] * n_t + [trial.control_arm] * n_c)[rng.permutation(n)]
    prefix = spec["child_id_prefix"]
    frame = pd.DataFrame({
        "child_id": [f"{prefix}{x}" for x in rng.choice(np.arange(9_000_000, 9_999_999), n, replace=False)],
        "arm": arm,
        "randomised_on": pd.Timestamp(trial.randomised_from) + pd.to_timedelta(randomised, unit="D"),
    })
    flags = ("female", "previous_cin_history", "other_cin_in_family", "disabled", "later_received_treatment")
    for column in flags:
        frame[column] = False
    frame["ethnicity"] = "OOTH"
    frame["age_at_referral"] = pd.array([pd.NA] * n, dtype="Int64")
    frame["age_group"] = ""
    for a in trial.arms:
        rows = np.flatnonzero(frame["arm"] == a)
        k = len(rows)
        for column in flags:
            frame.loc[rows[_exactly(rng, k, counts[column][a])], column] = True
        others = rng.choice(OTHER_ETHNICITIES, counts["ethnicity_other"][a])
        ethnic = np.array(["WBRI"] * counts["white_british"][a] + ["WOTH"] * counts["other_white"][a] + list(others))
        frame.loc[rows, "ethnicity"] = ethnic[rng.permutation(k)]
        groups = np.array(["under_11"] * counts["under_11"][a] + ["aged_out"] * counts["aged_out_by_end"][a]
                          + ["11_to_13"] * counts["aged_11_to_13_not_aged_out"][a]
                          + ["missing"] * counts["age_missing"][a])
        if len(groups) != k:
            raise RuntimeError(f"synthetic generator: age groups of {a} do not add up to the arm")
        frame.loc[rows, "age_group"] = groups[rng.permutation(k)]
    low, high = spec["ages"]["aged_out"]
    older_low, older_high = spec["ages"]["not_aged_out_over_11"]
    ages = {
        "under_11": lambda: int(rng.integers(0, 11)),
        "11_to_13": lambda: int(rng.integers(older_low, older_high + 1)),
        "aged_out": lambda: int(rng.integers(low, high + 1)),
    }
    for position, group in enumerate(frame["age_group"]):
        if group in ages:
            frame.loc[position, "age_at_referral"] = ages[group]()
    frame["aged_out_by_end"] = frame["age_group"] == "aged_out"
    return frame


def _model_frame(frame: pd.DataFrame, outcome: np.ndarray, known: np.ndarray, trial: Trial) -> pd.DataFrame:
    age = frame["age_at_referral"].astype("Float64")
    return pd.DataFrame({
        "y": np.where(known, outcome.astype(float), np.nan),
        TREATED: (frame["arm"] == trial.treated_arm).astype(int).to_numpy(),
        "female": frame["female"].astype(int).to_numpy(),
        "under_11": np.where(age.isna(), np.nan, age.fillna(99).lt(11).astype(float)),
        "previous_cin_history": frame["previous_cin_history"].astype(int).to_numpy(),
    })


def _search_assignment(seed, name, frame, known, forced, candidates, counts, trial, spec) -> np.ndarray:
    """Seeded search for an outcome assignment with the chosen counts whose adjusted logistic result (control
    rate had it been treated) lands within the tolerance of the published one and is not significant; without
    a published result, the first assignment."""
    model = spec.get("model_targets") or {}
    target = (model.get("control_rate_if_treated") or {}).get(name)
    for attempt in range(5000):
        rng = _stream(seed, f"{name}-{attempt}")
        outcome = forced.copy()
        for a in trial.arms:
            in_arm = (frame["arm"] == a).to_numpy()
            pool = np.flatnonzero(candidates & in_arm & ~forced)
            outcome[_pick(rng, pool, counts[a] - int((forced & in_arm).sum()))] = True
        if target is None:
            return outcome
        row = analyse_outcome(_model_frame(frame, outcome, known, trial), "y", tuple(model["controls"]))
        if (row["status"] == "estimated" and abs(row["control_rate_if_treated"] - target) <= model["tolerance"]
                and row["p_value"] > 0.05 and row["p_value_log_odds"] > 0.05):
            return outcome
    raise RuntimeError(f"synthetic generator: no assignment of {name} met the published result")


def _truncated_normal_days(rng, mean: float, sd: float, low: int, high: int) -> int:
    for _ in range(1000):
        value = int(round(rng.normal(mean, sd)))
        if low <= value <= high:
            return value
    return int(rng.integers(low, high + 1))


def generate_trial_cases(spec: dict, trial: Trial) -> pd.DataFrame:
    """One row per randomised child with its characteristics and what happened to it, SYNTHETIC."""
    seed = int(spec["seed"])
    rng = _stream(seed, "rct")
    counts = {name: _by_arm(entry, trial) for name, entry in spec["counts"].items()}
    frame = _characteristics(rng, spec, trial)
    end = pd.Timestamp(trial.follow_up_end)
    is_t = (frame["arm"] == trial.treated_arm).to_numpy()
    aged_out = frame["aged_out_by_end"].to_numpy()
    n = len(frame)

    # Outcome unknown (transferred out): the case without a birth date first, then others not aged out.
    missing = frame["age_group"].eq("missing").to_numpy().copy()
    for a in trial.arms:
        in_arm = (frame["arm"] == a).to_numpy()
        more = counts["outcome_data_missing"][a] - int((missing & in_arm).sum())
        if more > 0:
            missing[_pick(rng, np.flatnonzero(in_arm & ~aged_out & ~missing), more)] = True
    contaminated = frame["later_received_treatment"].to_numpy()
    if (contaminated & missing).any():
        swap = _pick(rng, np.flatnonzero(~is_t & ~missing & ~contaminated), int((contaminated & missing).sum()))
        contaminated = contaminated & ~missing
        contaminated[swap] = True
        frame["later_received_treatment"] = contaminated

    escalated = np.zeros(n, bool)
    for a in trial.arms:
        in_arm = (frame["arm"] == a).to_numpy()
        escalated[_pick(rng, np.flatnonzero(in_arm & ~aged_out & ~missing), counts["escalated"][a])] = True
    known = ~missing

    closed = _search_assignment(seed, "closed", frame, known, forced=aged_out.copy(),
                                candidates=known & ~escalated, counts=counts["closed"], trial=trial, spec=spec)

    # Case lengths: a normal latent length per arm, closures drawn below the days left before the end of
    # follow-up (so the Tobit model has something to recover); re-referrable closures need room for two
    # later referrals.
    start = frame["randomised_on"]
    room = (end - start).dt.days.to_numpy()
    lengths = spec["case_length"]
    mean_days = np.where(is_t, float(lengths["mean_days"]["treated"]), float(lengths["mean_days"]["control"]))
    closure = [pd.NaT] * n
    for i in np.flatnonzero(closed):
        closure[i] = start[i] + pd.Timedelta(days=_truncated_normal_days(rng, mean_days[i], float(lengths["sd_days"]),
                                                                         21, room[i] - 1))
    frame["closure_date"] = pd.to_datetime(pd.Series(closure))

    early_enough = closed & (frame["closure_date"] <= end - pd.Timedelta(days=150)).to_numpy()
    rereferred = _search_assignment(seed, "rereferred", frame, known, forced=np.zeros(n, bool),
                                    candidates=early_enough, counts=counts["rereferred"], trial=trial, spec=spec)

    referrals: list[list[pd.Timestamp]] = [[] for _ in range(n)]
    for i in range(n):
        if not closed[i]:
            continue
        closure_day = frame.at[i, "closure_date"]
        if rereferred[i]:
            # Two referrals less than 12 months apart: a statutory re-referral
            # whether or not the first falls within 12 months of the index.
            days_left = (end - closure_day).days
            first = closure_day + pd.Timedelta(days=_days(rng, 14, min(240, days_left // 2)))
            second = first + pd.Timedelta(days=_days(rng, 14, min(330, (end - first).days)))
            referrals[i] = [first, second]
        elif rng.random() < 0.3:
            # A single later referral, more than 12 months after the index one.
            later = max(closure_day + pd.Timedelta(days=30), frame.at[i, "randomised_on"] + pd.Timedelta(days=400))
            later += pd.Timedelta(days=_days(rng, 0, 200))
            if later <= end:
                referrals[i] = [later]
    frame["later_referrals"] = referrals

    escalation = [pd.NaT] * n
    for i in np.flatnonzero(escalated):
        escalation[i] = start[i] + pd.Timedelta(days=_days(rng, 60, min(900, room[i])))
    frame["escalation_date"] = pd.to_datetime(pd.Series(escalation))
    frame["closed"] = closed
    frame["outcome_data_missing"] = missing
    return frame


# --- the trial's children in the census -------------------------------------------------------------------


def _birth_date(rng, referral: pd.Timestamp, age: int, aged_out: bool, end: pd.Timestamp) -> pd.Timestamp:
    """A birth date giving ``age`` completed years at referral and an 18th birthday by ``end`` iff aged out."""
    earliest = referral - pd.DateOffset(years=age + 1) + pd.Timedelta(days=1)
    latest = referral - pd.DateOffset(years=age)
    limit = end - pd.DateOffset(years=18)
    low, high = (earliest, min(latest, limit)) if aged_out else (max(earliest, limit + pd.Timedelta(days=1)), latest)
    if low > high:
        raise RuntimeError(f"synthetic generator: no birth date gives age {age} at {referral.date()} and "
                           f"{'an' if aged_out else 'no'} 18th birthday by {end.date()}")
    return low + pd.Timedelta(days=int(rng.integers(0, (high - low).days + 1)))


def census_seed(cases: pd.DataFrame, trial: Trial, seed: int) -> dict[str, pd.DataFrame]:
    """The trial children's histories as a census records them: children, episodes (a previous episode for
    those with CIN history, the index episode opened at randomisation, later referrals with no further action),
    plans (an escalation is a child protection plan in the index episode)."""
    rng = _stream(seed, "census")
    end = pd.Timestamp(trial.follow_up_end)
    first_day = pd.Timestamp(min(trial.collection_years) - 1, 4, 1)
    children, episodes, plans = [], [], []
    for row in cases.itertuples(index=False):
        referral = row.randomised_on
        birth = None if pd.isna(row.age_at_referral) else _birth_date(rng, referral, int(row.age_at_referral),
                                                                     bool(row.aged_out_by_end), end)
        children.append({"child_id": row.child_id, "birth_date": birth, "gender": "2" if row.female else "1",
                         "ethnicity": row.ethnicity, "disabilities": "LD" if row.disabled else "NONE"})
        if row.previous_cin_history:
            room = (referral - pd.Timedelta(days=60) - first_day).days
            if room < 30:
                raise RuntimeError("synthetic generator: the census returns start too late for a previous episode")
            earlier = first_day + pd.Timedelta(days=int(rng.integers(0, room)))
            closed_on = earlier + pd.Timedelta(days=int(rng.integers(14, max(15, (referral - earlier).days - 14))))
            episodes.append({"child_id": row.child_id, "referral_date": earlier, "referral_nfa": False,
                             "closure_date": closed_on, "reason_for_closure": "RC7"})
        if row.outcome_data_missing:
            closure, reason = referral + pd.Timedelta(days=int(rng.integers(30, 300))), "RC5"
        elif row.closed:
            closure, reason = row.closure_date, "RC7"
        else:
            closure, reason = pd.NaT, None
        episodes.append({"child_id": row.child_id, "referral_date": referral, "referral_nfa": False,
                         "closure_date": closure, "reason_for_closure": reason})
        for later in row.later_referrals:
            episodes.append({"child_id": row.child_id, "referral_date": later, "referral_nfa": True,
                             "closure_date": pd.NaT, "reason_for_closure": None})
        if pd.notna(row.escalation_date):
            plans.append({"child_id": row.child_id, "referral_date": referral, "start_date": row.escalation_date,
                          "end_date": pd.NaT})
    return {
        "children": pd.DataFrame(children, columns=["child_id", "birth_date", "gender", "ethnicity", "disabilities"]),
        "episodes": pd.DataFrame(episodes, columns=["child_id", "referral_date", "referral_nfa", "closure_date",
                                                    "reason_for_closure"]),
        "plans": pd.DataFrame(plans, columns=["child_id", "referral_date", "start_date", "end_date"]),
    }


def randomisation_list(cases: pd.DataFrame, trial: Trial) -> pd.DataFrame:
    """The list a trial keeps: the child's LAchildID, arm, date, and the trial's list columns."""
    out = cases[["child_id", "arm", "randomised_on"]].rename(columns={"child_id": "LAchildID"})
    for column in trial.list_columns:
        out[column] = cases[column].astype(bool)
    out["data_origin"] = ORIGIN
    out = out.sort_values(["randomised_on", "LAchildID"], kind="stable").reset_index(drop=True)
    schema = randomisation_schema(trial.arms, trial.randomised_from, trial.randomised_to, trial.list_columns)
    validate_extract(out, schema, "synthetic randomisation list")
    return out


# --- risk notes -------------------------------------------------------------------------------------------

def _sum_to(rng: np.random.Generator, n: int, total: int, sd: float) -> np.ndarray:
    """n whole numbers around total/n that add up to exactly total."""
    values = np.round(rng.normal(total / n, sd, n)).astype(int)
    while values.sum() != total:
        step = 1 if values.sum() < total else -1
        values[rng.integers(n)] += step
    return values


class _Profile:
    """One case's coding at one time point."""

    def __init__(self, flags: dict[str, int], parent: str, child: str | None):
        self.flags = dict(flags)
        self.parent = parent
        self.child = child

    def copy(self) -> _Profile:
        return _Profile(self.flags, self.parent, self.child)


def _score(profile: _Profile, weights: dict[str, int], scale: dict[str, int]) -> int:
    engagement = scale[profile.parent] + (scale[profile.child] if profile.child else 0)
    return engagement + sum(weights[code] for code, on in profile.flags.items() if on)


def _moves(profile: _Profile, weights, scale, allowed: list[str]):
    """Every single-step change of a profile and its effect on the score."""
    for code in allowed:
        delta = -weights[code] if profile.flags[code] else weights[code]
        yield ("flag", code), delta
    levels = list(ENGAGEMENT_LEVELS)
    for who in ("parent", "child"):
        level = getattr(profile, who)
        if level is None:
            continue
        i = levels.index(level)
        for j in (i - 1, i + 1):
            if 0 <= j < len(levels):
                yield (who, levels[j]), scale[levels[j]] - scale[level]


def _move_to(profile: _Profile, target: int, weights, scale, allowed, rng) -> _Profile:
    """Random single steps towards `target` score, never overshooting."""
    profile = profile.copy()
    for _ in range(200):
        need = target - _score(profile, weights, scale)
        if need == 0:
            return profile
        options = [m for m, d in _moves(profile, weights, scale, allowed) if d * need > 0 and abs(d) <= abs(need)]
        if not options:
            break
        kind, value = options[rng.integers(len(options))]
        if kind == "flag":
            profile.flags[value] = 1 - profile.flags[value]
        else:
            setattr(profile, kind, value)
    raise RuntimeError("synthetic generator: could not reach the target risk score")




def generate_risk_notes(cases: pd.DataFrame, spec: dict, trial: Trial, framework: pd.DataFrame,
                        engagement_scale: pd.DataFrame) -> pd.DataFrame:
    """Coded case notes for some of the trial's cases, SYNTHETIC.

    The cases coded at the last point are open then and not aged out; the
    others aged out or closed before it, as RR1067 says of its 30 and 13.
    """
    risk = spec["risk"]
    time_points = list(risk["time_points"])
    first, middle, last = time_points
    counts = {name: _by_arm(entry, trial) for name, entry in risk["counts"].items()}
    rng = _stream(int(spec["seed"]), "risk")
    weights = dict(zip(framework["factor_code"], framework["weight"].astype(int)))
    scale = dict(zip(engagement_scale["engagement_level"], engagement_scale["score"].astype(int)))
    child_over_11_only = set(framework.loc[framework["applies_when"] == "child_over_11", "factor_code"])
    codes = list(framework["factor_code"])

    cases = cases.reset_index(drop=True)
    coding_last = pd.Timestamp(risk["coded_on"][last])
    usable = ~cases["outcome_data_missing"].astype(bool) & cases["age_at_referral"].notna() & cases[
        "escalation_date"].isna()
    open_last = cases["closure_date"].isna() | (cases["closure_date"] >= coding_last)
    stays = usable & open_last & ~cases["aged_out_by_end"].astype(bool)
    leaves = usable & (~open_last | cases["aged_out_by_end"].astype(bool))

    selected = []
    for a in trial.arms:
        in_arm = cases["arm"] == a
        n_last = counts["risk_cases_2019"][a]
        n_all = counts["risk_cases_2015"][a]
        again = _pick(rng, np.flatnonzero(stays & in_arm), n_last)
        once = _pick(rng, np.flatnonzero(leaves & in_arm), n_all - n_last)
        changes_1 = _sum_to(rng, n_all, counts["risk_change_sum_2015_2016"][a], 2.0)
        changes_2 = _sum_to(rng, n_last, counts["risk_change_sum_2016_2019"][a], 3.5)
        # The report found the rise in risk not significant; redraw the
        # spread of whole-number changes until the arm's own change isn't.
        while stats.ttest_1samp(changes_2, 0.0).pvalue <= 0.1:
            changes_2 = _sum_to(rng, n_last, counts["risk_change_sum_2016_2019"][a], 3.5)
        order = np.concatenate([again, once])
        for k, i in enumerate(order):
            selected.append((int(i), changes_1[k], changes_2[k] if k < n_last else None))

    rows = []
    for i, change_1, change_2 in sorted(selected):
        case = cases.loc[i]
        age = float(case["age_at_referral"])
        randomised = case["randomised_on"]
        ages = {first: age, middle: age + int(risk["coded_after_days"][middle]) / 365.25,
                last: age + (coding_last - randomised).days / 365.25}
        # Completed years at referral: the child is on average half a year older.
        # Lists in framework order, not sets: set order varies between runs.
        allowed = {tp: [c for c in codes if c not in child_over_11_only or ages[tp] + 0.5 > 11] for tp in ages}

        # At referral: each allowed risk factor present with chance 0.3, each protective 0.35.
        flags = {c: int(c in allowed[first] and rng.random() < (0.3 if weights[c] < 0 else 0.35)) for c in codes}
        parent = str(rng.choice(ENGAGEMENT_LEVELS, p=[0.2, 0.4, 0.25, 0.15]))
        child = str(rng.choice(ENGAGEMENT_LEVELS, p=[0.15, 0.45, 0.25, 0.15])) if age >= 5 else None
        profiles = {first: _Profile(flags, parent, child)}
        targets = [(middle, change_1)] + ([(last, change_2)] if change_2 is not None else [])
        previous = profiles[first]
        for tp, change in targets:
            start = previous.copy()
            if start.child is None and ages[tp] >= 5:
                start.child = str(rng.choice(ENGAGEMENT_LEVELS, p=[0.15, 0.45, 0.25, 0.15]))
            target = _score(previous, weights, scale) + int(change)
            profiles[tp] = _move_to(start, target, weights, scale, allowed[tp], rng)
            previous = profiles[tp]
        for tp in time_points:
            if tp in profiles:
                p = profiles[tp]
                rows.append({"case_id": case["child_id"], "arm": case["arm"], "time_point": tp, **p.flags,
                             "parent_engagement": p.parent, "child_engagement": p.child or "", "data_origin": ORIGIN})
    notes = pd.DataFrame(rows)
    typed = validate_extract(notes, risk_notes_schema(codes, trial.arms, time_points), "synthetic risk_notes")
    score_risk_notes(typed, framework, engagement_scale)
    return notes


# --- service management information -----------------------------------------------------------------------


def _adjust_to_sum(rng, days: np.ndarray, total: int, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Shift whole days between cases until they add up to `total`, each
    staying within its own [low, high]."""
    days = days.copy()
    for _ in range(200_000):
        gap = total - int(days.sum())
        if gap == 0:
            return days
        step = 1 if gap > 0 else -1
        i = rng.integers(len(days))
        if low[i] <= days[i] + step <= high[i]:
            days[i] += step
    raise RuntimeError("synthetic generator: could not meet the mean days to close")


def generate_service_mi(spec: dict, trial: Trial) -> pd.DataFrame:
    """A service's management information (FACT22's: 380 families), SYNTHETIC."""
    service = spec["service"]
    options = trial.extract("service_information").options
    locations = list(options["locations"])
    primary, unknown = locations[0], locations[-1]
    rng = _stream(int(spec["seed"]), "service")
    extract = pd.Timestamp(service["extract_date"])
    starts, where = [], []
    for phase in service["phases"]:
        first, last = pd.Timestamp(phase["from"]), pd.Timestamp(phase["to"])
        count = int(phase["starts"])
        offsets = np.sort(rng.integers(0, (last - first).days + 1, count))
        starts.extend(first + pd.to_timedelta(offsets, unit="D"))
        named = [loc for loc in locations[1:-1] for _ in range(int(phase.get(loc, 0)))]
        phase_locations = np.array(named + [primary] * (count - len(named)))
        where.extend(phase_locations[rng.permutation(count)])
    n = len(starts)
    where = np.array(where, dtype=object)
    where[_pick(rng, np.flatnonzero(where == primary), int(service["location"][unknown]))] = unknown

    frame = pd.DataFrame({"start_date": pd.to_datetime(pd.Series(starts)), "location": where})
    frame = frame.sort_values("start_date", kind="stable").reset_index(drop=True)
    frame.insert(0, "family_id", [f"SVC{i:04d}" for i in range(1, n + 1)])

    outcomes = service["outcome"]
    outcome = np.array([""] * n, dtype=object)
    # Open cases are the latest starters, plus a few longer-running ones
    # from the last phase; every other case has had time to end.
    latest = n - (outcomes["open"] - 5)
    outcome[latest:] = "open"
    last_phase = np.flatnonzero(frame["start_date"] >= pd.Timestamp(service["phases"][-1]["from"]))
    outcome[_pick(rng, last_phase[last_phase < latest], 5)] = "open"
    for kind in ("escalated_cp", "escalated_lac", "other"):
        outcome[_pick(rng, np.flatnonzero(outcome == ""), outcomes[kind])] = kind
    outcome[outcome == ""] = "closed"
    frame["outcome"] = outcome

    room = (extract - frame["start_date"]).dt.days.to_numpy()
    days = np.zeros(n, int)
    closed = np.flatnonzero(outcome == "closed")
    draws = np.round(rng.lognormal(np.log(165), 0.5, len(closed))).astype(int)
    low = np.full(len(closed), 14)
    high = np.minimum(room[closed], 720)
    days[closed] = _adjust_to_sum(rng, np.clip(draws, low, high), int(service["days_to_close_sum"]["all"]), low, high)
    for i in np.flatnonzero(np.isin(outcome, ["escalated_cp", "escalated_lac", "other"])):
        days[i] = _days(rng, 14, int(min(room[i], 400)))
    end = frame["start_date"] + pd.to_timedelta(days, unit="D")
    frame["end_date"] = end.where(outcome != "open")
    frame["data_origin"] = ORIGIN
    schema = service_schema(locations, date.fromisoformat(str(options["from"])), date.fromisoformat(str(options["to"])))
    frame = frame[[*schema.column_names, "data_origin"]]
    validate_extract(frame, schema, "synthetic service_mi")
    return frame


# --- files ------------------------------------------------------------------------------------------------


def to_csv_text(frame: pd.DataFrame) -> str:
    """CSV with ISO dates, lower-case booleans and empty nulls, byte-stable."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values.dt.strftime("%Y-%m-%d").fillna("")
        elif pd.api.types.is_bool_dtype(values):
            out[column] = values.map({True: "true", False: "false"})
        else:
            out[column] = values.astype(object).where(values.notna(), "").map(
                lambda v: v.isoformat() if isinstance(v, date) else str(v))
    return out.to_csv(index=False, lineterminator="\n")


def generate_standin(trial: Trial, spec: dict, framework: pd.DataFrame | None = None,
                     engagement_scale: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every SYNTHETIC file of a trial, as frames: randomisation, census_seed/children, census_seed/episodes,
    census_seed/plans, and risk_notes, service_mi when the trial has those extracts."""
    if spec.get("trial_id") != trial.trial_id:
        raise ValueError(f"stand-in specification is for {spec.get('trial_id')!r}, not {trial.trial_id!r}")
    cases = generate_trial_cases(spec, trial)
    seed = census_seed(cases, trial, int(spec["seed"]))
    files = {"randomisation": randomisation_list(cases, trial),
             **{f"{SEED_DIR}/{name}": frame for name, frame in seed.items()}}
    if trial.extract("risk_notes") is not None:
        framework = load_risk_framework() if framework is None else framework
        engagement_scale = load_engagement_scale() if engagement_scale is None else engagement_scale
        files["risk_notes"] = generate_risk_notes(cases, spec, trial, framework, engagement_scale)
    if trial.extract("service_information") is not None:
        files["service_mi"] = generate_service_mi(spec, trial)
    return files


def read_census_seed(folder: Path) -> dict[str, pd.DataFrame]:
    """The committed census histories of a trial's children, typed (what the census generator pins)."""
    folder = Path(folder)
    dates = {"children": ["birth_date"], "episodes": ["referral_date", "closure_date"],
             "plans": ["referral_date", "start_date", "end_date"]}
    out = {}
    for name, columns in dates.items():
        frame = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        for column in columns:
            frame[column] = pd.to_datetime(frame[column].replace("", None))
        if "referral_nfa" in frame:
            frame["referral_nfa"] = frame["referral_nfa"] == "true"
        if "reason_for_closure" in frame:
            frame["reason_for_closure"] = frame["reason_for_closure"].replace("", None)
        out[name] = frame
    return out


def _share(count: int, of: int) -> str:
    return f"{100 * count / of:.1f}%" if of else ""


def readme_text(trial: Trial, spec: dict, files: dict[str, pd.DataFrame]) -> str:
    """data/synthetic/<trial_id>/README.md: what these files are and the counts chosen."""
    lines = [
        f"# SYNTHETIC data of trial {trial.trial_id} - not real children, not council data",
        "",
        "Every row in these files is SYNTHETIC: invented by `scripts/generate_standin_casework.py` (code in",
        f"`fact22_assets/core/casework/standin.py`) from `standin.yaml` with seed {spec['seed']}, to stand in for",
        f"council data that are not public. {trial.title}.",
        f"They give back what {spec['published_by']} published, within one percentage point per",
        "share and 0.1 per mean, through the same schemas and the same census path a council's files take. Every",
        "row carries or is labelled `data_origin = SYNTHETIC`; every table built from them is too. Re-running",
        "the generator reproduces these files byte for byte.",
        "",
        "At build time the census generator (`fact22_assets/core/census/synthetic.py`) places the children of",
        "`census_seed/` inside an invented census of the whole authority, whose totals equal DfE's published",
        "figures (`../census_targets.csv`), and writes one XML return per collection year, valid against DfE's",
        "schema. The returns are not committed: they are large, and the build makes the same bytes each time.",
        "",
        "| file | rows |",
        "|---|---|",
    ]
    for name, frame in files.items():
        lines.append(f"| `{name}.csv` | {len(frame)} |")
    lines += ["", "## Counts chosen", "", "Shares are count / denominator (the whole arm unless stated).", "",
              "| quantity | counts | shares | published | note |", "|---|---|---|---|---|"]
    sections = [spec["counts"], (spec.get("risk") or {}).get("counts", {})]
    service = spec.get("service") or {}
    for quantity, entry in [item for section in sections for item in section.items()]:
        roles = [r for r in ROLES if r in entry]
        counts = " / ".join(f"{trial.treated_arm if r == 'treated' else trial.control_arm} {entry[r]}" for r in roles)
        shares = ""
        if quantity != "families" and quantity in spec["counts"]:
            of = entry.get("of", spec["counts"]["families"])
            shares = " / ".join(_share(int(entry[r]), int(of[r])) for r in roles)
        lines.append(f"| {quantity} | {counts} | {shares} | {entry['published']} | {entry['note']} |")
    for quantity in ("families", "location", "outcome", "days_to_close_sum"):
        entry = service.get(quantity)
        if entry:
            keys = [k for k in entry if k not in ("published", "note")]
            shares = " / ".join(_share(int(entry[k]), int(service["families"]["all"])) for k in keys) \
                if quantity in ("location", "outcome") else ""
            lines.append(f"| service_{quantity} | {' / '.join(f'{k} {entry[k]}' for k in keys)} | {shares} | "
                         f"{entry['published']} | {entry['note']} |")
    lines += ["", "## How the outcomes are read from the census", "",
              "- Closed: the episode of need open at randomisation ended by the end of follow-up "
              f"({trial.follow_up_end.isoformat()}).",
              "- Re-referred: a referral within 12 months of the child's previous one (the first compared with",
              "  the index referral), by the end of follow-up.",
              "- Escalated: a child protection plan started after randomisation, by the end of follow-up.",
              "- A case whose index episode ended by transfer to another authority (RC5) has unknown closure and",
              "  re-referral: the child's later records are in another council's return.", ""]
    if spec.get("model_targets", {}).get("control_rate_if_treated"):
        targets = spec["model_targets"]["control_rate_if_treated"]
        lines += ["Closure and re-referral assignments were drawn (seeded) until the logistic model with controls",
                  f"({', '.join(spec['model_targets']['controls'])}) gives back the published adjusted rates: the",
                  "control group's rate had it been treated within "
                  f"{100 * float(spec['model_targets']['tolerance']):.1f} points of "
                  + ", ".join(f"{100 * v:.0f}% ({k})" for k, v in targets.items()) + ", none significant.", ""]
    return "\n".join(lines)


def write_standin(trial: Trial, spec_path: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """Write the trial's SYNTHETIC files next to its specification (or into ``out_dir``)."""
    spec = load_spec(spec_path)
    out_dir = Path(out_dir) if out_dir is not None else Path(spec_path).parent
    files = generate_standin(trial, spec)
    paths = {}
    for name, frame in files.items():
        path = out_dir / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_csv_text(frame), encoding="utf-8", newline="\n")
        paths[name] = path
    readme = out_dir / "README.md"
    readme.write_text(readme_text(trial, spec, files), encoding="utf-8", newline="\n")
    paths["readme"] = readme
    return paths


def first_collection_year(trial: Trial) -> int:
    return collection_year_of(trial.randomised_from)
