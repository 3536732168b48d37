"""Tiny children-in-need census returns written by hand (string templates, no package code), to feed the
ingest and the rules known-good and known-bad input."""
from __future__ import annotations

from pathlib import Path


def child(child_id: str = "A1", birth: str | None = "2010-01-01", gender: str = "1", ethnicity: str = "WBRI",
          episodes: list[str] | None = None, disabilities: tuple[str, ...] = ("NONE",)) -> str:
    born = f"<PersonBirthDate>{birth}</PersonBirthDate>" if birth else ""
    disabled = "".join(f"<Disability>{d}</Disability>" for d in disabilities)
    details = "".join(episodes if episodes is not None else [episode()])
    return (f"<Child>\n  <ChildIdentifiers>\n    <LAchildID>{child_id}</LAchildID>\n    {born}\n"
            f"    <GenderCurrent>{gender}</GenderCurrent>\n  </ChildIdentifiers>\n"
            f"  <ChildCharacteristics><Ethnicity>{ethnicity}</Ethnicity><Disabilities>{disabled}</Disabilities>"
            f"</ChildCharacteristics>\n{details}</Child>\n")


def episode(referral: str = "2018-05-01", closure: str | None = None, reason: str | None = None, nfa: str = "0",
            assessment: tuple[str, str | None] | None = None, plans: list[str] | None = None,
            cin_plan: tuple[str, str | None] | None = None, need: str = "N1") -> str:
    parts = [f"  <CINdetails>\n    <CINreferralDate>{referral}</CINreferralDate>\n    <ReferralSource>1A</ReferralSource>\n"
             f"    <PrimaryNeedCode>{need}</PrimaryNeedCode>\n"]
    if closure:
        parts.append(f"    <CINclosureDate>{closure}</CINclosureDate>\n")
    if reason:
        parts.append(f"    <ReasonForClosure>{reason}</ReasonForClosure>\n")
    if assessment:
        start, authorised = assessment
        done = f"<AssessmentAuthorisationDate>{authorised}</AssessmentAuthorisationDate>" if authorised else ""
        parts.append(f"    <Assessments><AssessmentActualStartDate>{start}</AssessmentActualStartDate>{done}"
                     "</Assessments>\n")
    if cin_plan:
        start, end = cin_plan
        ended = f"<CINPlanEndDate>{end}</CINPlanEndDate>" if end else ""
        parts.append(f"    <CINPlanDates><CINPlanStartDate>{start}</CINPlanStartDate>{ended}</CINPlanDates>\n")
    parts.append(f"    <ReferralNFA>{nfa}</ReferralNFA>\n")
    parts += plans or []
    parts.append("  </CINdetails>\n")
    return "".join(parts)


def plan(start: str = "2018-06-01", end: str | None = None) -> str:
    ended = f"<CPPendDate>{end}</CPPendDate>" if end else ""
    return (f"    <ChildProtectionPlans><CPPstartDate>{start}</CPPstartDate>{ended}"
            "<InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse><LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse>"
            "<NumberOfPreviousCPP>0</NumberOfPreviousCPP></ChildProtectionPlans>\n")


def message(children: list[str], year: int = 2019, lea: str = "895", reference: str | None = None,
            collection: str = "CIN") -> str:
    reference = reference or f"{year}-03-31"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Message>\n<Header>\n  <CollectionDetails>'
            f"<Collection>{collection}</Collection><Year>{year}</Year><ReferenceDate>{reference}</ReferenceDate>"
            f"</CollectionDetails>\n  <Source><SourceLevel>L</SourceLevel><LEA>{lea}</LEA></Source>\n</Header>\n"
            "<Children>\n" + "".join(children) + "</Children>\n</Message>\n")


def write(tmp: Path, text: str, name: str = "return.xml") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first ``needle`` (after the first ``after``, when given)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0
    if after is not None:
        start = next(i for i, text in enumerate(lines) if after in text)
    return next(i for i, text in enumerate(lines) if i >= start and needle in text) + 1
