"""Identifying files dropped into the landing folder, and the catalogue of
files that earlier refreshes accepted.

A landed file becomes a catalogue ``Source`` like a shipped one: its layout
is recognised from its header (``layouts`` in ``data/sources.yaml``), its
release from the years it holds.  Anything that does not fit is refused
with the file, row and column that did not.

A landed file of a release already published is, if its bytes are the
published ones, nothing to do; if they differ, a candidate *revision* of
that release: a release of its own (``cin_2025_r1``, ranked just above
``cin_2025``) that the release comparison checks like any other.  Beside a
landed file, ``<file name>.revision.yaml`` (``reason:``, optionally
``revises:``) declares its release a revision: exempt from the revision
bound, and recorded with its reason in the accepted catalogue.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import yaml

from .audit import RunAudit, require_publishable
from .catalogue import ACCEPTED_CATALOGUE, Catalogue, Release, Source, file_sha256, load_catalogue, read_yaml
from .errors import SourceDataError
from .files import write_atomically
from .landing_folder import (
    REASON_SUFFIX,
    REVISION_SIDECAR,
    LandingRules,
    copy_verified,
    move_with_note,
    rules_for,
    sha256_of,
    survey,
)
from .tabular import CsvTable, read_csv_table

EES_SYMBOLS = {"c": "suppressed", "x": "not_available", "..": "not_available", "u": "low_reliability",
               "z": "not_applicable", ":": "not_available"}
_YEAR_RANGE = re.compile(r"_(\d{4})_to_(\d{4})(?:\D|$)")
_MYE_YEAR = re.compile(r"mye(\d{2})", re.IGNORECASE)
_MID_YEAR = re.compile(r"^Mid-(\d{4})$")
# Beside a landed file, ``<file name>.revision.yaml`` (REVISION_SIDECAR) declares its release a revision.
SIDECAR_HELP = ("a revision sidecar is YAML beside the file, named '<file name>.revision.yaml', with 'reason: <why the "
                "numbers change>' and optionally 'revises: <release id, e.g. cin_2025>'")
# A revision ranks this far above the release it revises per revision (r1: +0.01), below the next year's release.
REVISION_RANK_STEP = 0.01


def landing_files(folder: Path) -> list[Path]:
    """Regular files waiting in the landing folder (not links, folders, reasons or revision sidecars:
    core/landing_folder.py), from ``lstat`` alone."""
    return list(survey(folder).files)


def sidecar_of(path: Path) -> Path:
    """Where the revision sidecar of landed file ``path`` lies (it may not exist)."""
    return path.with_name(path.name + REVISION_SIDECAR)


@dataclass(frozen=True)
class Declaration:
    """A landed file's revision sidecar: why its release revises published numbers, and which release."""
    reason: str
    revises: str | None
    display: str


def read_declaration(path: Path, display: str | None = None) -> Declaration | None:
    """The revision sidecar beside landed file ``path``, or None; a SourceDataError naming it if malformed."""
    sidecar = sidecar_of(path)
    if not sidecar.is_file():
        return None
    display = display or f"landing/{sidecar.name}"
    try:
        document = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        problem = " ".join(str(error).split())
        raise SourceDataError(display, None, None, f"not readable as YAML ({problem}); {SIDECAR_HELP}") from None
    if not isinstance(document, dict):
        raise SourceDataError(display, None, None, f"expected 'reason: …'; {SIDECAR_HELP}")
    unknown = sorted(str(k) for k in set(document) - {"reason", "revises"})
    if unknown:
        raise SourceDataError(display, None, None, f"unknown key(s) {unknown}; {SIDECAR_HELP}")
    reason, revises = document.get("reason"), document.get("revises")
    if not isinstance(reason, str) or not reason.strip():
        raise SourceDataError(display, None, None, f"lacks 'reason:' (why the numbers change); {SIDECAR_HELP}")
    if revises is not None and not isinstance(revises, str):
        raise SourceDataError(display, None, None, f"'revises:' should be a release id like cin_2025; {SIDECAR_HELP}")
    return Declaration(" ".join(reason.split()), revises.strip() if revises else None, display)


def _layouts(document: dict) -> list[dict]:
    return list(document.get("layouts") or [])


def _closest(header: list[str], layouts: list[dict]) -> tuple[dict, list[str]]:
    scored = []
    for layout in layouts:
        missing = [c for c in layout["requires"] if c not in header]
        scored.append((len(missing), layout["layout_id"], layout, missing))
    scored.sort(key=lambda item: (item[0], item[1]))
    return scored[0][2], scored[0][3]


def _csv_years(path: Path, display: str, table: CsvTable) -> tuple[list[str], int, int]:
    at = table.column_index("time_period")
    years = []
    for i, row in enumerate(table.rows):
        text = row[at].strip()
        if not (text.isdigit() and len(text) == 4):
            raise SourceDataError(display, table.row_number(i), "time_period", f"{text!r} is not a year like 2025")
        years.append(int(text))
    named = _YEAR_RANGE.search(path.name)
    if named:
        first, last = int(named.group(1)), int(named.group(2))
        for i, year in enumerate(years):
            if not first <= year <= last:
                raise SourceDataError(display, table.row_number(i), "time_period",
                                      f"year {year} is outside {first}-{last}, the years the file name promises: "
                                      "is this the right file?")
        if max(years) != last:
            raise SourceDataError(display, 1, "time_period",
                                  f"the file name promises years up to {last} but the latest year in it is "
                                  f"{max(years)}: is this the right file?")
    return table.header, min(years), max(years)


def _release(catalogue: Catalogue, release_id: str, layout: dict, year: int, symbols: dict) -> Release:
    if release_id in catalogue.releases:
        return catalogue.releases[release_id]
    return Release(release_id=release_id, publisher=layout["publisher"],
                   publication=layout["publication"].format(year=year), rank=year, symbols=symbols)


def identify(path: Path, document: dict, catalogue: Catalogue, display: str | None = None) -> Source:
    """The catalogue source a landed file is, or a SourceDataError saying why not."""
    display = display or f"landing/{path.name}"
    layouts = _layouts(document)
    if path.suffix.lower() in {".xlsx", ".xls"}:
        return _identify_workbook(path, display, [layout for layout in layouts if layout["family"] == "ons_mye4"], catalogue)
    table = read_csv_table(path, display)
    layout, missing = _closest(table.header, [layout for layout in layouts if layout["family"] != "ons_mye4"])
    if missing:
        raise SourceDataError(display, 1, missing[0],
                              f"column not found: the header matches no known layout (closest: "
                              f"{layout['layout_id']}, which needs {missing}); a renamed column needs a new "
                              "layout in data/sources.yaml")
    family = layout["family"]
    options = {k: v for k, v in layout.items()
               if k not in {"layout_id", "family", "publisher", "publication", "requires"}}
    if family == "dfe_cin_ees":
        header, first, last = _csv_years(path, display, table)
        release = _release(catalogue, f"cin_{last}", layout, last, EES_SYMBOLS)
        options["years"] = [first, last]
    elif family == "dfe_population_0_17":
        header, first, last = _csv_years(path, display, table)
        release = _release(catalogue, f"dfe_population_{last + 1}", layout, last, {"x": "not_available",
                                                                                    "c": "suppressed"})
    else:
        named = _MYE_YEAR.search(path.name)
        if not named:
            raise SourceDataError(display, None, None, "cannot tell the mid-year from the file name (expected "
                                                       "ONS's 'myeYY…', e.g. mye25tablesew.csv)")
        year = 2000 + int(named.group(1))
        release = _release(catalogue, f"ons_mye_{year}", layout, year, {})
        options["mid_year"] = year
    return Source(source_id=f"landed_{release.release_id}_{layout['layout_id']}", family=family, release=release,
                  path=path, relative_path=display, sha256=file_sha256(path), options=options)


def _identify_workbook(path: Path, display: str, layouts: list[dict], catalogue: Catalogue) -> Source:
    if not layouts:
        raise SourceDataError(display, None, None, "no workbook layout is catalogued")
    layout = layouts[0]
    sheet_name, header_row = layout["sheet"], int(layout["header_row"])
    where = f"{display} [sheet {sheet_name}]"
    import pandas as pd  # here: identifying a CSV, the usual case, needs no pandas

    try:
        sheet = pd.read_excel(path, sheet_name=sheet_name, header=None, dtype=object, nrows=header_row + 5)
    except ValueError as error:
        raise SourceDataError(display, None, None, f"cannot read sheet {sheet_name!r}: {error}") from None
    cells = ["" if pd.isna(v) else str(v).strip() for v in sheet.iloc[header_row - 1]] if len(sheet) >= header_row else []
    if cells[:3] != ["Code", "Name", "Geography"]:
        found = [i + 1 for i in range(len(sheet)) if str(sheet.iloc[i, 0]).strip() == "Code"]
        moved = f"; 'Code' is on row {found[0]}" if found else ""
        raise SourceDataError(where, header_row, "A", f"expected the header 'Code, Name, Geography, Mid-…' on row "
                                                      f"{header_row}, found {cells[:3]}{moved}: the header has moved")
    years = sorted(int(m.group(1)) for c in cells if (m := _MID_YEAR.match(c)))
    if not years:
        raise SourceDataError(where, header_row, "D", "no Mid-YYYY columns in the header")
    release = _release(catalogue, f"ons_mye_{years[-1]}", layout, years[-1], {})
    options = {"sheet": sheet_name, "header_row": header_row, "mid_years": [years[-1]]}
    return Source(source_id=f"landed_{release.release_id}_{layout['layout_id']}", family="ons_mye4",
                  release=release, path=path, relative_path=display, sha256=file_sha256(path), options=options)


@dataclass(frozen=True)
class Waiting:
    """A release landed in part: the files there, the parts still missing."""
    release_id: str
    files: tuple[Path, ...]
    missing: tuple[str, ...]
    wait_days: float

    def overdue(self, now: float) -> bool:
        oldest = min(p.stat().st_mtime for p in self.files)
        return now - oldest > self.wait_days * 86400

    def describe(self, now: float) -> str:
        landed = ", ".join(p.name for p in self.files)
        missing = " and ".join(self.missing)
        if self.overdue(now):
            return (f"release {self.release_id} has been incomplete for more than {self.wait_days:g} days: "
                    f"landed {landed}, still missing {missing}; land the missing file(s) or remove the landed ones")
        return f"waiting for {missing} of release {self.release_id} (landed {landed})"


def _part_name(layouts: list[str]) -> str:
    return "/".join(sorted({layout.removeprefix("ees_cin_").split("_")[0] for layout in layouts}))


def incomplete_releases(document: dict, candidates: list[Source]) -> list[Waiting]:
    """Releases whose landed files do not yet make a whole release
    (``release_parts`` in data/sources.yaml): checked and published only as a whole."""
    waiting = []
    for unit in document.get("release_parts") or []:
        by_release: dict[str, list[Source]] = {}
        for source in candidates:
            # A revision re-issues files of a published release: the other parts stay the published ones.
            if source.family == unit["family"] and not source.release.revises:
                by_release.setdefault(source.release.release_id, []).append(source)
        for release_id, sources in sorted(by_release.items()):
            layouts = {s.source_id.removeprefix(f"landed_{release_id}_") for s in sources}
            missing = tuple(_part_name(part) for part in unit["parts"] if not layouts & set(part))
            if missing:
                waiting.append(Waiting(release_id, tuple(sorted(s.path for s in sources)), missing,
                                       float(unit.get("wait_days", 14))))
    return waiting


@dataclass(frozen=True)
class LandingCatalogue:
    """The catalogue a refresh builds from, and what the landing folder added to it."""
    catalogue: Catalogue
    candidates: list[Source]      # landed files of whole releases, new or revising a published one
    waiting: list[Waiting]        # releases landed in part: not built until whole
    known: list[Path]             # landed files whose bytes are already catalogued: nothing to do


def landing_catalogue(data_dir: Path, accepted: Path, landing: Path,
                      rules: LandingRules | None = None) -> LandingCatalogue:
    """Shipped sources, plus those earlier refreshes accepted, plus what waits
    in the landing folder (the files of a release landed in part are left
    out until the release is whole).

    A landing file whose bytes are already catalogued is skipped (landing the
    same file twice changes nothing).  One that fills a place of a published
    release with other bytes, or whose revision sidecar names a published
    release, is a candidate revision of that release (``revision_of``).
    Only the files the landing folder's survey allows are read
    (core/landing_folder.py: regular text files of a plausible size; ``rules``
    default to the catalogue's)."""
    shipped_path = data_dir / "sources.yaml"
    document = read_yaml(shipped_path)
    catalogue = load_catalogue(shipped_path, document=document)
    accepted_file = accepted / ACCEPTED_CATALOGUE
    if accepted_file.exists():
        # Paths there are relative to the warehouse folder ("releases/cin_2026/…").
        catalogue = merge(catalogue, load_catalogue(accepted_file, data_root=accepted.parent))
    if rules is None:
        rules = rules_for(catalogue.sources, document)
    candidates, seen, declared, known = [], catalogue, {}, []
    for path in survey(landing, rules).files:
        source = identify(path, document, seen)
        if any(s.sha256 == source.sha256 for s in seen.sources):
            known.append(path)
            continue
        declaration = read_declaration(path)
        source = revision_of(source, catalogue, declaration, seen)
        clash = [s for s in seen.sources if s.source_id == source.source_id or _same_slot(s, source)]
        if clash:
            raise SourceDataError(source.relative_path, None, None,
                                  f"{clash[0].relative_path} fills the same place in release "
                                  f"{source.release.release_id} (the same measures) with other bytes: land one "
                                  "file for each place of a release")
        if declaration:
            declared.setdefault(source.release.release_id, []).append(declaration.reason)
        candidates.append(source)
        seen = merge(seen, Catalogue(path=path, releases={source.release.release_id: source.release},
                                     sources=(source,)))
    # A sidecar beside any file of a release declares the whole release a revision.
    for release_id, reasons in declared.items():
        release = replace(seen.releases[release_id], revision=True, revision_reason="; ".join(dict.fromkeys(reasons)))
        candidates = [replace(s, release=release) if s.release.release_id == release_id else s for s in candidates]
    waiting = incomplete_releases(document, candidates)
    held_back = {p for w in waiting for p in w.files}
    candidates = [s for s in candidates if s.path not in held_back]
    for source in candidates:
        catalogue = merge(catalogue, Catalogue(path=source.path,
                                               releases={source.release.release_id: source.release},
                                               sources=(source,)))
    return LandingCatalogue(catalogue, candidates, waiting, known)


def load_full_catalogue(data_dir: Path, accepted: Path, landing: Path, with_waiting: bool = False,
                        rules: LandingRules | None = None) -> tuple[Catalogue, list[Source]]:
    """``landing_catalogue`` as (catalogue, candidates), or with ``with_waiting`` (catalogue, candidates,
    releases landed in part)."""
    found = landing_catalogue(data_dir, accepted, landing, rules)
    return ((found.catalogue, found.candidates, found.waiting) if with_waiting
            else (found.catalogue, found.candidates))


def revision_of(source: Source, published: Catalogue, declaration: Declaration | None = None,
                seen: Catalogue | None = None) -> Source:
    """``source`` as a revision of the published release it belongs to, when
    it fills a place that release already has (other bytes for the same
    measures) or its sidecar declares it; otherwise ``source`` itself.  The
    revision is a release of its own, ``<release>_r<n>``, ranked just above
    the release and its earlier revisions (``seen``: the catalogue so far,
    whose revision release the other files of the same landing share)."""
    release_id = source.release.release_id
    wanted = declaration.revises if declaration else None
    if wanted is not None and wanted != release_id:
        holds = (f"the file holds the years of release {release_id}" if release_id in published.releases
                 else f"the file holds the years of a new release, {release_id}")
        raise SourceDataError(declaration.display, None, None,
                              f"says 'revises: {wanted}' but {holds}: a corrected file of {wanted} holds the same "
                              "years as its published files (or leave 'revises:' out)")
    if release_id not in published.releases:
        return source
    relanded = [s for s in published.sources if s.source_id == source.source_id or _same_slot(s, source)]
    if not relanded and declaration is None:
        return source  # a new part of a published release, not a correction of one
    revised = published.releases[release_id]
    earlier = [r for r in published.releases.values() if r.revises == release_id]
    revision_id = f"{release_id}_r{len(earlier) + 1}"
    release = (seen or published).releases.get(revision_id) or Release(
        release_id=revision_id, publisher=revised.publisher, publication=f"{revised.publication} (revised)",
        rank=round(max([revised.rank, *(r.rank for r in earlier)]) + REVISION_RANK_STEP, 4),
        symbols=revised.symbols, experimental=revised.experimental, revises=release_id)
    layout = source.source_id.removeprefix(f"landed_{release_id}_")
    return replace(source, source_id=f"landed_{revision_id}_{layout}", release=release)


def _same_slot(catalogued: Source, landed: Source) -> bool:
    """Whether two files fill the same place in a release: same release and
    family and, where files carry measures, a measure in common."""
    if (catalogued.release.release_id, catalogued.family) != (landed.release.release_id, landed.family):
        return False
    return not (catalogued.measures and landed.measures) or bool(set(catalogued.measures) & set(landed.measures))


def merge(first: Catalogue, second: Catalogue) -> Catalogue:
    releases = {**second.releases, **first.releases}
    sources = first.sources + tuple(replace(s, release=releases[s.release.release_id]) for s in second.sources)
    return Catalogue(path=first.path, releases=releases, sources=sources)


def accepted_entries(candidates: list[Source], stored: dict[str, str], previous: dict | None = None) -> dict:
    """The YAML document recording accepted files: ``previous`` (the document
    so far) plus ``candidates`` (``stored``: source_id -> path relative to the
    accepted folder)."""
    previous = previous or {}
    releases = {r["release_id"]: r for r in previous.get("releases") or []}
    sources = list(previous.get("sources") or [])
    for source in candidates:
        release = source.release
        releases[release.release_id] = {"release_id": release.release_id, "publisher": release.publisher,
                                        "publication": release.publication, "rank": release.rank,
                                        "symbols": release.symbols}
        if release.revises:
            releases[release.release_id]["revises"] = release.revises
        if release.revision:
            releases[release.release_id] |= {"revision": True, "revision_reason": release.revision_reason}
        sources.append({"source_id": source.source_id, "family": source.family, "release_id": release.release_id,
                        "path": stored[source.source_id], "sha256": source.sha256, **source.options})
    return {"releases": list(releases.values()), "sources": sources}


@dataclass(frozen=True)
class Filed:
    """What filing a run's landed files did: where each went, and landing files left because their bytes
    are no longer the ones the run checked (replaced meanwhile: the next refresh checks them)."""
    stored: list[str]
    left: list[str]


def accept_landed(candidates: list[Source], accepted: Path, audit: RunAudit | None,
                  landing: Path | None = None) -> Filed:
    """File the landed files a publication was built from into the accepted store and catalogue them.

    Only for a run whose ``audit`` allows publishing (core/audit.py), the same rule the publish step
    applies: otherwise PublicationRefused, and nothing moves.  What is filed is exactly what was checked:
    each candidate's own file (the run's copy of the landed file) is copied in, and the copy in the store
    must hash to the sha256 the run checked; then the original in ``landing`` (default: beside the
    candidate) is removed only if it still holds those bytes.  Run after the publication swap: a kill
    before this leaves the files in landing/, and the next refresh publishes them again and files them."""
    require_publishable(audit)
    if not candidates:
        return Filed([], [])
    stored = {}
    for source in candidates:
        target = accepted / source.release.release_id / source.path.name
        copy_verified(source.path, target, expected=source.sha256)
        if sidecar_of(source.path).exists():  # filed with its file: the declaration behind the release
            copy_verified(sidecar_of(source.path), sidecar_of(target))
        stored[source.source_id] = str(target.relative_to(accepted.parent))
    catalogue = accepted / ACCEPTED_CATALOGUE
    previous = yaml.safe_load(catalogue.read_text(encoding="utf-8")) if catalogue.exists() else None
    write_atomically(catalogue, yaml.safe_dump(accepted_entries(candidates, stored, previous),
                                               sort_keys=False).encode("utf-8"))
    left = []
    for source in candidates:
        original = (landing or source.path.parent) / source.path.name
        if original.is_file() and sha256_of(original) != source.sha256:
            left.append(f"landing/{original.name}")
            continue
        original.unlink(missing_ok=True)
        sidecar_of(original).unlink(missing_ok=True)
    return Filed(sorted(stored.values()), left)


def reject(files: list[Path], reasons: list[str], rejected: Path, now: datetime | None = None,
           checked: dict[str, str] | None = None) -> list[Path]:
    """Move refused landing files to ``rejected`` with the reason beside each.

    A file named in a reason is refused with the reasons that name it; when no
    reason names any file, every file of the failed refresh is refused with
    all of them (the refresh that included them did not pass).  Each refused
    file gets a name of its own (``<UTC time>-<name>``), so a second refusal
    of a file of the same name never overwrites the first or its reason.  A file's
    revision sidecar goes with it.  ``checked`` (name -> sha256, or its first
    hex digits, of the bytes the run checked): a file whose bytes are no longer
    those stays, for the next refresh to check as it is now."""
    named = {f: [r for r in reasons if f.name in r] for f in files}
    if not any(named.values()):
        named = {f: reasons for f in files}
    moved = []
    for path, own in named.items():
        if not own or not path.is_file():
            continue
        if checked is not None and path.name in checked and not sha256_of(path).startswith(checked[path.name]):
            continue
        moved.append(move_with_note(path, rejected, "Refused by the refresh; nothing was published.\n\n"
                                    + "\n\n".join(own) + "\n", REASON_SUFFIX, now))
    return moved
