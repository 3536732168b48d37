"""The build's helper process (core/helper_process.py): what it validates and draws equals what this process
would, and work reaches it only from the process that started it."""
import subprocess
import sys

from fact22_assets.settings import REPO_ROOT

SCRIPT = """
import os, sys
import pandas as pd
from fact22_assets.core import figures, helper_process
from fact22_assets.defs.report.figures import _drawing
from fact22_assets.core import report
from tests.core.test_figures_report import _events, _inputs, _risk, _service

assert not helper_process.running() and helper_process.submit(os.getpid) is None  # none started: the caller works
assert helper_process.start()
helper = helper_process.pid()
assert helper not in (None, os.getpid())
drawings = [_drawing(figures.event_study, _events(), first_post_year=2014), _drawing(figures.risk_scores, _risk()),
            _drawing(figures.service_case_length, _service())]
print("handed to the helper:", [d.future is not None for d in drawings])
pngs = [d.png() for d in drawings]
local = [figures.event_study(_events(), first_post_year=2014), figures.risk_scores(_risk()),
         figures.service_case_length(_service())]
print("same bytes:", [bytes(a) == bytes(b) for a, b in zip(pngs, local)])
print("same data:", all(a.data.equals(b.data) for a, b in zip(pngs, local)))
rendering = helper_process.submit(report.render_report, _inputs())
# the future's own result: a helper that died unpickling the inputs must not pass as a local render
print("report rendered in the helper:", rendering is not None and rendering.exception(timeout=300) is None,
      rendering.result() == report.render_report(_inputs()), helper_process.pid() == helper)
# a process forked from this one (as the DiD's workers are) has no helper of its own
if os.fork() == 0:
    os._exit(0 if not helper_process.running() and helper_process.submit(os.getpid) is None else 3)
print("forked child works itself:", os.wait()[1] == 0)
helper_process.stop()
print("stopped:", helper_process.pid() is None)
"""


def test_figures_drawn_in_the_helper_are_the_ones_drawn_here():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "handed to the helper: [True, False, True]",
        "same bytes: [True, True, True]",
        "same data: True",
        "report rendered in the helper: True True True",
        "forked child works itself: True",
        "stopped: True",
    ]


def test_the_session_build_kept_its_helper_to_the_end(built_site):
    # Work handed to a helper that died (an argument it cannot unpickle, say) runs in the build instead: the
    # build still succeeds, one core slower, and only this warning on its stderr tells.
    assert "helper process died" not in built_site.stderr, built_site.stderr[-3000:]
