"""Write-audit-publish for the DuckDB warehouse.

Every run holds the refresh lock for its whole length and writes its own
*build* file, ``build/<run_id>/fact22.duckdb``, and its own outputs folder
beside it; only the publish step, after the run's audit passed
(core/audit.py), swaps them in for the *published* file and outputs that
analysts open.  A run that did not publish keeps its build folder for
inspection until the next run starts.  The swap is one ``os.replace`` of a complete copy, so a
reader sees the old file or the new one, never a half-written one, no
reader's connection (read-only or read-write) can block it, and a refresh
killed at any moment leaves the published file as it was.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from fact22_assets.core.census.pseudonym import PseudonymKeyError
from fact22_assets.core.errors import InfrastructureError
from fact22_assets.core.files import copy_atomically
from fact22_assets.core.fingerprint import Fingerprint, code_fingerprint
from fact22_assets.core.locking import RefreshLock, remove_stale_partials
from fact22_assets.core.result_store import ResultStore
from fact22_assets.glue.freshness import current_fingerprint
from fact22_assets.glue.trials import pseudonym_key
from fact22_assets.settings import DUCKDB_CONFIG, REPO_ROOT

OUTPUTS = "outputs"


# DuckDB names the process holding a file's lock, and says when that process only reads.
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
_READER = "would be able to open this database in read-only mode"


def infrastructure_error(error: Exception, what: str) -> InfrastructureError | None:
    """The InfrastructureError an OS or DuckDB error on ``what`` amounts to, or None when it is not one."""
    text = str(error)
    if isinstance(error, duckdb.IOException) and "lock" in text.lower():
        holder = _HOLDER.search(text)
        who = (f"process {holder['pid']} ({Path(holder['program']).name})" if holder else "another process")
        if _READER in text:
            return InfrastructureError(f"{who} has {what} open read-only, and DuckDB lets no process write a file "
                                       "that another has open, even only for reading",
                                       "close that connection (a reader blocks a refresh of this file until it "
                                       "disconnects), then run the refresh again")
        return InfrastructureError(f"{who} has {what} open for writing ({text.splitlines()[0]})",
                                   "close that connection (analysts open the warehouse with read_only=True) "
                                   "and run the refresh again")
    if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return InfrastructureError(f"{what} is not writable ({error.strerror}: {error.filename})",
                                   "give the refresh's user write access to that folder")
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return InfrastructureError(f"the disk holding {what} is full", "free disk space, then run the refresh again")
    if isinstance(error, duckdb.IOException | duckdb.PermissionException):
        return InfrastructureError(f"DuckDB cannot read or write {what} ({text.splitlines()[0]})",
                                   "check the disk and the file's permissions, then run the refresh again")
    return None


@contextmanager
def infrastructure_errors(what: str):
    """Re-raise OS and DuckDB file errors as InfrastructureError."""
    try:
        yield
    except (OSError, duckdb.Error) as error:
        translated = infrastructure_error(error, what)
        if translated is None:
            raise
        raise translated from error


class BuildDuckDBResource(DuckDBResource):
    """The build warehouse of one run.  It takes the refresh lock when the run
    starts (waiting at most ``lock_wait_seconds``) and releases it when the
    run ends; its build file starts as a copy of the published one, so that a
    partial run (one asset, a rerun) builds on what is published."""

    published: str = Field(description="Path of the published warehouse analysts read.")
    build_root: str = Field(description="Folder holding one build folder per run.")
    lock_path: str = Field(description="The lock file that keeps refreshes one at a time.")
    lock_wait_seconds: float = Field(default=300.0, description="How long a run waits for another to finish.")
    _lock: RefreshLock | None = PrivateAttr(default=None)
    _run_dir: Path | None = PrivateAttr(default=None)
    _start: Fingerprint | None = PrivateAttr(default=None)
    _published: bool = PrivateAttr(default=False)
    _database: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        lock = RefreshLock(Path(self.lock_path))
        lock.acquire(self.lock_wait_seconds)
        try:
            with infrastructure_errors(f"the warehouse folder {Path(self.published).parent}"):
                remove_stale_partials(Path(self.published).parent)
                _remove_other_builds(Path(self.build_root))
                run_dir = Path(self.build_root) / (context.run.run_id if context.run else f"pid-{os.getpid()}")
                run_dir.mkdir(parents=True, exist_ok=True)
            # What this run reads, fixed now: the publish step refuses if it changed meanwhile.
            self._start = current_fingerprint()
        except BaseException:
            lock.release()
            raise
        self._lock, self._run_dir = lock, run_dir

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()
        # A run that published leaves nothing behind; one that did not (a refused refresh, a few assets
        # materialised in the UI) keeps its build folder for inspection until the next run starts.
        if self._run_dir is not None and self._published:
            shutil.rmtree(self._run_dir, ignore_errors=True)
        if self._lock is not None:
            self._lock.release()

    def mark_published(self) -> None:
        """Called by the publish step once the build is the published file: the build folder may go."""
        self._published = True

    @property
    def build_file(self) -> Path:
        # Outside a run (a resource built by hand) there is no run folder: build beside the published file.
        folder = self._run_dir or Path(self.build_root) / "adhoc"
        return folder / Path(self.published).name

    @property
    def outputs_dir(self) -> Path:
        """Figures and the report of this run, moved into place only by the publish step."""
        return self.build_file.parent / OUTPUTS

    @property
    def start_fingerprint(self) -> Fingerprint | None:
        return self._start

    def kept_results(self, kind: str) -> tuple[ResultStore, str]:
        """The store of ``kind``'s results (core/result_store.py), in the warehouse folder's ``cache/<kind>/``
        beside the published file, not in it; and the code fingerprint the run started with (what the
        publication records), which every key names."""
        start = self._start
        code = start.code if start is not None else code_fingerprint(REPO_ROOT)
        return ResultStore(Path(self.published).parent / "cache" / kind), code

    @contextmanager
    def get_connection(self):
        """A connection to the build file.  In a run the file is opened once, on first use, and each caller
        gets a cursor of that one database (opening the file per step cost about 180 opens a build); outside
        a run, a connection of its own."""
        build = self.build_file
        with infrastructure_errors(f"the build file {build}"):
            if self._database is None:
                if not build.exists():
                    build.parent.mkdir(parents=True, exist_ok=True)
                    published = Path(self.published)
                    if published.exists():
                        # A plain read of the published file: no DuckDB lock, so no analyst's connection can block it.
                        copy_atomically(published, build)
                database = duckdb.connect(str(build), config=self.connection_config)
                if self._run_dir is not None:
                    self._database = database
            con = self._database.cursor() if self._database is not None else database
        try:
            yield con
        finally:
            con.close()

    def close(self) -> None:
        """Close the run's build database (everything written reaches the file): before it is published."""
        if self._database is not None:
            self._database.close()
            self._database = None


def _remove_other_builds(root: Path) -> None:
    """Build folders of earlier runs: kept for inspection (a run that did not
    publish) or left by a killed one.  The lock is ours, so no other run is
    using them."""
    if root.exists():
        for folder in root.iterdir():
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
            else:
                folder.unlink(missing_ok=True)


class RestrictedDuckDBResource(DuckDBResource):
    """The case-level file: owner-only (0600 in a 0700 folder), or readable
    by the folder's group when ``group_read`` (0640 in 0750; README), and a
    reader holding it is reported as what it is.  In a run the file is opened
    once, when the run starts, and each caller gets a cursor of that one
    database: opening it per use (about 40 opens a build, each close a
    checkpoint) cost a build 2 s of CPU; outside a run, a connection of its own."""

    group_read: bool = Field(default=False, description="Let the restricted folder's group read the file.")
    _database: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Before anything is built, not at the first casework step: a process holding the file open (an
        # evaluator's read-only connection is enough) stops the run at once, saying who holds it and how.
        database = self._open()
        # The key the case-level rows are pseudonymised with, too: a missing key, or one others can read, is
        # the machine's configuration, not the landed data's fault (their files stay for the retry).
        try:
            pseudonym_key()
        except PseudonymKeyError as error:
            database.close()
            raise InfrastructureError(f"the pseudonymisation key cannot be used: {error}",
                                      "fix the key file, then run the refresh again") from error
        self._database = database

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        # Closing checkpoints the file: everything the run wrote is in it, and no other process is kept out.
        if self._database is not None:
            self._database.close()
            self._database = None

    def _open(self) -> duckdb.DuckDBPyConnection:
        path = Path(self.database)
        folder_mode, file_mode = (0o2750, 0o640) if self.group_read else (0o700, 0o600)
        with infrastructure_errors(f"the restricted case-level file {path}"):
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path.parent, folder_mode)
            con = duckdb.connect(str(path), config=self.connection_config)
        try:
            os.chmod(path, file_mode)
        except BaseException:
            con.close()
            raise
        return con

    @contextmanager
    def get_connection(self):
        con = self._database.cursor() if self._database is not None else self._open()
        try:
            yield con
        finally:
            con.close()


def publish_file(build: Path, published: Path) -> None:
    """Checkpoint the build (so the file holds everything) and swap it in."""
    with infrastructure_errors(f"the published warehouse {published}"):
        con = duckdb.connect(str(build), config=DUCKDB_CONFIG)
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()
        published.parent.mkdir(parents=True, exist_ok=True)
        copy_atomically(build, published)


def publish_outputs(built: Path, published: Path) -> list[Path]:
    """Move each file of the run's outputs folder over its published
    counterpart (one ``os.replace`` each)."""
    moved = []
    if not built.exists():
        return moved
    with infrastructure_errors(f"the outputs folder {published}"):
        for path in sorted(p for p in built.rglob("*") if p.is_file()):
            target = published / path.relative_to(built)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            moved.append(target)
    return moved


def published_location(resource: DuckDBResource, path: Path) -> tuple[Path, str]:
    """Where a file an asset wrote into its run's outputs lies once published, and the address a browser
    opens it at (`make ui` serves the published outputs folder): the UI links there, never into a run's
    build folder, which publication empties."""
    from fact22_assets.settings import outputs_dir, outputs_url

    relative = Path(path).relative_to(outputs_of(resource))
    return outputs_dir() / relative, f"{outputs_url()}/{quote(relative.as_posix())}"


def outputs_of(resource: DuckDBResource) -> Path:
    """Where an asset writes its files: the run's outputs folder under a
    build, the published outputs folder under a plain DuckDB resource (a
    figure materialised by hand into a scratch file)."""
    from fact22_assets.settings import outputs_dir

    return resource.outputs_dir if isinstance(resource, BuildDuckDBResource) else outputs_dir()
