"""What a publication was built from, reduced to digests, so that a refresh
can tell before building anything whether there is anything to do.

Inputs are named where their place matters (``data/<path>``: a file in the
shipped folder is read only if the catalogue names it) and by content alone
where it does not (``landed/<sha256>``: a landed file moved into the
accepted store after publication is the same input).  The code is compared by the bytes of the package and its SQL, so an
uncommitted edit counts as new code even when the git commit is unchanged.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .catalogue import file_sha256

CODE_PATTERNS = ("fact22_assets/**/*.py", "fact22_assets/**/*.js", "fact22_assets/**/*.css", "sql/**/*.sql",
                 "pyproject.toml")


def code_fingerprint(repo_root: Path) -> str:
    digest = hashlib.sha256()
    for pattern in CODE_PATTERNS:
        for path in sorted(repo_root.glob(pattern)):
            if "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(repo_root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def input_files(folders: Iterable[Path], files: Iterable[Path] = ()) -> list[Path]:
    """Every file under ``folders`` (hidden files, refused files and reasons
    excepted) plus ``files`` that exist."""
    found = set()
    for folder in folders:
        if folder.exists():
            found |= {p for p in folder.rglob("*") if p.is_file() and not _ignored(p.relative_to(folder))}
    found |= {Path(f) for f in files if Path(f).is_file()}
    return sorted(found)


def _ignored(relative: Path) -> bool:
    return (any(part.startswith(".") or part == "rejected" or part == "__pycache__" for part in relative.parts)
            or relative.name.endswith(".reason.txt"))


def by_place(paths: Iterable[Path], root: Path, label: str) -> dict[str, str]:
    """``label/<path under root>`` -> sha256."""
    return {f"{label}/{p.relative_to(root).as_posix()}": file_sha256(p) for p in paths}


def by_content(paths: Iterable[Path], label: str) -> dict[str, str]:
    """``label/<sha256>`` -> sha256: where the file lies does not matter."""
    return {f"{label}/{digest}": digest for digest in (file_sha256(p) for p in paths)}


def combined(digests: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(set(digests))).encode()).hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    inputs: dict[str, str]   # input's name -> sha256
    code: str

    @property
    def inputs_digest(self) -> str:
        return combined(f"{name}\0{digest}" for name, digest in self.inputs.items())

    def to_json(self, **extra) -> str:
        return json.dumps({"code_fingerprint": self.code, "inputs_digest": self.inputs_digest,
                           "inputs": self.inputs, **extra}, indent=1, sort_keys=True)


def read_manifest(path: Path) -> dict | None:
    """The manifest the last publication wrote beside the published file, or None."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def unchanged(current: Fingerprint, manifest: dict | None) -> tuple[bool, str]:
    """Whether ``current`` equals what the manifest says was published, and why not."""
    if not manifest:
        return False, "no publication manifest (never published, or by an older version)"
    if manifest.get("code_fingerprint") != current.code:
        return False, "the code changed since the last publication"
    published = manifest.get("inputs") or {}
    changed = sorted(name for name in set(current.inputs) | set(published)
                     if current.inputs.get(name) != published.get(name))
    if changed:
        return False, f"{len(changed)} input file(s) new, changed or removed, e.g. {', '.join(changed[:3])}"
    return True, "sources (sha256) and code equal the published ones"
