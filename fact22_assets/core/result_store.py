"""Results kept by the digest of everything they depend on, so a build computes again only what changed.

A key names the code, the libraries and the inputs of a pure computation: a stored result is right whichever
run stored it (one that failed later, one never published), and nothing is compared with the previous
publication.  The DiD step keeps its jobs' estimates here (`did_reuse`), the figure assets their drawings
(`defs/report/figures.py`), each in its own folder under the warehouse folder's ``cache/``.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import platform
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

SUFFIX = ".pkl"


def library_versions(names: Iterable[str]) -> str:
    """Python, the machine and each library's version (a new version may move a result)."""
    found = []
    for name in names:
        try:
            found.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name}=absent")
    return f"python={platform.python_version()} {platform.machine()} " + " ".join(found)


def call_digest(function: Callable, args: tuple, kwargs: dict) -> str:
    """sha256 of a call: the function's module and name and its arguments, pickled (frames included).  Equal
    bytes, equal call; two equal frames built differently may pickle apart, which costs a computation, never
    a wrong result."""
    return hashlib.sha256(pickle.dumps((function.__module__, function.__qualname__, args, sorted(kwargs.items())),
                                       protocol=5)).hexdigest()


class ResultStore:
    """Results by key, one file each in ``folder`` (written whole: a temporary file renamed)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    def get(self, key: str) -> Any | None:
        try:
            with open(self._path(key), "rb") as file:
                stored_key, value = pickle.load(file)
        except Exception:  # absent, half-written by a killed writer of another kind, unreadable: computed again
            return None
        return value if stored_key == key else None

    def put(self, key: str, value: Any) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{key}.{os.getpid()}.tmp"
        with open(temporary, "wb") as file:
            pickle.dump((key, value), file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, self._path(key))

    def keep_only(self, keys: Iterable[str]) -> None:
        """Remove every stored result but ``keys`` (the current run's): the store holds one build's results."""
        kept = {f"{key}{SUFFIX}" for key in keys}
        if not self.folder.exists():
            return
        for path in self.folder.iterdir():
            if path.name not in kept:
                path.unlink(missing_ok=True)
