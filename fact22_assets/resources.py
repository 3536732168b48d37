"""Dagster resources: the catalogue of sources (shipped, accepted, landing)."""
from pathlib import Path

import dagster as dg

from .core.catalogue import Catalogue, Source
from .core.landing import load_full_catalogue


class SourcesResource(dg.ConfigurableResource):
    """The shipped published files and ``sources.yaml``, the files earlier
    refreshes accepted from the landing folder, and what waits there now."""

    data_dir: str
    accepted_dir: str
    landing_dir: str

    def catalogue(self) -> Catalogue:
        return self.full_catalogue()[0]

    def full_catalogue(self) -> tuple[Catalogue, list[Source]]:
        """The catalogue every build reads, and the landing candidates in it."""
        return load_full_catalogue(Path(self.data_dir), Path(self.accepted_dir), Path(self.landing_dir))

    def reference_file(self, name: str) -> Path:
        return Path(self.data_dir) / "reference" / name
