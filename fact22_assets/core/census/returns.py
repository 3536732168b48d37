"""Reading one children-in-need census return: streamed, validated against DfE's XSD, bounded in memory.

`read_return` makes one pass with lxml's ``iterparse(..., schema=...)``: the
parser validates against the collection year's schema while it streams, and
each ``Child`` is turned into rows and then cleared, so memory holds the rows,
never the document. A return the schema refuses is read a second time, one
child at a time against the same schema (`xsd.locating_schema`), to name the
file, line, child (``LAchildID``), element and the schema's message; a file
that is not well-formed XML is refused with the parser's line. DfE's
validation rules (`rules.py`) then run over the rows, and only a return that
passes everything is pseudonymised and handed back.

Tables (one row per): children (child), episodes (CINdetails), assessments,
cin_plans (CINPlanDates, 2021-22 on), section47, cp_plans
(ChildProtectionPlans). Each row keeps ``source_line``, the line of its
element in the file. ``child_id`` holds the return's LAchildID until
`pseudonymised` replaces it by a keyed hash.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from . import xsd

CHUNK = 50_000  # children per block of rows: bounds the Python lists held at once
XSD_RULE = "DfE schema"


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a return, located as a person would look for it."""

    file: str
    rule: str
    message: str
    line: int | None = None
    child: str | None = None
    element: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.line:
            where.append(f"line {self.line}")
        if self.child is not None:
            where.append(f"child (LAchildID) {self.child!r}")
        if self.element:
            where.append(f"element {self.element}")
        return f"{', '.join(where)}: {self.rule}: {self.message}"


class CensusReturnError(ValueError):
    """A census return that is refused: every finding names file, line, child, element and rule."""

    def __init__(self, findings: list[Finding], more: int = 0):
        self.findings = findings
        self.more = more
        text = "; ".join(str(f) for f in findings)
        if more:
            text += f"; and {more} more"
        super().__init__(text)

    def __reduce__(self):  # crosses from a reading process to its parent whole
        return CensusReturnError, (self.findings, self.more)


class _NotValid(Exception):
    """A reading process's XMLSyntaxError, which cannot cross to the parent (its error log does not pickle)."""


TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "children": ("child_id", "source_line", "birth_date", "expected_birth_date", "gender", "death_date",
                 "ethnicity", "disabilities"),
    "episodes": ("child_id", "episode", "source_line", "referral_date", "referral_source", "primary_need",
                 "closure_date", "reason_for_closure", "initial_cpc_date", "referral_nfa"),
    # a module of an episode carries its episode's referral date (CINreferralDate comes first in CINdetails), so
    # the rules comparing the two need no join
    "assessments": ("child_id", "episode", "source_line", "start_date", "review_date", "authorised_date",
                    "factors", "referral_date"),
    "cin_plans": ("child_id", "episode", "source_line", "start_date", "end_date", "referral_date"),
    "section47": ("child_id", "episode", "source_line", "start_date", "icpc_target_date", "icpc_date",
                  "icpc_not_required", "referral_date"),
    "cp_plans": ("child_id", "episode", "source_line", "start_date", "end_date", "initial_category",
                 "latest_category", "previous_plans", "reviews", "first_review_date", "referral_date"),
}
DATE_COLUMNS = {"birth_date", "expected_birth_date", "death_date", "referral_date", "closure_date",
                "initial_cpc_date", "start_date", "review_date", "authorised_date", "end_date", "icpc_target_date",
                "icpc_date", "first_review_date"}
FLAG_COLUMNS = {"referral_nfa", "icpc_not_required"}
INT_COLUMNS = {"episode", "source_line", "previous_plans", "reviews"}


@dataclass(frozen=True)
class Header:
    root: str | None
    collection: str | None
    year: int | None
    reference_date: date | None
    lea: str | None
    software_code: str | None


@dataclass
class CensusReturn:
    file: str
    sha256: str
    collection_year: int
    lea: str
    schema: str
    software_code: str | None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def n_children(self) -> int:
        return len(self.tables["children"])


def year_bounds(collection_year: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """1 April of the year before to 31 March: the census year."""
    return pd.Timestamp(collection_year - 1, 4, 1), pd.Timestamp(collection_year, 3, 31)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the header ------------------------------------------------------------------------------------------


def _text(node) -> str | None:
    text = node.text
    return text.strip() if text is not None else None


def read_header(path: Path) -> Header:
    """The return's collection details and source, read without validating (to pick its schema and check its
    year before the full pass). Stops at the first child."""
    from lxml import etree

    values: dict[str, str | None] = {}
    root = None
    try:
        for event, element in etree.iterparse(str(path), events=("start", "end"), remove_comments=True,
                                              no_network=True, resolve_entities="internal"):
            if root is None:
                root = element.tag
            if event == "start":
                continue
            tag = element.tag
            if tag in ("Collection", "Year", "ReferenceDate", "LEA", "SoftwareCode"):
                values[tag] = _text(element)
            if tag in ("Header", "Child"):
                break
    except etree.XMLSyntaxError as error:
        raise CensusReturnError([_syntax_finding(path, error)]) from None
    year = values.get("Year")
    reference = values.get("ReferenceDate")
    try:
        reference_date = date.fromisoformat(reference[:10]) if reference else None
    except ValueError:
        reference_date = None
    return Header(root, values.get("Collection"), int(year) if year and year.isdigit() else None, reference_date,
                  values.get("LEA"), values.get("SoftwareCode"))


def _syntax_finding(path: Path, error) -> Finding:
    entry = error.error_log.last_error if error.error_log else None
    line = entry.line if entry is not None and entry.line else getattr(error, "lineno", None)
    message = entry.message if entry is not None else str(error)
    return Finding(str(path), "well-formed XML", message.strip(), line=line or None,
                   element="(document)")


def check_header(path: Path, header: Header, expected_year: int, expected_lea: str) -> None:
    """The return is the census (Collection CIN) of the expected year and authority, or it is refused."""
    if header.root != "Message":
        raise CensusReturnError([Finding(str(path), "DfE schema", f"the root element is {header.root!r}, not "
                                         "'Message': not a children-in-need census return", line=1,
                                         element=str(header.root))])
    findings = []
    if header.collection not in (None, "CIN"):
        findings.append(Finding(str(path), "collection", f"Collection is {header.collection!r}, not a children-in-"
                                "need census return (CIN)", element="Header/CollectionDetails/Collection"))
    if header.year != expected_year:
        findings.append(Finding(str(path), "collection year", f"Year is {header.year}, but the trial lists this file "
                                f"as the {expected_year - 1}-{str(expected_year)[2:]} return ({expected_year})",
                                element="Header/CollectionDetails/Year"))
    elif header.reference_date is not None and header.reference_date != date(expected_year, 3, 31):
        # DfE rule 100: the reference date is 31 March of the collection year.
        findings.append(Finding(str(path), "rule 100 (DfE)", f"Reference Date is incorrect: {header.reference_date}, "
                                f"not {date(expected_year, 3, 31)}", element="Header/CollectionDetails/ReferenceDate"))
    if header.lea is not None and header.lea != expected_lea:
        findings.append(Finding(str(path), "authority", f"LEA is {header.lea}, but the trial's authority is DfE "
                                f"number {expected_lea}", element="Header/Source/LEA"))
    if findings:
        raise CensusReturnError(findings)


# --- the children ----------------------------------------------------------------------------------------


class _Rows:
    """Rows of each table kept as columns (Python lists, one per column: no transposing later), turned into typed
    blocks every CHUNK children."""

    def __init__(self):
        self.lists = {name: [[] for _ in columns] for name, columns in TABLE_COLUMNS.items()}
        self.blocks = {name: [] for name in TABLE_COLUMNS}

    def add(self, name: str, row) -> None:
        for column, value in zip(self.lists[name], row):
            column.append(value)

    def flush(self) -> None:
        for name, columns in self.lists.items():
            if columns[0]:
                self.blocks[name].append(_typed(name, columns))
                self.lists[name] = [[] for _ in columns]

    def frames(self) -> dict[str, pd.DataFrame]:
        self.flush()
        out = {}
        for name, blocks in self.blocks.items():
            frame = pd.concat(blocks, ignore_index=True) if blocks else _typed(name, [[] for _ in TABLE_COLUMNS[name]])
            for column in CODE_COLUMNS & set(frame.columns):  # blocks' categories differ: make them one again
                frame[column] = frame[column].astype("object").astype("category")
            out[name] = frame
        return out


CODE_COLUMNS = {"gender", "ethnicity", "disabilities", "referral_source", "primary_need", "reason_for_closure",
                "factors", "initial_category", "latest_category"}


def _typed(name: str, values: list[list]) -> pd.DataFrame:
    """A block of columns as a typed frame: dates as datetime64, 0/1 flags as booleans, codes as categories (a
    national return repeats a handful of codes a million times)."""
    columns = TABLE_COLUMNS[name]
    data = {}
    for column, items in zip(columns, values):
        if column in DATE_COLUMNS:
            # the schema has checked xs:date; a time zone suffix (2016-01-01Z) is dropped
            data[column] = np.array([("NaT" if v is None else v if len(v) == 10 else v[:10]) for v in items],
                                    dtype="datetime64[D]").astype("datetime64[s]")
        elif column in FLAG_COLUMNS:
            data[column] = pd.array([None if v is None else v in ("1", "true", "TRUE") for v in items],
                                    dtype="boolean")
        elif column in INT_COLUMNS:
            data[column] = pd.array([None if v is None else int(v) for v in items], dtype="Int64")
        elif column in CODE_COLUMNS:
            data[column] = pd.Categorical(items)
        else:
            data[column] = pd.Series(items, dtype="object")
    return pd.DataFrame(data, columns=list(columns))


_IDENTIFIERS = {"LAchildID": 0, "PersonBirthDate": 2, "ExpectedPersonBirthDate": 3, "GenderCurrent": 4,
                "PersonDeathDate": 5}
_EPISODE = {"CINreferralDate": 3, "ReferralSource": 4, "PrimaryNeedCode": 5, "CINclosureDate": 6,
            "ReasonForClosure": 7, "DateOfInitialCPC": 8, "ReferralNFA": 9}
_ASSESSMENT = {"AssessmentActualStartDate": 3, "AssessmentInternalReviewDate": 4, "AssessmentAuthorisationDate": 5}
_SECTION47 = {"S47ActualStartDate": 3, "InitialCPCtarget": 4, "DateOfInitialCPC": 5, "ICPCnotRequired": 6}
_PLAN = {"CPPstartDate": 3, "CPPendDate": 4, "InitialCategoryOfAbuse": 5, "LatestCategoryOfAbuse": 6,
         "NumberOfPreviousCPP": 7}


def _child_rows(child, rows: _Rows) -> None:
    """One validated ``Child`` element into rows of every table (the hot loop of a national return: plain
    attribute reads, no helper calls per element)."""
    record: list = [None, child.sourceline, None, None, None, None, None, None]
    episodes = []
    for part in child:
        tag = part.tag
        if tag == "CINdetails":
            episodes.append(part)
        elif tag == "ChildIdentifiers":
            for node in part:
                slot = _IDENTIFIERS.get(node.tag)
                if slot is not None:
                    text = node.text
                    record[slot] = text.strip() if text else None
        elif tag == "ChildCharacteristics":
            for node in part:
                if node.tag == "Ethnicity":
                    record[6] = (node.text or "").strip() or None
                elif node.tag == "Disabilities":
                    record[7] = ";".join((d.text or "").strip() for d in node)
    child_id = record[0] if record[0] is not None else ""
    record[0] = child_id
    rows.add("children", record)
    for number, detail in enumerate(episodes, start=1):
        episode = [child_id, number, detail.sourceline, None, None, None, None, None, None, None]
        for node in detail:
            tag = node.tag
            slot = _EPISODE.get(tag)
            if slot is not None:
                text = node.text
                episode[slot] = text.strip() if text else None
            elif tag == "Assessments":
                assessment = [child_id, number, node.sourceline, None, None, None, None, episode[3]]
                for item in node:
                    if item.tag == "FactorsIdentifiedAtAssessment":
                        assessment[6] = ";".join((f.text or "").strip() for f in item)
                    else:
                        position = _ASSESSMENT.get(item.tag)
                        if position is not None:
                            text = item.text
                            assessment[position] = text.strip() if text else None
                rows.add("assessments", assessment)
            elif tag == "CINPlanDates":
                plan = [child_id, number, node.sourceline, None, None, episode[3]]
                for item in node:
                    text = item.text
                    plan[3 if item.tag == "CINPlanStartDate" else 4] = text.strip() if text else None
                rows.add("cin_plans", plan)
            elif tag == "Section47":
                enquiry = [child_id, number, node.sourceline, None, None, None, None, episode[3]]
                for item in node:
                    position = _SECTION47.get(item.tag)
                    if position is not None:
                        text = item.text
                        enquiry[position] = text.strip() if text else None
                rows.add("section47", enquiry)
            elif tag == "ChildProtectionPlans":
                plan = [child_id, number, node.sourceline, None, None, None, None, None, 0, None, episode[3]]
                for item in node:
                    if item.tag == "Reviews":
                        dates = sorted((r.text or "").strip() for r in item)
                        plan[8], plan[9] = len(dates), (dates[0] if dates else None)
                    else:
                        position = _PLAN.get(item.tag)
                        if position is not None:
                            text = item.text
                            plan[position] = text.strip() if text else None
                rows.add("cp_plans", plan)
        rows.add("episodes", episode)


def _stream(path: Path, schema, rows: _Rows, part: int = 0, parts: int = 1) -> None:
    """Validate the whole file while streaming; turn into rows the children whose position modulo ``parts`` is
    ``part`` (all of them by default)."""
    from lxml import etree

    count = 0
    position = -1
    closed = False
    # External entities are never loaded (resolve_entities "internal": no file or network read through the XML);
    # False would also be safe, but lxml then lets a truncated file pass silently when a schema is given.
    context = etree.iterparse(str(path), events=("end",), tag=("Child", "Message"), schema=schema,
                              remove_comments=True, no_network=True, resolve_entities="internal", huge_tree=True)
    for _, child in context:
        if child.tag == "Message":
            closed = True
            continue
        position += 1
        if position % parts == part:
            _child_rows(child, rows)
        # free the child and everything before it: memory stays bounded by CHUNK rows, not the file
        child.clear(keep_tail=False)
        parent = child.getparent()
        while child.getprevious() is not None:
            del parent[0]
        count += 1
        if count % CHUNK == 0:
            rows.flush()
    if not closed:  # whatever the parser says: a return whose root never closed is cut short
        raise CensusReturnError([Finding(str(path), "well-formed XML", "the file ends before </Message>: truncated",
                                         element="(document)")])


def locate_schema_errors(path: Path, entry: xsd.SchemaEntry, limit: int = 5) -> list[Finding]:
    """The children (and header) the schema refuses, each with its line, LAchildID, element and message."""
    from lxml import etree

    schema = xsd.locating_schema(entry)
    rule = f"{XSD_RULE} {entry.name}"
    findings: list[Finding] = []
    for _, element in etree.iterparse(str(path), events=("end",), tag=("Child", "Header"), remove_comments=True,
                                      no_network=True, resolve_entities="internal", huge_tree=True):
        if not schema.validate(element):
            child = element.findtext("ChildIdentifiers/LAchildID") if element.tag == "Child" else None
            for error in schema.error_log:
                element_path = (error.path or "").lstrip("/") or element.tag
                findings.append(Finding(str(path), rule, error.message, line=error.line or element.sourceline,
                                        child=child, element=element_path))
                break
            if len(findings) >= limit:
                break
        if element.tag == "Child":
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                del element.getparent()[0]
    return findings


# A return this large is read by two processes, each validating the whole file and turning half its children into
# rows (a national return: 650,000 children, most of the time Python spends per child). Smaller: one process.
PARALLEL_BYTES = 100_000_000


def _parse_part(path: Path, entry: xsd.SchemaEntry, part: int, parts: int) -> dict[str, pd.DataFrame]:
    from lxml import etree

    rows = _Rows()
    try:
        _stream(path, xsd.xml_schema(entry), rows, part, parts)
    except etree.XMLSyntaxError as error:
        if parts == 1:
            raise
        raise _NotValid(str(error)) from None
    return rows.frames()


def parse_return(path: Path, entry: xsd.SchemaEntry, workers: int | None = None) -> dict[str, pd.DataFrame]:
    """Every table of the return, validated against ``entry``'s schema as it streams (LAchildID not yet hidden).
    ``workers``: processes reading it (default: two for a return over PARALLEL_BYTES, else one)."""
    from lxml import etree

    if workers is None:
        workers = 2 if Path(path).stat().st_size > PARALLEL_BYTES and (os.cpu_count() or 1) > 1 else 1
    try:
        if workers == 1:
            return _parse_part(path, entry, 0, 1)
        import multiprocessing

        # fork: the workers share the loaded modules and compiled schema; each reads the file itself
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.starmap(_parse_part, [(path, entry, k, workers) for k in range(workers)])
        frames = {}
        for name in TABLE_COLUMNS:
            stacked = pd.concat([p[name] for p in parts], ignore_index=True)
            for column in CODE_COLUMNS & set(stacked.columns):
                stacked[column] = stacked[column].astype("object").astype("category")
            frames[name] = stacked.sort_values("source_line", kind="stable").reset_index(drop=True)
        return frames
    except (etree.XMLSyntaxError, _NotValid) as error:
        # Streaming validation reports without a line: read again, one child at a time, to say where. A file that
        # is not well-formed fails that reading too, with the parser's own line.
        try:
            findings = locate_schema_errors(path, entry)
        except etree.XMLSyntaxError as syntax:
            raise CensusReturnError([_syntax_finding(path, syntax)]) from None
        if not findings:
            last = error.error_log.last_error if getattr(error, "error_log", None) else None
            message = last.message if last is not None else str(error)
            findings = [Finding(str(path), f"{XSD_RULE} {entry.name}", message, element=_element_of(message))]
        raise CensusReturnError(findings) from None


def _element_of(message: str) -> str | None:
    """'Element 'X': ...' -> X (the schema's messages name the element)."""
    if message.startswith("Element '"):
        return message.split("'")[1]
    return None


def read_return(path: Path, collection_year: int, lea: str, census_dir: Path,
                rules: Callable[[dict[str, pd.DataFrame], int, str], list[Finding]] | None = None) -> CensusReturn:
    """One return, checked: a regular non-empty XML file; the header's collection, year and authority; DfE's
    schema for that year; then DfE's validation rules (``rules``: tables, year, file -> findings). Refused with
    a CensusReturnError naming file, line, child, element and rule; otherwise its tables (LAchildID still in
    ``child_id``: pseudonymise before storing)."""
    path = Path(path)
    if not path.is_file() or path.is_symlink():
        raise CensusReturnError([Finding(str(path), "file", "not a regular file (missing, a folder or a link)")])
    with open(path, "rb") as handle:
        start = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start.startswith(b"<"):
        what = "empty" if not start else "not XML (it does not start with '<')"
        raise CensusReturnError([Finding(str(path), "well-formed XML", f"the file is {what}", line=1,
                                         element="(document)")])
    entry = xsd.schema_for(census_dir, collection_year)
    header = read_header(path)
    check_header(path, header, collection_year, lea)
    tables = parse_return(path, entry)
    found = rules(tables, collection_year, str(path)) if rules is not None else []
    if found:
        raise CensusReturnError(found[:20], more=max(0, len(found) - 20))
    return CensusReturn(file=str(path), sha256=file_sha256(path), collection_year=collection_year,
                        lea=header.lea or lea, schema=entry.name, software_code=header.software_code,
                        tables=tables)


def pseudonymised(census: CensusReturn, pseudonym: Callable[[str], str]) -> CensusReturn:
    """The same return with every LAchildID replaced by its keyed hash (``child_key``): each id hashed once,
    every table's ids looked up by their codes."""
    keys: dict[str, str] = {}
    out = {}
    for name, frame in census.tables.items():
        codes, uniques = pd.factorize(frame["child_id"])
        hashed = np.array([keys[u] if u in keys else keys.setdefault(u, pseudonym(u)) for u in uniques],
                          dtype=object)
        rest = frame.drop(columns="child_id")
        rest.insert(0, "child_key", hashed[codes] if len(frame) else np.array([], dtype=object))
        out[name] = rest
    return replace(census, tables=out)
