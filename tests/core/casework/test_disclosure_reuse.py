"""The disclosure checks work the attacks on every mart out once per content of the marts and reuse the
findings (checks.recoverable_in_published): reused for the same cells read again, worked out again when a cell
changes, and always what the attack itself finds."""
import pandas as pd

from fact22_assets.core.casework import disclosure
from fact22_assets.defs.casework import checks
from tests.core.casework.test_disclosure import service

TABLE = "marts.service_summary"


def _counting(monkeypatch) -> list[int]:
    calls = []
    real = disclosure.attack

    def counted(marts):
        calls.append(1)
        return real(marts)

    monkeypatch.setattr(disclosure, "attack", counted)
    checks._ATTACKED.clear()
    return calls


def test_the_same_cells_read_again_reuse_the_findings(monkeypatch):
    calls = _counting(monkeypatch)
    first = checks.recoverable_in_published({TABLE: service()}, TABLE, None, across=False)
    again = checks.recoverable_in_published({TABLE: service()}, TABLE, None, across=False)  # a new read, same cells
    assert len(calls) == 1
    pd.testing.assert_frame_equal(first, again)
    assert list(first["column"]) == ["n_families"] and list(first["route"]) == ["share x n_total"]


def test_a_changed_cell_is_attacked_again(monkeypatch):
    calls = _counting(monkeypatch)
    assert len(checks.recoverable_in_published({TABLE: service()}, TABLE, None, across=False)) == 1
    # the share of the withheld row gone (NULL) and the others' too: now only totals minus parts can recover it
    changed = service(shares=False)
    found = checks.recoverable_in_published({TABLE: changed}, TABLE, None, across=False)
    assert len(calls) == 2
    assert list(found["route"]) == ["totals minus parts: the locations add to the families"]
    # one published count more withheld: nothing is recoverable any more, and the check says so
    safe = service(hold=("Macclesfield", "Unknown"), shares=False)
    assert checks.recoverable_in_published({TABLE: safe}, TABLE, None, across=False).empty
    assert len(calls) == 3


def test_the_key_tells_apart_what_the_attack_tells_apart():
    base = service()
    assert checks.marts_content({TABLE: base}) == checks.marts_content({TABLE: base.copy()})
    nudged = base.copy()
    nudged.loc[0, "share"] += 1e-12
    assert checks.marts_content({TABLE: nudged}) != checks.marts_content({TABLE: base})
    retyped = base.astype({"n_total": "float64"})
    assert checks.marts_content({TABLE: retyped}) != checks.marts_content({TABLE: base})
    reordered = base.iloc[::-1]
    assert checks.marts_content({TABLE: reordered}) != checks.marts_content({TABLE: base})
