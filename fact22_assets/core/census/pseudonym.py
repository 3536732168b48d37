"""Children's ids pseudonymised at ingest with a keyed hash whose key lives outside the warehouse.

The return's LAchildID (and the randomisation list's) becomes
``child_key`` = the first 20 hex digits of HMAC-SHA256(key, LAchildID). Without
the key nobody can go from a child's council id to its rows, or test a guess;
with it, the council (and only the council) can. The key is read from the file
``FACT22_PSEUDONYM_KEY_FILE`` names: a file that only its owner may read, kept
outside the warehouse folder, so that a copy of the warehouse (or of its
restricted file) never carries it.

SYNTHETIC trials need no key: their ids are invented, and the published
`SYNTHETIC_KEY` below hashes them, so that the shipped build runs without any
set-up. A COUNCIL trial without a key is refused.
"""
from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

KEY_DIGITS = 20
SYNTHETIC_KEY = b"fact22-warehouse: key for SYNTHETIC ids only, published on purpose"
MIN_KEY_BYTES = 16


class PseudonymKeyError(ValueError):
    pass


def pseudonymiser(key: bytes) -> Callable[[str], str]:
    """LAchildID -> child_key under ``key``: HMAC-SHA256 (RFC 2104) with the keyed inner and outer hashes prepared
    once, since a national return hashes 650,000 ids (the same digests as ``hmac.new``, a tenth of the time)."""
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def hashed(child_id: str) -> str:
        first = inner.copy()
        first.update(str(child_id).strip().encode("utf-8"))
        second = outer.copy()
        second.update(first.digest())
        return second.hexdigest()[:KEY_DIGITS]

    return hashed


def key_fingerprint(key: bytes) -> str:
    """A short digest that says which key was used (two builds with the same key link), never the key."""
    return hashlib.sha256(b"fingerprint\0" + key).hexdigest()[:12]


def read_key(key_file: Path | None, data_origin: str, warehouse_dir: Path) -> tuple[bytes, str]:
    """The key and where it came from. SYNTHETIC data without a key file use SYNTHETIC_KEY; COUNCIL data must
    have one: a regular file of at least 16 bytes, readable by its owner only, outside the warehouse folder."""
    if key_file is None:
        if data_origin == "SYNTHETIC":
            return SYNTHETIC_KEY, "the published key for SYNTHETIC ids (no FACT22_PSEUDONYM_KEY_FILE set)"
        raise PseudonymKeyError(
            "COUNCIL census data need a pseudonymisation key: set FACT22_PSEUDONYM_KEY_FILE to a file outside the "
            "warehouse folder holding at least 16 random bytes, readable by you only (e.g. "
            "`head -c 32 /dev/urandom > ~/.fact22_key && chmod 600 ~/.fact22_key`)")
    key_file = Path(key_file)
    if not key_file.is_file():
        raise PseudonymKeyError(f"FACT22_PSEUDONYM_KEY_FILE={key_file}: no such file")
    resolved, warehouse = key_file.resolve(), Path(warehouse_dir).resolve()
    if resolved == warehouse or warehouse in resolved.parents:
        raise PseudonymKeyError(f"FACT22_PSEUDONYM_KEY_FILE={key_file} lies inside the warehouse folder {warehouse}: "
                                "keep the key where a copy of the warehouse does not take it along")
    mode = stat.S_IMODE(os.stat(key_file).st_mode)
    if mode & 0o077:
        raise PseudonymKeyError(f"FACT22_PSEUDONYM_KEY_FILE={key_file} is readable by others (mode {mode:o}): "
                                f"chmod 600 {key_file}")
    key = key_file.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(f"FACT22_PSEUDONYM_KEY_FILE={key_file} holds {len(key)} bytes; a key needs at "
                                f"least {MIN_KEY_BYTES}")
    return key, f"FACT22_PSEUDONYM_KEY_FILE (fingerprint {key_fingerprint(key)})"
