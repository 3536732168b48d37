"""Is there anything to refresh?  The fingerprint of what a refresh would
read now, compared with the manifest the last publication left beside the
published file, and the one decision (``decide``) that `make warehouse`, the
schedule and the landing sensor all take from it.  No Dagster import:
``python -m fact22_assets.build`` asks this before loading the definitions,
so a refresh with nothing to do costs well under a second."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from fact22_assets.core.catalogue import ACCEPTED_CATALOGUE, load_catalogue
from fact22_assets.core.fingerprint import Fingerprint, by_content, by_place, code_fingerprint, input_files, read_manifest
from fact22_assets.core.fingerprint import unchanged as _unchanged
from fact22_assets.settings import (
    REPO_ROOT,
    accepted_dir,
    calibration_dir,
    casework_dir,
    data_dir,
    landing_dir,
    publication_manifest_path,
    shipped_calibration_dir,
    studies_path,
    trials_path,
    warehouse_path,
)


def calibration_source_dir() -> Path:
    """The calibration folder a refresh reads: the warehouse's own when `make calibrate` has filled it, else the
    shipped one (settings.shipped_calibration_dir)."""
    from fact22_assets.core.calibration.files import source_folder

    return source_folder(calibration_dir(), shipped_calibration_dir())


def refresh_inputs() -> dict[str, str]:
    """Every file a refresh reads, name -> sha256: the shipped data, the
    case-level extracts and the studies by place; the accepted releases and
    the landing folder by content (a landed file once accepted is the same input)."""
    inputs = {}
    # The shipped calibration is an input only while it is the one read (below, by content, as the source reads it).
    shipped = shipped_calibration_dir()
    for label, root in (("data", data_dir()), ("casework", casework_dir())):
        inputs |= by_place([p for p in input_files([root]) if not p.is_relative_to(shipped)], root, label)
    if studies_path().is_file():
        inputs |= by_place([studies_path()], studies_path().parent, "studies")
    if trials_path().is_file():  # a trials file outside data/ (FACT22_TRIALS) is an input too
        inputs |= by_place([trials_path()], trials_path().parent, "trials")
    # The accepted catalogue only records where accepted files went; their bytes are inputs already.
    landed = [f for f in input_files([accepted_dir()]) if f.name != ACCEPTED_CATALOGUE]
    return inputs | by_content(landed + landing_inputs(), "landed") | by_content(_calibration_files(), "calibration")


def landing_inputs() -> list[Path]:
    """The landed files a refresh would build now (whole releases, bytes not yet catalogued) with their
    revision sidecars.  Nothing else in the landing folder is an input, so nothing else triggers a
    rebuild: a part of a release still waiting for the rest, an already-published file, a folder, an
    orphan sidecar, a link or a file refused before reading (core/landing_folder.py)."""
    from fact22_assets.core.landing_folder import survey

    if not survey(landing_dir()).files:
        return []
    from fact22_assets.core.landing import sidecar_of
    from fact22_assets.core.landing_folder import landing_rules

    try:
        files = [s.path for s in current_landing().candidates]
    except Exception:  # noqa: BLE001 - a landed file the catalogue cannot read is something to do: the run refuses it
        files = list(survey(landing_dir(), landing_rules(data_dir(), accepted_dir())).files)
    return [*files, *(sidecar_of(p) for p in files if sidecar_of(p).is_file())]


def _stamp(path: Path) -> tuple:
    try:
        status = path.stat()
    except FileNotFoundError:
        return (str(path), None)
    return (str(path), status.st_size, status.st_mtime_ns)


def current_landing():
    """The catalogue with the landing folder's files (core/landing.py ``landing_catalogue``), built once
    per state of the files it reads: the sensor, the freshness check and the plan all ask for it."""
    from fact22_assets.core.landing import sidecar_of
    from fact22_assets.core.landing_folder import survey

    state = (_stamp(data_dir() / "sources.yaml"), _stamp(accepted_dir() / ACCEPTED_CATALOGUE),
             tuple((_stamp(p), _stamp(sidecar_of(p))) for p in survey(landing_dir()).files))
    return _landing(str(data_dir()), str(accepted_dir()), str(landing_dir()), state)


@lru_cache(maxsize=8)
def _landing(data: str, accepted: str, landing: str, _state: tuple):
    from fact22_assets.core.landing import landing_catalogue

    return landing_catalogue(Path(data), Path(accepted), Path(landing))


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
    everything (``sources`` None); no source at all (``()``) when nothing changed."""

    sources: tuple[str, ...] | None
    why: str


def current_source_versions() -> dict[str, str]:
    """Every source's data version now (core/source_versions.py), landing candidates included."""
    # Imported here: `nothing_to_do` must stay light (the parsers' imports cost more than its answer).
    from fact22_assets.core.source_versions import source_versions

    return source_versions(current_landing().catalogue, data_dir() / "reference", _casework_files(), studies_path(),
                           _calibration_files())


def _casework_files() -> list[Path]:
    return input_files([casework_dir()])


def _calibration_files() -> list[Path]:
    from fact22_assets.core.calibration.files import calibration_files

    return calibration_files(calibration_source_dir())


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
        if label in ("landed", "casework", "studies", "calibration"):
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
    if _unchanged(now, manifest)[0]:
        return RefreshPlan((), "nothing changed since the last publication")
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


# Who asks: the three front doors of a refresh, all through ``decide``.
SENSOR, SCHEDULE, COMMAND = "landing sensor", "schedule", "make warehouse"


@dataclass(frozen=True)
class RefreshDecision:
    """Whether to refresh now and what: the same answer for `make warehouse`, the schedule and the
    landing sensor.  ``notes`` say what was done with the landing folder's entries (refused before
    reading, set aside, waiting, ignored), for the sensor's reason and the terminal."""

    run: bool
    why: str                                        # the plan's reason, or why there is nothing to do
    up_to_date: bool = False                        # nothing to do: inputs and code equal the published ones
    sources: tuple[str, ...] | None = None          # the plan: rebuild downstream of these (None: every asset)
    landed: tuple[str, ...] = ()                    # the landing files the run is for (refused if it fails on them)
    notes: tuple[str, ...] = field(default_factory=tuple)

    def skip_reason(self) -> str:
        return "; ".join([self.why, *self.notes])


def decide(trigger: str, force: bool = False) -> RefreshDecision:
    """Tidy the landing folder (refuse what may not be read, set aside what is not used or already
    published), then decide: nothing to do, or a refresh of what depends on the sources that changed.
    The landing sensor refreshes only for landed files; the schedule and `make warehouse` for any change.
    ``force``: every asset, whatever changed."""
    from fact22_assets.core.landing_folder import survey

    folder, notes = landing_dir(), []
    landed, waiting_parts = [], []
    if not survey(folder).empty:
        from fact22_assets.core.landing_folder import landing_rules, set_aside_published, tidy

        rules = landing_rules(data_dir(), accepted_dir())
        notes += tidy(folder, survey(folder, rules))
        try:
            found = current_landing()
        except Exception:  # noqa: BLE001 - whatever a landed file does to the reader, the run refuses it with the reason
            landed = [p.name for p in survey(folder, rules).files]
        else:
            notes += set_aside_published(folder, found.known)
            landed = [s.path.name for s in found.candidates]
            now = time.time()
            waiting_parts = [w.describe(now) for w in found.waiting]
    same, why = nothing_to_do()
    if same and not force:
        return RefreshDecision(run=False, why=why, up_to_date=True, notes=tuple(notes + waiting_parts))
    if trigger == SENSOR and not landed:
        return RefreshDecision(run=False, why="; ".join(waiting_parts) or "no new file in the landing folder",
                               notes=tuple(notes))
    plan = RefreshPlan(None, "forced: every asset") if force else refresh_plan()
    return RefreshDecision(run=True, why=plan.why, sources=plan.sources, landed=tuple(landed),
                           notes=tuple(notes + waiting_parts))
