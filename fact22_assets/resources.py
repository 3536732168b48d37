"""Dagster resources: the warehouse file and the catalogue of sources."""
from __future__ import annotations

from pathlib import Path

import dagster as dg

from .core.catalogue import Catalogue, load_catalogue


class SourcesResource(dg.ConfigurableResource):
    """The folder of shipped published files and its ``sources.yaml``."""

    data_dir: str

    def catalogue(self) -> Catalogue:
        return load_catalogue(Path(self.data_dir) / "sources.yaml")

    def reference_file(self, name: str) -> Path:
        return Path(self.data_dir) / "reference" / name
