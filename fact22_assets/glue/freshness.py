"""Is there anything to refresh?  The fingerprint of what a refresh would
read now, compared with the manifest the last publication left beside the
published file.  No Dagster import: ``python -m fact22_assets.build`` asks
this before loading the definitions, so a refresh with nothing to do costs
well under a second."""
from __future__ import annotations

from fact22_assets.core.catalogue import ACCEPTED_CATALOGUE
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
