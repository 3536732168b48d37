"""Dagster resources: the catalogue of sources (shipped, accepted, landing)."""
from functools import lru_cache
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from fact22_assets.core.catalogue import Catalogue, Source
from fact22_assets.core.landing import ACCEPTED_CATALOGUE, landing_files, load_full_catalogue, sidecar_of
from fact22_assets.core.landing_folder import landing_rules, take_in
from fact22_assets.glue.run_report import CHECKED_TAG, checked_tag

# In a run's build folder: the copy of each landed file that the run checks, builds from and archives.
INTAKE = "landed"


def _stamp(path: Path) -> tuple:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return (str(path), None)
    return (str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4)
def _full_catalogue(data_dir: str, accepted_dir: str, landing_dir: str, _state: tuple):
    return load_full_catalogue(Path(data_dir), Path(accepted_dir), Path(landing_dir))


class SourcesResource(dg.ConfigurableResource):
    """The shipped published files and ``sources.yaml``, the files earlier
    refreshes accepted from the landing folder, and what waits there now.

    In a run (``build_root`` set) the landed files are read only through the
    run's own copies: the first time a step asks for the catalogue, each file
    the landing folder's survey allows is copied once, verified, into
    ``<build_root>/<run_id>/landed/`` (core/landing_folder.py ``take_in``), and
    the sha256 of each copy is recorded on the run (the failure sensor refuses
    a landed file only if it still holds those bytes).  Every step then
    identifies, checks and builds from those copies, and the publish step
    archives them: what is archived is exactly what was checked.

    The catalogue is built once per state of its inputs (the two catalogue
    files and the landed files and their revision sidecars), so the assets of
    one run share one catalogue instead of each building its own."""

    data_dir: str
    accepted_dir: str
    landing_dir: str
    build_root: str | None = None
    _run_id: str | None = PrivateAttr(default=None)
    _instance: dg.DagsterInstance | None = PrivateAttr(default=None)
    _intake: Path | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_id = context.run_id if context.dagster_run is not None else None
        self._instance = context.instance

    def catalogue(self) -> Catalogue:
        return self.full_catalogue()[0]

    def full_catalogue(self) -> tuple[Catalogue, list[Source]]:
        """The catalogue every build reads, and the landing candidates in it."""
        landing = self.intake() or Path(self.landing_dir)
        state = (_stamp(Path(self.data_dir) / "sources.yaml"), _stamp(Path(self.accepted_dir) / ACCEPTED_CATALOGUE),
                 tuple((_stamp(p), _stamp(sidecar_of(p))) for p in landing_files(landing)))
        return _full_catalogue(self.data_dir, self.accepted_dir, str(landing), state)

    def intake(self) -> Path | None:
        """This run's copies of the landed files, made on first use (None outside a run)."""
        if self._intake is None and self._run_id is not None and self.build_root is not None:
            intake = Path(self.build_root) / self._run_id / INTAKE
            rules = landing_rules(Path(self.data_dir), Path(self.accepted_dir))
            copied = take_in(Path(self.landing_dir), intake, rules)
            if self._instance is not None and copied:
                self._instance.add_run_tags(self._run_id, {CHECKED_TAG: checked_tag(copied)})
            intake.mkdir(parents=True, exist_ok=True)
            self._intake = intake
        return self._intake

    @property
    def landing_folder(self) -> Path:
        """Where the data engineer's landed files lie (the originals of the run's copies)."""
        return Path(self.landing_dir)

    def reference_file(self, name: str) -> Path:
        return Path(self.data_dir) / "reference" / name
