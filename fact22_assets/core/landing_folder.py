"""What lies in the landing folder, before anything is read as data.

Every entry is classified from ``lstat`` and, for a regular file, its first
64 KiB: a regular file that may be a release part is one to identify
(core/landing.py); anything else is never opened as data.  Refused (moved to
``rejected/`` with a reason): a symbolic link (it would read a file outside
the folder), anything not a regular file (a FIFO would block the reader), a
file far larger than any part the catalogue knows or not text at all (a
300 MB file once kept a sensor tick busy for minutes at gigabytes of memory;
now it is refused from its size alone).  Set aside (moved to ``set_aside/``
with a note, not refused): a file of a known release download that the
warehouse does not use (DfE's c3 or d5 beside b1, c1 and d3), and a file whose
bytes are already published.  Ignored (left where they are, named in the
sensor's reason, never read): a sub-folder and a revision sidecar with no
file beside it.  None of these is an input of a refresh, so none triggers a
rebuild.

A run reads none of the landing files in place: ``take_in`` copies each once
into the run's own folder, hashing as it copies and checking the copy's
hash, and the run identifies, checks, builds from and archives that copy.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .catalogue import ACCEPTED_CATALOGUE, load_catalogue, read_yaml
from .errors import InfrastructureError

REJECTED = "rejected"
SET_ASIDE = "set_aside"
REVISION_SIDECAR = ".revision.yaml"
REASON_SUFFIX = ".reason.txt"
NOTE_SUFFIX = ".note.txt"
# A landed file this many times larger than the largest file the catalogue knows is no release part.
SIZE_FACTOR = 10
SNIFF_BYTES = 64 * 1024
_WORKBOOK_MAGIC = {".xlsx": b"PK\x03\x04", ".xls": b"\xd0\xcf\x11\xe0"}
# The columns every Explore Education Statistics file opens with.
_EES_HEADER = ("time_period", "time_identifier", "geographic_level")
_PART = re.compile(r"^(?P<part>[a-z]\d+)_")


@dataclass(frozen=True)
class LandingRules:
    """What the catalogue says a landed file may be: its largest known file, and the parts of known
    release downloads the warehouse does not use (``release_parts: … unused:`` in data/sources.yaml)."""

    largest_known: int
    unused_parts: dict[str, str]   # part ("c3") -> the release family it belongs to

    @property
    def size_limit(self) -> int:
        return self.largest_known * SIZE_FACTOR


@dataclass(frozen=True)
class LandingSurvey:
    """The landing folder's entries by what may be done with them (paths in the folder)."""

    files: tuple[Path, ...]                    # regular files to identify: the only ones ever read as data
    refused: tuple[tuple[Path, str], ...]      # refused before reading, with the reason
    set_aside: tuple[tuple[Path, str], ...]    # parts of a known release the warehouse does not use, with a note
    ignored: tuple[tuple[Path, str], ...]      # left where they are, never read

    @property
    def empty(self) -> bool:
        return not (self.files or self.refused or self.set_aside or self.ignored)


def rules_for(sources: Iterable, document: dict) -> LandingRules:
    """The rules for a catalogue (its sources, shipped and accepted, and the shipped document)."""
    sizes = [s.path.stat().st_size for s in sources if s.path.is_file()]
    unused = {str(part): unit["family"] for unit in document.get("release_parts") or []
              for part in unit.get("unused") or []}
    return LandingRules(largest_known=max(sizes, default=1 << 20), unused_parts=unused)


def landing_rules(data_dir: Path, accepted_dir: Path) -> LandingRules:
    """The rules from the shipped catalogue and the accepted one (the sizes of the files they name)."""
    shipped = data_dir / "sources.yaml"
    document = read_yaml(shipped)
    sources = list(load_catalogue(shipped, document=document).sources)
    accepted = accepted_dir / ACCEPTED_CATALOGUE
    if accepted.exists():
        sources += load_catalogue(accepted, data_root=accepted_dir.parent).sources
    return rules_for(sources, document)


def survey(folder: Path, rules: LandingRules | None = None) -> LandingSurvey:
    """Classify the folder's entries.  Without ``rules`` only from ``lstat`` (cheap: nothing is opened);
    with them, regular files are also held to their size and sniffed for text."""
    files, refused, set_aside, ignored = [], [], [], []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return LandingSurvey((), (), (), ())
    names = {e.name for e in entries}
    for entry in entries:
        path, name = Path(entry.path), entry.name
        if name.startswith(".") or name.endswith((REASON_SUFFIX, NOTE_SUFFIX)):
            continue  # partial copies, the retry marker, reasons and notes: the refresh's own
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            refused.append((path, f"landing/{name}: a symbolic link (to {os.readlink(path)}), not a file: the "
                                  "refresh reads only files landed in the folder itself; land a copy of the file"))
        elif stat.S_ISDIR(mode):
            if name not in (REJECTED, SET_ASIDE):
                ignored.append((path, f"landing/{name}/ is a folder: not read (land release files in the landing "
                                      "folder itself)"))
        elif not stat.S_ISREG(mode):
            refused.append((path, f"landing/{name}: not a regular file ({_kind(mode)}): never read"))
        elif name.endswith(REVISION_SIDECAR):
            if name.removesuffix(REVISION_SIDECAR) not in names:
                ignored.append((path, f"landing/{name} declares a revision of a file that is not in the landing "
                                      "folder: ignored until the file lands beside it"))
        elif rules is None:
            files.append(path)
        else:
            problem, part = _inspect(path, entry.stat(follow_symlinks=False).st_size, rules)
            if problem:
                refused.append((path, problem))
            elif part:
                set_aside.append((path, part))
            else:
                files.append(path)
    return LandingSurvey(tuple(files), tuple(refused), tuple(set_aside), tuple(ignored))


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device")):
        if test(mode):
            return kind
    return "not a file"


def _inspect(path: Path, size: int, rules: LandingRules) -> tuple[str | None, str | None]:
    """(why it is refused, or None; the note setting it aside, or None), from its size and first bytes."""
    display = f"landing/{path.name}"
    if size > rules.size_limit:
        return (f"{display}: {size / 1e6:,.1f} MB, more than {SIZE_FACTOR} times the largest file the catalogue "
                f"knows ({rules.largest_known / 1e6:,.1f} MB): not a release file, refused without reading it"), None
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    magic = _WORKBOOK_MAGIC.get(path.suffix.lower())
    if magic is not None:
        if not head.startswith(magic):
            return f"{display}: named like an Excel workbook but is not one (it does not start as one)", None
        return None, None
    binary = head.find(b"\x00")
    if binary >= 0:
        row = head[:binary].count(b"\n") + 1
        return (f"{display}, row {row}: not a text file (byte {binary} is a NUL byte): a release part is a CSV "
                "file or an Excel workbook"), None
    first_line = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    header = [cell.strip().strip('"') for cell in first_line.split(",")]
    named = _PART.match(path.name)
    if named and named.group("part") in rules.unused_parts and set(_EES_HEADER) <= set(header):
        part = named.group("part")
        return None, (f"landing/{path.name} is part {part} of a {rules.unused_parts[part]} release download, which "
                      "the warehouse does not use: set aside, not refused (data/sources.yaml lists the parts it "
                      "reads; add a layout there to read this one)")
    return None, None


def move_with_note(path: Path, folder: Path, text: str, suffix: str, now: datetime | None = None) -> Path:
    """Move ``path`` (a file, a link or a pipe: never followed) into ``folder`` as ``<UTC time>-<name>``,
    with ``text`` beside it in ``<that name><suffix>``; a name already there gets a number, never overwritten.
    A revision sidecar beside it goes with it."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    target, n = folder / f"{stamp}-{path.name}", 1
    while os.path.lexists(target) or target.with_name(target.name + suffix).exists():
        n += 1
        target = folder / f"{stamp}-{n}-{path.name}"
    os.replace(path, target)
    sidecar = path.with_name(path.name + REVISION_SIDECAR)
    if os.path.lexists(sidecar):
        os.replace(sidecar, target.with_name(target.name + REVISION_SIDECAR))
    target.with_name(target.name + suffix).write_text(text, encoding="utf-8")
    return target


def tidy(folder: Path, found: LandingSurvey, now: datetime | None = None) -> list[str]:
    """Refuse what may not be read and set aside what is not used; one line for each, and for each entry
    left alone, to say in the sensor's reason and the terminal."""
    said = []
    for path, reason in found.refused:
        if os.path.lexists(path):
            moved = move_with_note(path, folder / REJECTED, "Refused before reading; nothing was built or "
                                   f"published.\n\n{reason}\n", REASON_SUFFIX, now)
            said.append(f"refused {reason} (moved to {REJECTED}/{moved.name})")
    for path, note in found.set_aside:
        if path.exists():
            moved = move_with_note(path, folder / SET_ASIDE, f"{note}\n", NOTE_SUFFIX, now)
            said.append(f"{note} (moved to {SET_ASIDE}/{moved.name})")
    said += [why for _, why in found.ignored]
    return said


def set_aside_published(folder: Path, paths: Iterable[Path], now: datetime | None = None) -> list[str]:
    """Landed files whose bytes are already published: nothing to do; set aside, not left to linger."""
    said = []
    for path in paths:
        if path.exists():
            note = f"landing/{path.name}: its bytes are already published (the same file is catalogued)"
            moved = move_with_note(path, folder / SET_ASIDE, f"{note}\n", NOTE_SUFFIX, now)
            said.append(f"{note}; set aside (moved to {SET_ASIDE}/{moved.name})")
    return said


def copy_verified(source: Path, target: Path, expected: str | None = None) -> str:
    """Copy ``source`` to ``target`` (written whole, fsync'd, swapped in), hashing the bytes as they are read,
    then hash the copy again from disk: the two must agree (and equal ``expected`` when given), or the copy
    is removed and an InfrastructureError says so.  Returns the sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    digest = hashlib.sha256()
    # Never through a link, never blocking on a pipe: a file swapped for one since the survey is not copied.
    try:
        descriptor = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise FileNotFoundError(f"{source} is now a symbolic link") from None
        raise
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise FileNotFoundError(f"{source} is no longer a regular file")
    try:
        with open(descriptor, "rb") as reader, open(partial, "wb") as writer:
            for block in iter(lambda: reader.read(1 << 20), b""):
                digest.update(block)
                writer.write(block)
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    read, written = digest.hexdigest(), sha256_of(target)
    wanted = expected or read
    if not (read == written == wanted):
        target.unlink(missing_ok=True)
        raise InfrastructureError(f"the copy of {source.name} does not hold the bytes that were checked (sha256 read "
                                  f"{read[:12]}, written {written[:12]}, checked {wanted[:12]})",
                                  "check the disk; nothing was filed, and the next refresh copies it again")
    return written


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def take_in(folder: Path, intake: Path, rules: LandingRules) -> dict[str, str]:
    """Copy each landed file that may be read (and its revision sidecar) once into ``intake``, verified;
    returns name -> sha256 of what was copied.  A file that vanishes meanwhile is skipped."""
    copied = {}
    for path in survey(folder, rules).files:
        for each in (path, path.with_name(path.name + REVISION_SIDECAR)):
            try:
                copied[each.name] = copy_verified(each, intake / each.name)
            except FileNotFoundError:
                continue
    return copied
