"""Writing files so that a reader sees the old file or the new one, never half of one.

Both writers put the bytes in a hidden sibling, flush them to disk, swap the
sibling in with one ``os.replace`` and flush the folder, so a power cut or a
kill at any moment leaves either the old file or the complete new one.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def _partial(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial-{os.getpid()}")


def _swap_in(partial: Path, target: Path) -> None:
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_atomically(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` in one step."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(target)
    try:
        partial.write_bytes(data)
        _swap_in(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def copy_atomically(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` in one step."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(target)
    try:
        shutil.copyfile(source, partial)
        _swap_in(partial, target)
    finally:
        partial.unlink(missing_ok=True)
