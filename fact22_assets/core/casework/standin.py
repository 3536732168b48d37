"""SYNTHETIC stand-ins for the three council extracts.

The real case-level data are council data about children and are not
public. These tables are invented: every row is made up, seeded and
deterministic, built to reproduce the aggregates the report (RR1067)
published, through the same schemas a council extract must pass. They
are labelled data_origin = 'SYNTHETIC' in every row.

Where the report's rounded shares cannot all hold with whole counts, the
counts below say which one gives way (see CHOSEN_COUNTS notes).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .rct import analyse_outcome, derive_rct_outcomes
from .risk import load_engagement_scale, load_risk_framework, score_risk_notes
from .schemas import (
    ARMS,
    CONTROL_ARM,
    ENGAGEMENT_LEVELS,
    RANDOMISATION_END,
    RANDOMISATION_START,
    RCT_CASES,
    RISK_TIME_POINTS,
    SERVICE_MI,
    STUDY_END,
    TREATMENT_ARM,
    risk_notes_schema,
    validate_extract,
)

SEED = 20200301  # RR1067 was published in March 2020
ORIGIN = "SYNTHETIC"
T, C = TREATMENT_ARM, CONTROL_ARM

# Counts chosen to meet each published figure. "of" gives the denominator
# where it is not the whole arm. Notes say where rounding forced a choice.
CHOSEN_COUNTS: dict[str, dict] = {
    # --- RCT sample (strand 2) ---
    "families": {T: 84, C: 44, "published": "128 families, 84 / 44", "note": "exact"},
    "female": {T: 35, C: 14, "published": "42% / 32%", "note": "41.7% / 31.8%"},
    # One control case has no age: 29 of 44 (65.9%) or 30 of 44 (68.2%) both
    # miss 67% by more than a point, 29 of 43 (67.4%) meets it.
    "age_missing": {T: 0, C: 1, "published": "not stated", "note": "lets CEC under-11 read 67%"},
    "under_11": {
        T: 46,
        C: 29,
        "of": {T: 84, C: 43},
        "published": "55% / 67%",
        "note": "54.8% / 67.4% of cases with age",
    },
    # 11 + 13 = 24 (18.75% of 128); 13 of 44 is 29.5%, within a point of 29%.
    # On these counts a 2x2 test gives p of about 0.02 (chi-square) / 0.03
    # (Fisher): the report's "not significant" cannot hold alongside its
    # 13% / 29%, and the balance table shows the test as it falls.
    "aged_out_by_end": {
        T: 11,
        C: 13,
        "published": "13% / 29%, 24 (18%), not significant",
        "note": "13.1% / 29.5%; 24 = 18.75%; balance p < 0.05",
    },
    "aged_11_to_13_not_aged_out": {
        T: 27,
        C: 1,
        "published": "not stated",
        "note": "the remainder of each arm",
    },
    "previous_cin_history": {
        T: 38,
        C: 20,
        "published": "not stated",
        "note": "chosen: about 45% in both arms",
    },
    "other_cin_in_family": {T: 69, C: 33, "published": "82.1% / 75%", "note": "82.1% / 75.0%"},
    "white_british": {T: 64, C: 36, "published": "76% / 82%", "note": "76.2% / 81.8%"},
    "other_white": {T: 4, C: 4, "published": "4.8% / 9.1%", "note": "4.8% / 9.1%"},
    "ethnicity_other": {T: 16, C: 4, "published": "not stated", "note": "the remainder"},
    "disabled": {T: 2, C: 0, "published": "2 disabled, both FACT22", "note": "exact"},
    "later_received_fact22": {T: 0, C: 5, "published": "5 control cases", "note": "exact"},
    # One per arm; the control one is the case without age, so the model
    # sample for closed / re-referred is 83 + 43 = 126.
    "outcome_data_missing": {
        T: 1,
        C: 1,
        "published": "2 cases (n = 126)",
        "note": "closure and re-referral unknown",
    },
    "closed": {
        T: 59,
        C: 35,
        "of": {T: 83, C: 43},
        "published": "71% / 82%, not significant",
        "note": "71.1% / 81.4%; every aged-out case is closed",
    },
    "rereferred": {
        T: 34,
        C: 19,
        "of": {T: 83, C: 43},
        "published": "41% / 44%, not significant",
        "note": "41.0% / 44.2%; only closed cases are re-referred",
    },
    "escalated": {T: 4, C: 0, "published": "4, all FACT22", "note": "3 CPP, 1 LAC"},
    # --- risk analysis (strand 3) ---
    "risk_cases_2015": {T: 15, C: 15, "published": "30 (15 / 15)", "note": "exact"},
    "risk_cases_2016": {T: 15, C: 15, "published": "30 (15 / 15)", "note": "exact"},
    "risk_cases_2019": {T: 6, C: 7, "published": "13 (6 / 7)", "note": "exact"},
    # Whole-number changes: -9 / 6 = -1.50 exactly; -15 / 7 = -2.14 (the
    # report's 2.2 cannot be a mean of 7 whole numbers; -16 / 7 = -2.29 is further).
    "risk_change_sum_2016_2019": {
        T: -9,
        C: -15,
        "published": "mean -1.5 / -2.2",
        "note": "mean -1.50 / -2.14",
    },
    "risk_change_sum_2015_2016": {
        T: 9,
        C: 3,
        "published": "not stated",
        "note": "chosen: mean +0.60 / +0.20",
    },
    # --- service management information (strand 4) ---
    "service_families": {"all": 380, "published": "380", "note": "exact"},
    "service_location": {
        "Crewe": 304,
        "Macclesfield": 72,
        "Unknown": 4,
        "published": "80% / 19% / 1%",
        "note": "80.0% / 18.9% / 1.1%",
    },
    "service_outcome": {
        "closed": 266,
        "escalated_cp": 40,
        "escalated_lac": 13,
        "open": 45,
        "other": 16,
        "published": "70% closed, 14% escalated",
        "note": "70.0% closed; 53 = 13.9% escalated",
    },
    "service_days_to_close_sum": {
        "all": 188 * 266,
        "published": "188 days on average",
        "note": "mean 188.0 over the 266 closed",
    },
    # Starts per commissioning phase; Macclesfield only had a pod in phases 2 and 4.
    "service_starts_by_phase": {
        "2015-06..2017-03": 165,
        "2017-04..2018-03": 85,
        "2018-04..2019-03": 60,
        "2019-04..2020-03": 70,
        "published": "not stated",
        "note": "chosen",
    },
    "service_macclesfield_by_phase": {
        "2017-04..2018-03": 40,
        "2019-04..2020-03": 32,
        "published": "not stated",
        "note": "chosen",
    },
}

# Targets for the adjusted (back-transformed) model results; the generator
# searches seeded assignments until the logistic model gives them back.
PUBLISHED_CEC_RATE_IF_FACT22 = {"closed": 0.71, "rereferred": 0.41}
MODEL_TOLERANCE = 0.005

SERVICE_EXTRACT_DATE = date(2020, 3, 31)
SERVICE_PHASES = {
    "2015-06..2017-03": (date(2015, 6, 1), date(2017, 3, 31)),
    "2017-04..2018-03": (date(2017, 4, 1), date(2018, 3, 31)),
    "2018-04..2019-03": (date(2018, 4, 1), date(2019, 3, 31)),
    "2019-04..2020-03": (date(2019, 4, 1), date(2020, 3, 31)),
}
RISK_CODING_DATES = {
    "referral_2015": None,  # at referral: the randomisation date
    "six_months_2016": 182,  # days after randomisation
    "latest_2019": date(2019, 1, 15),
}


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


# --- RCT cases ------------------------------------------------------------


def _rct_characteristics(rng: np.random.Generator) -> pd.DataFrame:
    n_t, n_c = CHOSEN_COUNTS["families"][T], CHOSEN_COUNTS["families"][C]
    n = n_t + n_c
    window = (RANDOMISATION_END - RANDOMISATION_START).days
    randomised = np.sort(rng.integers(0, window + 1, size=n))
    arm = np.array([T] * n_t + [C] * n_c)[rng.permutation(n)]
    frame = pd.DataFrame(
        {
            "family_id": [f"F{i:03d}" for i in range(1, n + 1)],
            "lead_child_id": [f"LC{x:05d}" for x in rng.choice(np.arange(10000, 100000), n, replace=False)],
            "arm": arm,
            "randomised_on": pd.Timestamp(RANDOMISATION_START) + pd.to_timedelta(randomised, unit="D"),
        }
    )
    frame["cin_plan_start"] = frame["randomised_on"] + pd.to_timedelta(rng.integers(0, 29, n), unit="D")
    for column in ("female", "previous_cin_history", "other_cin_in_family", "disabled", "later_received_fact22"):
        frame[column] = False
    frame["ethnicity"] = "Other"
    frame["age_at_referral"] = pd.array([pd.NA] * n, dtype="Int64")
    frame["age_group"] = ""

    for a in ARMS:
        rows = np.flatnonzero(frame["arm"] == a)
        k = len(rows)
        for column in ("female", "previous_cin_history", "other_cin_in_family", "disabled", "later_received_fact22"):
            frame.loc[rows[_exactly(rng, k, CHOSEN_COUNTS[column][a])], column] = True
        ethnic = np.array(
            ["White British"] * CHOSEN_COUNTS["white_british"][a]
            + ["Other White"] * CHOSEN_COUNTS["other_white"][a]
            + ["Other"] * CHOSEN_COUNTS["ethnicity_other"][a]
        )
        frame.loc[rows, "ethnicity"] = ethnic[rng.permutation(k)]
        groups = np.array(
            ["under_11"] * CHOSEN_COUNTS["under_11"][a]
            + ["aged_out"] * CHOSEN_COUNTS["aged_out_by_end"][a]
            + ["11_to_13"] * CHOSEN_COUNTS["aged_11_to_13_not_aged_out"][a]
            + ["missing"] * CHOSEN_COUNTS["age_missing"][a]
        )
        if len(groups) != k:
            raise RuntimeError(f"synthetic generator: age groups of {a} do not add up to the arm")
        frame.loc[rows, "age_group"] = groups[rng.permutation(k)]

    # Ages in completed years that agree with the aged-out flag for any
    # randomisation date in the window (3.6 - 4.3 years before the end).
    ages = {
        "under_11": lambda: int(rng.integers(0, 11)),
        "11_to_13": lambda: int(rng.integers(11, 14)),
        "aged_out": lambda: int(rng.choice([14, 15, 16, 17], p=[0.4, 0.3, 0.2, 0.1])),
    }
    for position, group in enumerate(frame["age_group"]):
        if group in ages:
            frame.loc[position, "age_at_referral"] = ages[group]()
    frame["aged_out_by_end"] = frame["age_group"] == "aged_out"
    return frame


def _model_frame(frame: pd.DataFrame, outcome: np.ndarray, known: np.ndarray) -> pd.DataFrame:
    age = frame["age_at_referral"].astype("Float64")
    return pd.DataFrame(
        {
            "y": np.where(known, outcome.astype(float), np.nan),
            "fact22": (frame["arm"] == T).astype(int).to_numpy(),
            "female": frame["female"].astype(int).to_numpy(),
            "under_11": np.where(age.isna(), np.nan, age.fillna(99).lt(11).astype(float)),
            "previous_cin_history": frame["previous_cin_history"].astype(int).to_numpy(),
        }
    )


def _search_assignment(seed, name, frame, known, forced, candidates, counts, target) -> np.ndarray:
    """Seeded search for an outcome assignment with the published counts
    whose adjusted logistic result (control rate had it received FACT22)
    lands within MODEL_TOLERANCE of the report and is not significant."""
    for attempt in range(5000):
        rng = _stream(seed, f"{name}-{attempt}")
        outcome = forced.copy()
        for a in ARMS:
            in_arm = (frame["arm"] == a).to_numpy()
            pool = np.flatnonzero(candidates & in_arm & ~forced)
            outcome[_pick(rng, pool, counts[a] - int((forced & in_arm).sum()))] = True
        row = analyse_outcome(_model_frame(frame, outcome, known), "y")
        if (
            row["status"] == "estimated"
            and abs(row["cec_rate_if_fact22"] - target) <= MODEL_TOLERANCE
            and row["p_value"] > 0.05
            and row["p_value_log_odds"] > 0.05
        ):
            return outcome
    raise RuntimeError(f"synthetic generator: no assignment of {name} met the published result")


def _truncated_normal_days(rng, mean: float, sd: float, low: int, high: int) -> int:
    for _ in range(1000):
        value = int(round(rng.normal(mean, sd)))
        if low <= value <= high:
            return value
    return int(rng.integers(low, high + 1))


def generate_rct_cases(seed: int = SEED) -> pd.DataFrame:
    """The rct_cases extract (128 families), SYNTHETIC."""
    rng = _stream(seed, "rct")
    frame = _rct_characteristics(rng)
    end = pd.Timestamp(STUDY_END)
    is_t = (frame["arm"] == T).to_numpy()
    aged_out = frame["aged_out_by_end"].to_numpy()
    n = len(frame)

    # Outcome data missing: the control case without age, and one FACT22 case.
    missing = frame["age_group"].eq("missing").to_numpy().copy()
    missing[_pick(rng, np.flatnonzero(is_t & ~aged_out), 1)] = True
    contaminated = frame["later_received_fact22"].to_numpy()
    if (contaminated & missing).any():
        swap = _pick(rng, np.flatnonzero(~is_t & ~missing & ~contaminated), 1)
        contaminated = contaminated & ~missing
        contaminated[swap] = True
        frame["later_received_fact22"] = contaminated

    escalated = np.zeros(n, bool)
    escalated[_pick(rng, np.flatnonzero(is_t & ~aged_out & ~missing), CHOSEN_COUNTS["escalated"][T])] = True
    known = ~missing

    closed = _search_assignment(
        seed, "closed", frame, known, forced=aged_out.copy(), candidates=known & ~escalated,
        counts=CHOSEN_COUNTS["closed"], target=PUBLISHED_CEC_RATE_IF_FACT22["closed"],
    )

    # Case lengths: a normal latent length per arm, closures drawn below the
    # days left before the end of study (so the Tobit model has something to
    # recover); re-referrable closures need room for two later referrals.
    start = frame["cin_plan_start"]
    room = (end - start).dt.days.to_numpy()
    mean_days = np.where(is_t, 780.0, 640.0)
    closure = [pd.NaT] * n
    for i in np.flatnonzero(closed):
        closure[i] = start[i] + pd.Timedelta(days=_truncated_normal_days(rng, mean_days[i], 420.0, 21, room[i] - 1))
    frame["closure_date"] = pd.to_datetime(pd.Series(closure))

    early_enough = closed & (frame["closure_date"] <= end - pd.Timedelta(days=150)).to_numpy()
    rereferred = _search_assignment(
        seed, "rereferred", frame, known, forced=np.zeros(n, bool), candidates=early_enough,
        counts=CHOSEN_COUNTS["rereferred"], target=PUBLISHED_CEC_RATE_IF_FACT22["rereferred"],
    )

    referrals = [""] * n
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
            referrals[i] = f"{first.date().isoformat()};{second.date().isoformat()}"
        elif rng.random() < 0.3:
            # A single later referral, more than 12 months after the index one.
            later = max(closure_day + pd.Timedelta(days=30), frame.at[i, "randomised_on"] + pd.Timedelta(days=400))
            later += pd.Timedelta(days=_days(rng, 0, 200))
            if later <= end:
                referrals[i] = later.date().isoformat()
    frame["rereferral_dates"] = referrals

    escalation_date = [pd.NaT] * n
    escalation_type = [""] * n
    types = iter(["CPP", "CPP", "LAC", "CPP"])
    for i in np.flatnonzero(escalated):
        escalation_date[i] = start[i] + pd.Timedelta(days=_days(rng, 60, min(900, room[i])))
        escalation_type[i] = next(types)
    frame["escalation_date"] = pd.to_datetime(pd.Series(escalation_date))
    frame["escalation_type"] = escalation_type
    frame["outcome_data_missing"] = missing
    frame["data_origin"] = ORIGIN

    frame = frame[[*RCT_CASES.column_names, "data_origin"]]
    _check_rct(frame)
    return frame


def _check_rct(frame: pd.DataFrame) -> None:
    """The generated rows must pass the schema and give the chosen counts."""
    typed = validate_extract(frame, RCT_CASES, "synthetic rct_cases")
    derived = derive_rct_outcomes(typed)
    for outcome in ("closed", "rereferred", "escalated"):
        for a in ARMS:
            got = int(derived.loc[derived["arm"] == a, outcome].sum())
            if got != CHOSEN_COUNTS[outcome][a]:
                raise RuntimeError(f"synthetic generator: {outcome} in {a} is {got}, chose {CHOSEN_COUNTS[outcome][a]}")


# --- risk notes -----------------------------------------------------------


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


def generate_risk_notes(
    rct_cases: pd.DataFrame,
    framework: pd.DataFrame,
    engagement_scale: pd.DataFrame,
    seed: int = SEED,
) -> pd.DataFrame:
    """Coded case notes for 30 of the trial's cases, SYNTHETIC.

    The 13 coded again in 2019 are open in January 2019 and not aged out;
    the other 17 aged out or closed before 2019, as the report says.
    """
    rng = _stream(seed, "risk")
    weights = dict(zip(framework["factor_code"], framework["weight"].astype(int)))
    scale = dict(zip(engagement_scale["engagement_level"], engagement_scale["score"].astype(int)))
    child_over_11_only = set(framework.loc[framework["applies_when"] == "child_over_11", "factor_code"])
    codes = list(framework["factor_code"])

    cases = rct_cases.reset_index(drop=True)
    coding_2019 = pd.Timestamp(RISK_CODING_DATES["latest_2019"])
    usable = (
        ~cases["outcome_data_missing"].astype(bool)
        & cases["age_at_referral"].notna()
        & cases["escalation_date"].isna()
    )
    open_2019 = cases["closure_date"].isna() | (cases["closure_date"] >= coding_2019)
    stays = usable & open_2019 & ~cases["aged_out_by_end"].astype(bool)
    leaves = usable & (~open_2019 | cases["aged_out_by_end"].astype(bool))

    selected = []
    for a in ARMS:
        in_arm = cases["arm"] == a
        n_2019 = CHOSEN_COUNTS["risk_cases_2019"][a]
        n_all = CHOSEN_COUNTS["risk_cases_2015"][a]
        again = _pick(rng, np.flatnonzero(stays & in_arm), n_2019)
        once = _pick(rng, np.flatnonzero(leaves & in_arm), n_all - n_2019)
        changes_1 = _sum_to(rng, n_all, CHOSEN_COUNTS["risk_change_sum_2015_2016"][a], 2.0)
        changes_2 = _sum_to(rng, n_2019, CHOSEN_COUNTS["risk_change_sum_2016_2019"][a], 3.5)
        # The report found the rise in risk not significant; redraw the
        # spread of whole-number changes until the arm's own change isn't.
        while stats.ttest_1samp(changes_2, 0.0).pvalue <= 0.1:
            changes_2 = _sum_to(rng, n_2019, CHOSEN_COUNTS["risk_change_sum_2016_2019"][a], 3.5)
        order = np.concatenate([again, once])
        for k, i in enumerate(order):
            selected.append((int(i), changes_1[k], changes_2[k] if k < n_2019 else None))

    rows = []
    for i, change_1, change_2 in sorted(selected):
        case = cases.loc[i]
        age = float(case["age_at_referral"])
        randomised = case["randomised_on"]
        ages = {
            "referral_2015": age,
            "six_months_2016": age + RISK_CODING_DATES["six_months_2016"] / 365.25,
            "latest_2019": age + (coding_2019 - randomised).days / 365.25,
        }
        # Completed years at referral: the child is on average half a year older.
        # Lists in framework order, not sets: set order varies between runs.
        allowed = {tp: [c for c in codes if c not in child_over_11_only or ages[tp] + 0.5 > 11] for tp in ages}

        # At referral: each allowed risk factor present with chance 0.3, each protective 0.35.
        flags = {
            c: int(c in allowed["referral_2015"] and rng.random() < (0.3 if weights[c] < 0 else 0.35))
            for c in codes
        }
        parent = str(rng.choice(ENGAGEMENT_LEVELS, p=[0.2, 0.4, 0.25, 0.15]))
        child = str(rng.choice(ENGAGEMENT_LEVELS, p=[0.15, 0.45, 0.25, 0.15])) if age >= 5 else None
        profiles = {"referral_2015": _Profile(flags, parent, child)}
        targets = [("six_months_2016", change_1)] + ([("latest_2019", change_2)] if change_2 is not None else [])
        previous = profiles["referral_2015"]
        for tp, change in targets:
            start = previous.copy()
            if start.child is None and ages[tp] >= 5:
                start.child = str(rng.choice(ENGAGEMENT_LEVELS, p=[0.15, 0.45, 0.25, 0.15]))
            target = _score(previous, weights, scale) + int(change)
            profiles[tp] = _move_to(start, target, weights, scale, allowed[tp], rng)
            previous = profiles[tp]
        for tp in RISK_TIME_POINTS:
            if tp in profiles:
                p = profiles[tp]
                rows.append(
                    {
                        "case_id": case["family_id"],
                        "arm": case["arm"],
                        "time_point": tp,
                        **p.flags,
                        "parent_engagement": p.parent,
                        "child_engagement": p.child or "",
                        "data_origin": ORIGIN,
                    }
                )
    notes = pd.DataFrame(rows)
    typed = validate_extract(notes, risk_notes_schema(codes), "synthetic risk_notes")
    score_risk_notes(typed, framework, engagement_scale)
    return notes


# --- service management information ---------------------------------------


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


def generate_service_mi(seed: int = SEED) -> pd.DataFrame:
    """FACT22's management information: 380 families, SYNTHETIC."""
    rng = _stream(seed, "service")
    extract = pd.Timestamp(SERVICE_EXTRACT_DATE)
    starts, locations = [], []
    for phase, count in CHOSEN_COUNTS["service_starts_by_phase"].items():
        if phase not in SERVICE_PHASES:
            continue
        first, last = (pd.Timestamp(d) for d in SERVICE_PHASES[phase])
        offsets = np.sort(rng.integers(0, (last - first).days + 1, count))
        starts.extend(first + pd.to_timedelta(offsets, unit="D"))
        macclesfield = CHOSEN_COUNTS["service_macclesfield_by_phase"].get(phase, 0)
        phase_locations = np.array(["Macclesfield"] * macclesfield + ["Crewe"] * (count - macclesfield))
        locations.extend(phase_locations[rng.permutation(count)])
    n = len(starts)
    locations = np.array(locations)
    crewe = np.flatnonzero(locations == "Crewe")
    locations[_pick(rng, crewe, CHOSEN_COUNTS["service_location"]["Unknown"])] = "Unknown"

    frame = pd.DataFrame({"start_date": pd.to_datetime(pd.Series(starts)), "location": locations})
    frame = frame.sort_values("start_date", kind="stable").reset_index(drop=True)
    frame.insert(0, "family_id", [f"SVC{i:04d}" for i in range(1, n + 1)])

    outcomes = CHOSEN_COUNTS["service_outcome"]
    outcome = np.array([""] * n, dtype=object)
    # Open cases are the latest starters, plus a few longer-running ones
    # from the last phase; every other case has had time to end.
    latest = n - (outcomes["open"] - 5)
    outcome[latest:] = "open"
    last_phase = np.flatnonzero(frame["start_date"] >= pd.Timestamp(SERVICE_PHASES["2019-04..2020-03"][0]))
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
    days[closed] = _adjust_to_sum(
        rng, np.clip(draws, low, high), CHOSEN_COUNTS["service_days_to_close_sum"]["all"], low, high
    )
    for i in np.flatnonzero(np.isin(outcome, ["escalated_cp", "escalated_lac", "other"])):
        days[i] = _days(rng, 14, int(min(room[i], 400)))
    end = frame["start_date"] + pd.to_timedelta(days, unit="D")
    frame["end_date"] = end.where(outcome != "open")
    frame["data_origin"] = ORIGIN
    frame = frame[[*SERVICE_MI.column_names, "data_origin"]]
    validate_extract(frame, SERVICE_MI, "synthetic service_mi")
    return frame


# --- files ----------------------------------------------------------------


def generate_casework(
    seed: int = SEED,
    framework: pd.DataFrame | None = None,
    engagement_scale: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """All three SYNTHETIC extracts: rct_cases, risk_notes, service_mi."""
    framework = load_risk_framework() if framework is None else framework
    engagement_scale = load_engagement_scale() if engagement_scale is None else engagement_scale
    rct_cases = generate_rct_cases(seed)
    return {
        "rct_cases": rct_cases,
        "risk_notes": generate_risk_notes(rct_cases, framework, engagement_scale, seed),
        "service_mi": generate_service_mi(seed),
    }


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
            out[column] = values.astype(object).where(values.notna(), "").astype(str)
    return out.to_csv(index=False, lineterminator="\n")


def _share(count: int, of: int) -> str:
    return f"{100 * count / of:.1f}%"


def readme_text(seed: int, tables: dict[str, pd.DataFrame]) -> str:
    """data/synthetic/README.md: what these files are and the counts chosen."""
    aged_out = CHOSEN_COUNTS["aged_out_by_end"]
    families = CHOSEN_COUNTS["families"]
    table = [[aged_out[a], families[a] - aged_out[a]] for a in ARMS]
    chi_p = stats.chi2_contingency(table, correction=False)[1]
    fisher_p = stats.fisher_exact(table).pvalue
    lines = [
        "# SYNTHETIC casework data - not real children, not council data",
        "",
        "Every row in these files is SYNTHETIC: invented by",
        "`scripts/generate_standin_casework.py` (code in",
        "`fact22_assets/core/casework/standin.py`) with seed "
        f"{seed}. They stand in for the council extracts",
        "that the evaluation (DfE RR1067) used and that are not public: RCT case",
        "records, coded risk notes and FACT22's management information. Every",
        "row carries `data_origin = SYNTHETIC`; every table built from them does too.",
        "",
        "They are built to give back the report's published aggregates (within one",
        "percentage point per share, 0.1 per mean) through the same schemas",
        "(`core/casework/schemas.py`) a real extract must pass. Nothing else about",
        "them - individual dates, ages, risk profiles, case lengths - reflects any",
        "real family. Re-running the generator reproduces these files byte for byte.",
        "",
        "| file | rows |",
        "|---|---|",
    ]
    for name, table in tables.items():
        lines.append(f"| `{name}.csv` | {len(table)} |")
    lines += [
        "",
        "## Counts chosen",
        "",
        "Shares are count / denominator (the whole arm unless stated).",
        "",
        "| quantity | counts | shares | published | note |",
        "|---|---|---|---|---|",
    ]
    for quantity, entry in CHOSEN_COUNTS.items():
        keys = [k for k in entry if k not in ("published", "note", "of")]
        counts = " / ".join(f"{k} {entry[k]}" for k in keys)
        shares = ""
        if set(keys) == set(ARMS) and quantity != "families" and not quantity.startswith("risk_"):
            denominators = entry.get("of", CHOSEN_COUNTS["families"])
            shares = " / ".join(_share(entry[a], denominators[a]) for a in ARMS)
        elif quantity in ("service_location", "service_outcome"):
            shares = " / ".join(_share(entry[k], CHOSEN_COUNTS["service_families"]["all"]) for k in keys)
        lines.append(f"| {quantity} | {counts} | {shares} | {entry['published']} | {entry['note']} |")
    lines += [
        "",
        "## Where the published figures cannot all hold",
        "",
        "- CEC aged out \"29%\" of 44 with 24 aged out in all: 11 + 13 gives 13.1% / 29.5%",
        "  (within a point) and 24 = 18.75% of 128 against the report's \"18%\".",
        "- With 11 of 84 and 13 of 44 aged out, the balance test is significant",
        f"  (Pearson chi-square p = {chi_p:.3f}, Fisher p = {fisher_p:.3f}), not \"p > 0.05\" as",
        "  published; no whole counts within a point of 13% / 29% avoid this.",
        "- CEC under 11 \"67%\" of 44: neither 29 (65.9%) nor 30 (68.2%) is within a",
        "  point, so one control case has no recorded age: 29 of 43 = 67.4%.",
        "- CEC risk change \"2.2\": a mean of 7 whole-number changes is -15/7 = -2.14",
        "  or -16/7 = -2.29; -15 is used.",
        "- Previous CIN history, ethnicity 'Other', the spread of starts over the",
        "  service's phases and the 2015-16 risk changes are not published; the",
        "  counts above are choices.",
        "",
        "## How the outcome columns are to be read",
        "",
        "- `outcome_data_missing = true`: closure and re-referral are unknown for",
        "  this case (empty dates then mean \"not known\"); escalation, from the CP",
        "  and LAC registers, is still known. Two cases, one per arm, so n = 126.",
        "- Re-referred: a referral within 12 months of the previous one, starting",
        "  from the index referral (`randomised_on` stands in for it), up to the end",
        "  of study (22 Nov 2019).",
        "- Closure and re-referral assignments were drawn (seeded) until the",
        "  logistic model with controls gives back the published adjusted rates:",
        "  the control group's rate had it received FACT22 within "
        f"{MODEL_TOLERANCE * 100:.1f} points of",
        "  71% (closed) and 41% (re-referred), both not significant.",
        "",
    ]
    return "\n".join(lines)


def write_standin_casework(out_dir: Path | str, seed: int = SEED) -> dict[str, Path]:
    """Write rct_cases.csv, risk_notes.csv, service_mi.csv and README.md."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = generate_casework(seed)
    paths = {}
    for name, table in tables.items():
        path = out_dir / f"{name}.csv"
        path.write_text(to_csv_text(table), encoding="utf-8", newline="\n")
        paths[name] = path
    readme = out_dir / "README.md"
    readme.write_text(readme_text(seed, tables), encoding="utf-8", newline="\n")
    paths["readme"] = readme
    return paths
