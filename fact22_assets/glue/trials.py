"""The configured trials (data/trials.yaml), read once per version of the file."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fact22_assets.core.census.config import Trial, load_trials
from fact22_assets.core.census.pseudonym import read_key
from fact22_assets.settings import pseudonym_key_file, trials_path, warehouse_path


@lru_cache(maxsize=4)
def _parsed(path: str, mtime_ns: int, size: int) -> tuple[Trial, ...]:
    return tuple(load_trials(Path(path)))


def trials() -> tuple[Trial, ...]:
    path = trials_path()
    if not path.is_file():
        return ()
    stat = path.stat()
    return _parsed(str(path), stat.st_mtime_ns, stat.st_size)


def trial(trial_id: str) -> Trial:
    found = {t.trial_id: t for t in trials()}
    if trial_id not in found:
        raise ValueError(f"trial {trial_id!r} is not in {trials_path()}; it lists {sorted(found)}")
    return found[trial_id]


def pseudonym_key() -> tuple[bytes, str]:
    """The one key every trial's children's ids are hashed with, and where it came from: the published
    SYNTHETIC key only when every configured trial is SYNTHETIC (a council's trial needs its own key file)."""
    origins = {t.data_origin for t in trials()}
    return read_key(pseudonym_key_file(), "SYNTHETIC" if origins <= {"SYNTHETIC"} else "COUNCIL",
                    warehouse_path().parent)
