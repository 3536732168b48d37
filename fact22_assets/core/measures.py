"""The measure registry: every count the warehouse reads and every rate it derives.

One entry per measure, and nothing else in the code names a measure: the
staging pivot, the rate columns of the marts, the panel the estimators
read, the checks' bounds, the labels of figures and report, the column
descriptions (COMMENT ON) and the study validation are all generated from,
or read from, the entries below.  Adding an outcome is one `Rate` here
(and naming it in a study); adding a count is one `Count` here plus the
published column behind it in each catalogued file (``measures:`` in
data/sources.yaml, since a column name belongs to a file: DfE renames
columns between releases, e.g. ``Referrals`` became ``referral_count``).

Two bases for a rate.  The warehouse's own rate (``cin_per_10k_children``)
divides DfE's counts by the latest population estimates it holds: the
*rebased* basis (ONS estimates revised after the 2021 Census from mid-2011
on).  Where DfE printed a rate itself, the warehouse keeps it beside its own
(``cin_per_10k_children_published``): the *published* basis, DfE's rate on
the estimates of its day (``published_columns:`` in data/sources.yaml names
the column in each file).  The two differ where the estimates were revised:
Westminster 2021-22 is 268.6 as DfE published it and 445.0 rebased.

Polarity is LAIT's (DfE's Local Authority Interactive Tool, its data
dictionary's ``Polarity``): "Low" where a lower value is better, "High"
where higher is, none where the measure has no good direction; benchmarks
rank and band only measures with a polarity.

SQL fragments are built from these names only (identifiers checked by
`_IDENTIFIER`), never from user input; values stay bound parameters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")

RESIDENTS = "population_all_ages"
CHILDREN = "population_0_17"
DENOMINATOR_UNITS = {RESIDENTS: "per 10,000 residents", CHILDREN: "per 10,000 children aged 0-17"}
COUNT_UNIT = "count"
LOW, HIGH = "Low", "High"  # LAIT's polarities: which direction is better
NOT_APPLICABLE = "Not applicable"  # what LAIT shows for the band and rank of a measure without a polarity
REBASED, PUBLISHED = "rebased", "published"  # population bases of a rate (module docstring)
PUBLISHED_SUFFIX = "_published"


@dataclass(frozen=True)
class Count:
    """A count DfE publishes per area and collection year (cells of raw.cin_*)."""

    name: str
    label: str
    description: str
    polarity: str | None = None
    published: bool = False  # a count has one basis: the warehouse's count is DfE's

    @property
    def unit(self) -> str:
        return COUNT_UNIT


@dataclass(frozen=True)
class Rate:
    """``count`` per 10,000 of ``denominator``: a column of marts.cin_rates.

    ``label`` is the short form tables use, ``title`` the fuller one figures
    use, ``short`` a panel heading.  ``bounds`` = (low, high)
    are plausible limits for every area and year: a value of exactly 0 (no
    events: City of London records zero re-referrals or escalations in some
    years) or one within [low, high] passes.  Each pair is set from the real
    distribution (the shipped marts.cin_rates, 2009-10 to 2024-25, every
    authority, region and England; see `OBSERVED`): low at about half the
    lowest non-zero value on record, high at about twice the highest.  A unit
    slip moves every row by a factor of 10 (a rate per 1,000, a population in
    thousands), which takes the lowest row below ``low`` or the highest above
    ``high``; a real authority-year twice as extreme as any on record is worth
    a look before it reaches an estimate.
    ``evaluation_outcome`` marks the outcomes of the FACT22 evaluation
    (RR1067), whose national series must be complete.  ``polarity`` is
    LAIT's (module docstring); ``published``: DfE prints this rate in some
    releases, kept beside the warehouse's as ``<name>_published``.
    """

    name: str
    count: str
    denominator: str
    label: str
    title: str
    short: str
    description: str
    bounds: tuple[float, float]
    evaluation_outcome: bool = False
    polarity: str | None = None
    published: bool = False

    @property
    def unit(self) -> str:
        return DENOMINATOR_UNITS[self.denominator]


@dataclass(frozen=True)
class Percentage:
    """100 x ``numerator`` / ``denominator`` (two counts), e.g. DfE's headline share of referrals that were
    re-referrals within 12 months: a column of marts.cin_rates, with no population basis."""

    name: str
    numerator: str
    denominator: str
    label: str
    title: str
    short: str
    unit: str
    description: str
    bounds: tuple[float, float]
    polarity: str | None = None
    published: bool = False


# What the bounds were chosen from (see `Rate.bounds`): per rate, the lowest
# non-zero and the highest value in marts.cin_rates as built from the shipped
# files (2009-10 to 2024-25, all areas), and where they occur.  Re-derive them
# when a release moves past a bound (the build's rates check then fails and
# names the row); tests/core/test_measures.py keeps each bound between a
# tenth and the observed value below, and between it and ten times above.
OBSERVED: dict[str, tuple[float, str, float, str]] = {
    "closures_per_10k": (1.46, "Shropshire 2009-10", 246.6, "Nottingham 2016-17"),
    "rereferrals_per_10k": (3.36, "Herefordshire 2021-22", 247.2, "Wakefield 2015-16"),
    "escalations_per_10k": (1.66, "Wandsworth 2023-24", 53.9, "Middlesbrough 2020-21"),
    "referrals_per_10k": (18.58, "City of London 2013-14", 388.4, "Wakefield 2014-15"),
    "closures_per_10k_children": (7.32, "Shropshire 2009-10", 1193.1, "Nottingham 2016-17"),
    "rereferrals_per_10k_children": (16.12, "Merton 2016-17", 1188.3, "Wakefield 2015-16"),
    "escalations_per_10k_children": (7.84, "Richmond upon Thames 2009-10", 231.1, "Middlesbrough 2020-21"),
    "referrals_per_10k_children": (164.04, "Rutland 2021-22", 2083.0, "Isle of Wight 2024-25"),
    "cin_per_10k_children": (134.65, "Herefordshire 2009-10", 1452.6, "City of London 2021-22"),
}

COUNTS: tuple[Count, ...] = (
    Count("referrals", "Referrals",
          "Referrals to children's social care in the year (count); NULL when not published, reason in "
          "referrals_status."),
    Count("rereferrals", "Re-referrals within 12 months",
          "Referrals within 12 months of a previous referral (count); NULL when not published, reason in "
          "rereferrals_status."),
    Count("cin_at_31_march", "Children in need at 31 March",
          "Children in need at 31 March (count); NULL when not published, reason in cin_at_31_march_status."),
    Count("closures", "Closures (CIN episodes ended)",
          "Children in need whose episode of need ended in the year: the evaluation's closures (count); NULL when "
          "not published."),
    Count("escalations", "Escalations (child protection plans started)",
          "Children in need who started a child protection plan in the year: the evaluation's escalations (count); "
          "NULL when not published."),
)

RATES: tuple[Rate, ...] = (
    Rate("closures_per_10k", "closures", RESIDENTS, "Closures per 10,000 residents",
         "Closures (CIN episodes ended) per 10,000 residents", "Closures",
         "Closures per 10,000 residents (all ages): an evaluation outcome.", (0.7, 500), True),
    Rate("rereferrals_per_10k", "rereferrals", RESIDENTS, "Re-referrals per 10,000 residents",
         "Re-referrals within 12 months per 10,000 residents", "Re-referrals",
         "Re-referrals within 12 months per 10,000 residents (all ages): an evaluation outcome.", (1.6, 500),
         True),
    Rate("escalations_per_10k", "escalations", RESIDENTS, "Escalations per 10,000 residents",
         "Escalations (child protection plans started) per 10,000 residents", "Escalations",
         "Child protection plans started per 10,000 residents (all ages): an evaluation outcome.", (0.8, 110),
         True),
    Rate("referrals_per_10k", "referrals", RESIDENTS, "Referrals per 10,000 residents",
         "Referrals per 10,000 residents", "Referrals",
         "Referrals per 10,000 residents (all ages).", (9, 800)),
    Rate("closures_per_10k_children", "closures", CHILDREN, "Closures per 10,000 children",
         "Closures (CIN episodes ended) per 10,000 children aged 0-17", "Closures (children)",
         "Closures per 10,000 children aged 0-17 (DfE's convention; DfE's b1 Ended_episodes_rate).", (3.6, 2400),
         published=True),
    Rate("rereferrals_per_10k_children", "rereferrals", CHILDREN, "Re-referrals per 10,000 children",
         "Re-referrals within 12 months per 10,000 children aged 0-17", "Re-referrals (children)",
         "Re-referrals per 10,000 children aged 0-17 (DfE's convention).", (8, 2400)),
    # LAIT: "Rate child protection plans starting during the year (rate per 10,000)", polarity Low.
    Rate("escalations_per_10k_children", "escalations", CHILDREN, "Escalations per 10,000 children",
         "Escalations (child protection plans started) per 10,000 children aged 0-17", "Escalations (children)",
         "Child protection plans started per 10,000 children aged 0-17 (DfE's convention).", (3.9, 470),
         polarity=LOW, published=True),
    Rate("referrals_per_10k_children", "referrals", CHILDREN, "Referrals per 10,000 children",
         "Referrals per 10,000 children aged 0-17", "Referrals (children)",
         "Referrals per 10,000 children aged 0-17 (DfE's convention).", (80, 4200), published=True),
    Rate("cin_per_10k_children", "cin_at_31_march", CHILDREN, "Children in need per 10,000 children",
         "Children in need at 31 March per 10,000 children aged 0-17", "Children in need",
         "Children in need at 31 March per 10,000 children aged 0-17 (DfE's convention: children in need at "
         "31 March over the 0-17 population).", (65, 2900), published=True),
)
# LAIT: "Percentage of re-referrals to children's social care within 12 months", polarity Low.
PERCENTAGES: tuple[Percentage, ...] = (
    Percentage("rereferral_percentage", "rereferrals", "referrals",
               "Re-referrals within 12 months (% of referrals)",
               "Re-referrals within 12 months as a percentage of referrals", "Re-referral %", "% of referrals",
               "Re-referrals within 12 months as a percentage of referrals in the year (DfE's headline measure), "
               "from the counts; NULL when either count is not published or there were no referrals.",
               (0, 100), polarity=LOW, published=True),
)

@dataclass(frozen=True)
class CaseMeasure:
    """A measure counted from a council's children-in-need census return, by DfE's definition.

    ``name`` is the published count's name where DfE publishes the same measure (the census's
    authority total reconciles with it, marts.census_reconciliation); ``definition`` says how it is
    counted from the return's episodes; ``unit`` what one unit is; ``trial_outcome`` the name a trial's
    marts give the outcome a case has (a case is ``closed`` when its episode of need ended).
    """

    name: str
    label: str
    definition: str
    unit: str
    trial_outcome: str
    trial_definition: str
    published: bool = True


CASE_MEASURES: tuple[CaseMeasure, ...] = (
    CaseMeasure("referrals", "Referrals",
                "Referrals received in the collection year (1 April to 31 March): every CINdetails episode whose "
                "CINreferralDate falls in the year, referrals with no further action included; a child referred "
                "twice counts twice (DfE's c1 Referrals).", "referrals", "referred",
                "A referral after the index referral, by the end of follow-up."),
    CaseMeasure("rereferrals", "Re-referrals within 12 months",
                "Referrals in the year within 12 months of the same child's previous referral, the previous one "
                "taken from every return loaded (DfE's c1 Re-referrals); needs the return of the year before.",
                "referrals", "rereferred",
                "A referral within 12 months of the child's previous one (the first compared with the index "
                "referral), by the end of follow-up."),
    CaseMeasure("cin_at_31_march", "Children in need at 31 March",
                "Episodes of need open at the reference date (31 March): CINdetails with ReferralNFA 0 and no "
                "CINclosureDate (DfE's b1 At31_episodes).", "episodes", "open_at_end",
                "The index episode has no closure by the end of follow-up."),
    CaseMeasure("closures", "Closures (CIN episodes ended)",
                "Episodes of need ended in the year: CINdetails with ReferralNFA 0 whose CINclosureDate falls in "
                "the year (DfE's b1 Ended_episodes).", "episodes", "closed",
                "The index episode ended by the end of follow-up; unknown when it ended by transfer to another "
                "authority (RC5), whose records the return does not follow."),
    CaseMeasure("escalations", "Escalations (child protection plans started)",
                "Child protection plans starting in the year: ChildProtectionPlans whose CPPstartDate falls in the "
                "year (DfE's d3 CPP_start).", "plans", "escalated",
                "A child protection plan started after randomisation, by the end of follow-up."),
    CaseMeasure("case_length_days", "Case length (days)",
                "Days from an episode's CINreferralDate to its CINclosureDate (DfE's duration of an episode of "
                "need, b5).", "days", "case_length",
                "Days from the index referral to the index episode's closure, for cases not escalated and with a "
                "known outcome; right-censored at the end of follow-up when still open.", published=False),
)
CASE_MEASURE_NAMES: tuple[str, ...] = tuple(m.name for m in CASE_MEASURES)


def case_measure(name: str) -> CaseMeasure:
    found = {m.name: m for m in CASE_MEASURES}.get(name)
    if found is None:
        raise KeyError(f"{name!r} is not a case-level measure; known: {', '.join(CASE_MEASURE_NAMES)}")
    return found

COUNT_NAMES: tuple[str, ...] = tuple(c.name for c in COUNTS)
RATE_NAMES: tuple[str, ...] = tuple(r.name for r in RATES)
PERCENTAGE_NAMES: tuple[str, ...] = tuple(p.name for p in PERCENTAGES)
# What marts.cin_rates derives from the counts: every rate, then every percentage.
DERIVED: tuple[Rate | Percentage, ...] = (*RATES, *PERCENTAGES)
MEASURES: tuple[Count | Rate | Percentage, ...] = (*COUNTS, *DERIVED)
EVALUATION_OUTCOMES: tuple[str, ...] = tuple(r.name for r in RATES if r.evaluation_outcome)
# DfE's own figures the warehouse keeps beside its own (``<name>_published`` columns): the rates and
# percentages DfE prints, and the 0-17 population it divided by (its denominator of the day).
PUBLISHED_FIGURES: tuple[str, ...] = (*(m.name for m in DERIVED if m.published), CHILDREN)
_BY_NAME: dict[str, Count | Rate | Percentage] = {m.name: m for m in MEASURES}


def _check_registry() -> None:
    # A broken registry is a programming error: fail on first use, loudly.
    names = [m.name for m in MEASURES]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    bad = [n for n in names if not _IDENTIFIER.match(n)]
    orphans = [r.name for r in RATES if r.count not in COUNT_NAMES or r.denominator not in DENOMINATOR_UNITS]
    orphans += [p.name for p in PERCENTAGES if {p.numerator, p.denominator} - set(COUNT_NAMES)]
    # A case-level measure that reconciles with a published count carries that count's name.
    orphans += [m.name for m in CASE_MEASURES if m.published and m.name not in COUNT_NAMES]
    polarities = [m.name for m in MEASURES if m.polarity not in (None, LOW, HIGH)]
    if duplicated or bad or orphans or polarities:
        raise ValueError(f"measure registry: duplicated {duplicated}, not identifiers {bad}, rates of unknown "
                         f"counts or denominators {orphans}, unknown polarities {polarities}")


_check_registry()


def measure(name: str) -> Count | Rate | Percentage:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a registered measure; known: {', '.join(_BY_NAME)}") from None


def rate(name: str) -> Rate:
    found = measure(name)
    if not isinstance(found, Rate):
        raise KeyError(f"{name!r} is a count, not a rate; rates: {', '.join(RATE_NAMES)}")
    return found


def label(name: str) -> str:
    """The short label of a rate or count, or the name itself for anything else."""
    found = _BY_NAME.get(name)
    return found.label if found else name


def title(name: str) -> str:
    found = _BY_NAME.get(name)
    return found.title if isinstance(found, Rate | Percentage) else label(name)


def short(name: str) -> str:
    found = _BY_NAME.get(name)
    return found.short if isinstance(found, Rate | Percentage) else name


def unit(name: str) -> str:
    """What a measure's values are: 'per 10,000 residents', 'count', '% of referrals'."""
    return measure(name).unit


def units_of(names) -> str:
    """The one unit of several measures ('per 10,000 residents'), or each measure's unit when they differ."""
    found = list(dict.fromkeys(unit(n) for n in names))
    if len(found) == 1:
        return found[0]
    return "; ".join(f"{label(n)}: {unit(n)}" for n in dict.fromkeys(names))


def polarity(name: str) -> str | None:
    return measure(name).polarity


def basis_note(name: str) -> str:
    """The population basis a measure's column is on, as the data dictionary states it."""
    found = measure(name)
    if not isinstance(found, Rate):
        return "No population basis (counts only)."
    basis = (f"Population basis: {REBASED} (the latest estimates the warehouse holds, named in "
             f"{found.denominator}_source)")
    return f"{basis}; DfE's own rate, on the estimates of its day, is {found.name}{PUBLISHED_SUFFIX}." \
        if found.published else f"{basis}; DfE publishes no such rate."


def published_description(name: str) -> str:
    if name == CHILDREN:
        return ("Children aged 0-17 as DfE divided by in its own rates (its denominator of the day, printed in the "
                f"release or its population file); NULL where the files carry none. Population basis: {PUBLISHED}.")
    found = measure(name)
    basis = "" if isinstance(found, Percentage) else (
        f" Population basis: {PUBLISHED} (the estimates of its day, before the Census-2021 revision for "
        "2021-22 and earlier).")
    return (f"{found.label} as DfE published it ({found.unit}), from the latest release up to this vintage that "
            f"printed it; NULL where DfE printed none (the 2025 release's files carry no rates).{basis} "
            f"The warehouse's own value is {found.name}.")


def column_descriptions() -> dict[str, str]:
    """Descriptions of every measure column and DfE's published figures beside them (the data dictionary's
    shared columns), each rate's population basis stated."""
    described = {m.name: m.description for m in COUNTS}
    described.update({m.name: f"{m.description} {basis_note(m.name)}" for m in DERIVED})
    described.update({f"{n}{PUBLISHED_SUFFIX}": published_description(n) for n in PUBLISHED_FIGURES})
    return described


# ----------------------------------------------------------------------------- SQL fragments
# SQL files in sql/ mark where the registry's columns go with ``{{ name args }}``;
# `sql_fragment` returns the text.  Arguments are table aliases of the file.


def _count_pivot() -> str:
    lines = []
    for count in COUNT_NAMES:
        lines.append(f"max(value) FILTER (WHERE measure = '{count}') AS {count}")
        lines.append(f"max(value_status) FILTER (WHERE measure = '{count}') AS {count}_status")
    return ",\n        ".join(lines)


def _counts(alias: str) -> str:
    return ",\n    ".join(f"{alias}.{c}, {alias}.{c}_status" for c in COUNT_NAMES)


def _rates(counts_alias: str, population_alias: str) -> str:
    rates = [f"10000.0 * {counts_alias}.{r.count} / {population_alias}.{r.denominator} AS {r.name}" for r in RATES]
    shares = [f"100.0 * {counts_alias}.{p.numerator} / nullif({counts_alias}.{p.denominator}, 0) AS {p.name}"
              for p in PERCENTAGES]
    return ",\n    ".join([*rates, *shares])


def _rate_columns() -> str:
    return ",\n    ".join(RATE_NAMES)


def _published_pivot() -> str:
    return ",\n        ".join(f"max(value) FILTER (WHERE measure = '{n}') AS {n}{PUBLISHED_SUFFIX}"
                                for n in PUBLISHED_FIGURES)


def _recomputed_published(counts_alias: str, denominator: str) -> str:
    """The warehouse's own value of each published figure (``measure``), recomputed from its counts on DfE's
    denominator ``denominator`` (an expression): a CASE over the figures."""
    arms = [f"WHEN '{r.name}' THEN 10000.0 * {counts_alias}.{r.count} / nullif({denominator}, 0)"
            for r in RATES if r.published]
    arms += [f"WHEN '{p.name}' THEN 100.0 * {counts_alias}.{p.numerator} / nullif({counts_alias}.{p.denominator}, 0)"
             for p in PERCENTAGES if p.published]
    return "CASE measure\n        " + "\n        ".join(arms) + "\n    END"


def _published(alias: str) -> str:
    return ",\n    ".join(f"{alias}.{n}{PUBLISHED_SUFFIX}" for n in PUBLISHED_FIGURES)


def _outcomes_all_present() -> str:
    return " AND ".join(f"{name} IS NOT NULL" for name in EVALUATION_OUTCOMES)


def _outcome_unexplained_gap() -> str:
    return "\n        OR ".join(f"({r.name} IS NULL AND {r.count}_status = 'published')"
                                for r in RATES if r.evaluation_outcome)


def _count_unpivot() -> str:
    return ", ".join(f"({c}, {c}_status) AS '{c}'" for c in COUNT_NAMES)


def _count_names() -> str:
    return ", ".join(f"'{c}'" for c in COUNT_NAMES)


_FRAGMENTS = {
    "count_names": _count_names,
    "count_unpivot": _count_unpivot,
    "count_pivot": _count_pivot,
    "counts": _counts,
    "rates": _rates,
    "rate_columns": _rate_columns,
    "published_pivot": _published_pivot,
    "published": _published,
    "recomputed_published": _recomputed_published,
    "outcomes_all_present": _outcomes_all_present,
    "outcome_unexplained_gap": _outcome_unexplained_gap,
}
_MARKER = re.compile(r"\{\{\s*([a-z_]+)((?:\s+[a-z_]+)*)\s*\}\}")


def render_sql(text: str) -> str:
    """Fill the registry's ``{{ fragment alias... }}`` markers of a SQL file."""

    def fill(match: re.Match) -> str:
        name, args = match.group(1), match.group(2).split()
        if name not in _FRAGMENTS:
            raise ValueError(f"unknown SQL fragment {{{{ {name} }}}}; known: {', '.join(_FRAGMENTS)}")
        return _FRAGMENTS[name](*args)

    return _MARKER.sub(fill, text)
