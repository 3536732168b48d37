"""Children's ids are hashed with a key kept outside the warehouse; a council trial without one is refused."""
import hashlib
import hmac
import os

import pytest

from fact22_assets.core.census.pseudonym import (
    SYNTHETIC_KEY,
    PseudonymKeyError,
    key_fingerprint,
    pseudonymiser,
    read_key,
)


def test_the_hash_is_hmac_sha256_of_the_id_under_the_key():
    key = b"0123456789abcdef0123"
    assert pseudonymiser(key)("CE1234567") == hmac.new(key, b"CE1234567", hashlib.sha256).hexdigest()[:20]
    # another key, another pseudonym: without the key an id cannot be looked up
    assert pseudonymiser(b"another key of 16+ bytes")("CE1234567") != pseudonymiser(key)("CE1234567")


def test_synthetic_data_use_the_published_key_without_set_up(tmp_path):
    key, where = read_key(None, "SYNTHETIC", tmp_path / "warehouse")
    assert key == SYNTHETIC_KEY and "SYNTHETIC" in where


def test_council_data_without_a_key_are_refused(tmp_path):
    with pytest.raises(PseudonymKeyError, match="FACT22_PSEUDONYM_KEY_FILE"):
        read_key(None, "COUNCIL", tmp_path / "warehouse")


def _key_file(path, content=b"k" * 32, mode=0o600):
    path.write_bytes(content)
    os.chmod(path, mode)
    return path


def test_a_key_file_outside_the_warehouse_readable_by_its_owner_only(tmp_path):
    path = _key_file(tmp_path / "key")
    key, where = read_key(path, "COUNCIL", tmp_path / "warehouse")
    assert key == b"k" * 32 and key_fingerprint(key) in where and "k" * 32 not in where


@pytest.mark.parametrize(("place", "mode", "content", "words"), [
    ("warehouse/key", 0o600, b"k" * 32, "inside the warehouse folder"),
    ("key", 0o644, b"k" * 32, "readable by others"),
    ("key", 0o600, b"short", "needs at least 16"),
])
def test_a_key_file_that_leaks_or_is_weak_is_refused(tmp_path, place, mode, content, words):
    (tmp_path / "warehouse").mkdir()
    path = _key_file(tmp_path / place, content, mode)
    with pytest.raises(PseudonymKeyError, match=words):
        read_key(path, "COUNCIL", tmp_path / "warehouse")


def test_a_missing_key_file_is_refused(tmp_path):
    with pytest.raises(PseudonymKeyError, match="no such file"):
        read_key(tmp_path / "nowhere", "COUNCIL", tmp_path)
