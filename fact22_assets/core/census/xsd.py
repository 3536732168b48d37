"""DfE's children-in-need census schemas: which XSD validates which collection year.

data/census/schemas.yaml lists each shipped XSD with its sha256 and the
collection years it serves; a schema whose bytes differ from the catalogue is
refused, as a published file is. Compiled schemas are cached per file.

Besides the schema as DfE's transcription gives it (one global element,
``Message``), `locating_schema` compiles the same file with ``Child`` and
``Header`` also declared global, in memory: validating one child at a time
names the child, line and element a streaming validation of the whole file
(which libxml2 reports without a line) could not.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

XS = "{http://www.w3.org/2001/XMLSchema}"
CATALOGUE = "schemas.yaml"


class SchemaCatalogueError(ValueError):
    pass


@dataclass(frozen=True)
class SchemaEntry:
    path: Path
    sha256: str
    collection_years: tuple[int, ...]

    @property
    def name(self) -> str:
        return self.path.name


def load_catalogue(census_dir: Path) -> dict[int, SchemaEntry]:
    """Collection year -> the schema that validates its return."""
    document = yaml.safe_load((Path(census_dir) / CATALOGUE).read_text(encoding="utf-8")) or {}
    by_year: dict[int, SchemaEntry] = {}
    for item in document.get("schemas") or []:
        entry = SchemaEntry(Path(census_dir) / item["file"], str(item["sha256"]),
                            tuple(int(y) for y in item["collection_years"]))
        for year in entry.collection_years:
            if year in by_year:
                raise SchemaCatalogueError(f"{CATALOGUE}: collection year {year} has two schemas")
            by_year[year] = entry
    return by_year


def schema_for(census_dir: Path, collection_year: int) -> SchemaEntry:
    catalogue = load_catalogue(census_dir)
    if collection_year not in catalogue:
        raise SchemaCatalogueError(f"no census schema for collection year {collection_year} in "
                                   f"{Path(census_dir) / CATALOGUE} (it has {sorted(catalogue)})")
    return catalogue[collection_year]


def _checked_bytes(entry: SchemaEntry) -> bytes:
    data = entry.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise SchemaCatalogueError(f"{entry.path}: sha256 {digest} differs from {CATALOGUE} ({entry.sha256}); the "
                                   "schema is not the file the catalogue describes")
    return data


@lru_cache(maxsize=16)
def _compiled(path: str, sha256: str, locating: bool):
    from lxml import etree

    document = etree.fromstring(_checked_bytes(SchemaEntry(Path(path), sha256, ())))
    if locating:
        for name, type_name in (("Child", "childtype"), ("Header", "headertype")):
            etree.SubElement(document, f"{XS}element", name=name, type=type_name)
    return etree.XMLSchema(document)


def xml_schema(entry: SchemaEntry):
    """The schema as shipped (root ``Message``), compiled once."""
    return _compiled(str(entry.path), entry.sha256, False)


def locating_schema(entry: SchemaEntry):
    """The same schema with ``Child`` and ``Header`` global too: validates one child at a time."""
    return _compiled(str(entry.path), entry.sha256, True)
