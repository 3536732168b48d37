"""Census returns read partly in the build's helper process (ingest.read_all, core/helper_process.py): the same
tables as read one by one here, and the first return refused, in order, is the one named."""
import subprocess
import sys

from fact22_assets.settings import REPO_ROOT

SCRIPT = """
import sys, tempfile
from pathlib import Path
from fact22_assets.core import helper_process
from fact22_assets.core.census import ingest
from fact22_assets.core.census.pseudonym import SYNTHETIC_KEY, pseudonymiser
from fact22_assets.settings import data_dir
from tests.core.census.returns_by_hand import child, episode, message, write

tmp = Path(tempfile.mkdtemp())
census_dir, hashed = data_dir() / "census", pseudonymiser(SYNTHETIC_KEY)
good = [write(tmp, message([child(f"{n}A"), child(f"{n}B", episodes=[episode("2018-06-0" + str(n + 1))])]), f"g{n}.xml")
        for n in range(4)]
def to_read(paths):
    return [ingest.ReturnToRead("E06000049", "895", 2019, p, "SYNTHETIC") for p in paths]
def refusal(paths):
    try:
        ingest.read_all(to_read(paths), census_dir, hashed)
    except ingest.CensusReturnError as error:
        return str(error)
bad_in_helper = write(tmp, message([child("X1", episodes=[episode("2018-13-01")])]), "bad1.xml")
bad_here = write(tmp, message([child("X2", episodes=[episode("2018-14-01")])]), "bad2.xml")
here, _ = ingest.read_all(to_read(good), census_dir, hashed)
refused_here = refusal([good[0], bad_in_helper, bad_here])
assert helper_process.start()
futures = []
real_submit = helper_process.submit
def counted(function, *args, **kwargs):
    futures.append(function.__name__)
    return real_submit(function, *args, **kwargs)
helper_process.submit = counted
helped, _ = ingest.read_all(to_read(good), census_dir, hashed)
print("read in the helper:", futures)
print("same tables:", sorted(here) == sorted(helped) and all(here[n].equals(helped[n]) for n in here))
print("same refusal:", refusal([good[0], bad_in_helper, bad_here]) == refused_here, "bad1.xml" in refused_here)
helper_process.stop()
"""


def test_returns_read_in_the_helper_give_the_same_tables_and_refusal():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "read in the helper: ['read_return', 'read_return']",
        "same tables: True",
        "same refusal: True True",
    ]
