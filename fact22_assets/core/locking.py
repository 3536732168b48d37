"""One refresh at a time: an exclusive ``flock`` on a lock file beside the
warehouse.  The kernel drops the lock when its holder exits, even by
``kill -9``, so a dead refresh never leaves the next one stuck."""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from .errors import InfrastructureError


class RefreshLock:
    """Held from ``acquire`` to ``release``; ``acquire`` waits at most ``wait_seconds``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, wait_seconds: float, poll_seconds: float = 0.2) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise InfrastructureError(f"cannot create the refresh lock {self.path} ({error.strerror})",
                                      f"make {self.path.parent} writable by the refresh's user and free disk "
                                      "space there") from error
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise InfrastructureError(
                        f"another refresh ({holder}) has held {self.path} for more than {wait_seconds:g} s",
                        "let that refresh finish (or stop it), then start this one again; raise "
                        "FACT22_LOCK_WAIT_SECONDS to wait longer") from None
                time.sleep(poll_seconds)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 64, 0).decode(errors="replace").strip() or "holder unknown"
    except OSError:
        return "holder unknown"


def remove_stale_partials(folder: Path) -> list[Path]:
    """Delete the half-copied ``.<name>.partial-<pid>`` files (core/files.py)
    of writers that no longer run: a copy killed mid-way leaves one behind."""
    removed = []
    if not folder.exists():
        return removed
    for path in folder.glob(".*.partial-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
