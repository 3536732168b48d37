"""Dagster resources: the catalogue of sources (shipped, accepted, landing)."""
from functools import lru_cache
from pathlib import Path

import dagster as dg

from fact22_assets.core.catalogue import Catalogue, Source
from fact22_assets.core.landing import ACCEPTED_CATALOGUE, landing_files, load_full_catalogue, sidecar_of


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

    The catalogue is built once per state of its inputs (the two catalogue
    files and the landing folder's files and their revision sidecars), so the assets of one run share
    one catalogue instead of each building its own."""

    data_dir: str
    accepted_dir: str
    landing_dir: str

    def catalogue(self) -> Catalogue:
        return self.full_catalogue()[0]

    def full_catalogue(self) -> tuple[Catalogue, list[Source]]:
        """The catalogue every build reads, and the landing candidates in it."""
        landing = Path(self.landing_dir)
        state = (_stamp(Path(self.data_dir) / "sources.yaml"), _stamp(Path(self.accepted_dir) / ACCEPTED_CATALOGUE),
                 tuple((_stamp(p), _stamp(sidecar_of(p))) for p in landing_files(landing)))
        return _full_catalogue(self.data_dir, self.accepted_dir, self.landing_dir, state)

    def reference_file(self, name: str) -> Path:
        return Path(self.data_dir) / "reference" / name
