"""Is there anything to refresh?  The fingerprint of what a refresh would
read now, compared with the manifest the last publication left beside the
published file.  No Dagster import: ``python -m fact22_assets.build`` asks
this before loading the definitions, so a refresh with nothing to do costs
well under a second."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fact22_assets.core.catalogue import ACCEPTED_CATALOGUE, load_catalogue
from fact22_assets.core.fingerprint import Fingerprint, by_content, by_place, code_fingerprint, input_files, read_manifest
from fact22_assets.core.fingerprint import unchanged as _unchanged
from fact22_assets.settings import (
    REPO_ROOT,
    accepted_dir,
    casework_dir,
    data_dir,
    landing_dir,
    publication_manifest_path,
    studies_path,
    trials_path,
    warehouse_path,
)


def refresh_inputs() -> dict[str, str]:
    """Every file a refresh reads, name -> sha256: the shipped data, the
    case-level extracts and the studies by place; the accepted releases and
    the landing folder by content (a landed file once accepted is the same input)."""
    inputs = {}
    for label, root in (("data", data_dir()), ("casework", casework_dir())):
        inputs |= by_place(input_files([root]), root, label)
    if studies_path().is_file():
        inputs |= by_place([studies_path()], studies_path().parent, "studies")
    if trials_path().is_file():  # a trials file outside data/ (FACT22_TRIALS) is an input too
        inputs |= by_place([trials_path()], trials_path().parent, "trials")
    # The accepted catalogue only records where accepted files went; their bytes are inputs already.
    landed = [f for f in input_files([accepted_dir(), landing_dir()]) if f.name != ACCEPTED_CATALOGUE]
    return inputs | by_content(landed, "landed")


def current_fingerprint() -> Fingerprint:
    return Fingerprint(inputs=refresh_inputs(), code=code_fingerprint(REPO_ROOT))


def nothing_to_do() -> tuple[bool, str]:
    """True when the published warehouse was built from exactly these inputs and this code."""
    if not warehouse_path().exists():
        return False, "nothing is published yet"
    return _unchanged(current_fingerprint(), read_manifest(publication_manifest_path()))


@dataclass(frozen=True)
class RefreshPlan:
    """What a refresh rebuilds: the sources whose data changed (the assets downstream of them), or
    everything (``sources`` None)."""

    sources: tuple[str, ...] | None
    why: str


def current_source_versions() -> dict[str, str]:
    """Every source's data version now (core/source_versions.py), landing candidates included."""
    # Imported here: `nothing_to_do` must stay light (the parsers' imports cost more than its answer).
    from fact22_assets.core.landing import load_full_catalogue
    from fact22_assets.core.source_versions import source_versions

    catalogue, _ = load_full_catalogue(data_dir(), accepted_dir(), landing_dir())
    return source_versions(catalogue, data_dir() / "reference", _casework_files(), studies_path())


def _casework_files() -> list[Path]:
    return input_files([casework_dir()])


def _covered(now: Fingerprint) -> set[str]:
    """The inputs whose every change shows in some source's version: the catalogue and the files it
    names, the seed files, the extracts and the studies file."""
    from fact22_assets.core.source_versions import SEED_FILES

    catalogue = load_catalogue(data_dir() / "sources.yaml")
    paths = {data_dir() / "sources.yaml", studies_path(), *(s.path for s in catalogue.sources),
             *(data_dir() / "reference" / f for f in SEED_FILES.values()), *_casework_files()}
    resolved = {p.resolve() for p in paths}
    covered = set()
    for name in now.inputs:
        label, _, rest = name.partition("/")
        if label in ("landed", "casework", "studies"):
            covered.add(name)
        elif label == "data" and (data_dir() / rest).resolve() in resolved:
            covered.add(name)
    return covered


def refresh_plan() -> RefreshPlan:
    """Everything, or only what lies downstream of the sources that changed since the last publication:
    a partial refresh needs the same code, a manifest that recorded source versions, and every changed
    input file to be one some source reads."""
    manifest = read_manifest(publication_manifest_path())
    if not warehouse_path().exists() or not manifest:
        return RefreshPlan(None, "nothing is published yet")
    now = current_fingerprint()
    if manifest.get("code_fingerprint") != now.code:
        return RefreshPlan(None, "the code changed since the last publication")
    published = manifest.get("inputs") or {}
    changed_inputs = sorted(n for n in set(now.inputs) | set(published) if now.inputs.get(n) != published.get(n))
    try:
        covered = _covered(now)
        uncovered = [n for n in changed_inputs if n not in covered and n in now.inputs]
        versions = current_source_versions()
    except Exception as error:  # noqa: BLE001 - a landed file the catalogue cannot read: the full run refuses it
        return RefreshPlan(None, f"the landing folder could not be read ahead of the run ({error})")
    if uncovered:
        return RefreshPlan(None, f"{', '.join(uncovered[:3])} changed, which no single source covers")
    from fact22_assets.core.source_versions import changed_sources

    changed = changed_sources(versions, manifest.get("sources"))
    if not changed:
        return RefreshPlan(None, "the last publication recorded no source versions" if changed is None
                           else "input files changed without changing what any source reads")
    return RefreshPlan(tuple(changed), f"only {', '.join(changed)} changed")
