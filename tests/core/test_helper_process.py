"""The build's helper process (core/helper_process.py): what it validates and draws equals what this process
would, and work reaches it only from the process that started it."""
import subprocess
import sys

from fact22_assets.settings import REPO_ROOT

SCRIPT = """
import os, sys
import pandas as pd
from fact22_assets.core import figures, helper_process
from fact22_assets.defs.report.figures import _drawing, _drawings
from fact22_assets.core import report
from tests.core.test_figures_report import _events, _inputs, _risk, _service

assert not helper_process.running() and helper_process.submit(os.getpid) is None  # none started: the caller works
assert helper_process.start()
helper = helper_process.pid()
assert helper not in (None, os.getpid())
drawings = [_drawing(figures.event_study, _events(), first_post_year=2014), _drawing(figures.risk_scores, _risk()),
            _drawing(figures.service_case_length, _service())]
handed, real_submit = [], helper_process.submit
def counted(function, *args, **kwargs):
    future = real_submit(function, *args, **kwargs)
    handed.append((function.__name__, future is not None))
    return future
helper_process.submit = counted
_drawings.draw_all()
helper_process.submit = real_submit
print("handed to the helper:", handed)
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
        "handed to the helper: [('risk_scores', True)]",
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


ORDER = """
import multiprocessing, os
from fact22_assets.core import helper_process

ready = multiprocessing.Event()  # made before the helper forks, so it shares it
def first(): return "first"
def waits(): return ready.wait(timeout=30)  # in the helper: True only once a later call of this batch ran here
def sets(): ready.set(); return "set"
def fail(name): raise ValueError(name)
def ok(): return "ok"
def raised(calls):
    try:
        helper_process.call_all(calls)
    except ValueError as error:
        return str(error)
def batches():
    return ([pid == os.getpid() for pid in helper_process.call_all([(os.getpid, (), {})] * 3)],
            helper_process.call_all([(os.getpid, (), {})]) == [os.getpid()],
            raised([(fail, ("here",), {}), (fail, ("helper",), {})]),
            raised([(ok, (), {}), (fail, ("helper",), {}), (fail, ("here",), {})]),
            helper_process.call_all([]))
assert helper_process.start()
print("with a helper:", helper_process.call_all([(first, (), {}), (waits, (), {}), (sets, (), {})]), *batches())
helper_process.stop()
print("without:", *batches())
"""


def test_a_shared_batch_runs_its_own_calls_before_it_waits_and_raises_in_order():
    # The helper's call waits for an event that only a later call of the same batch, run in this process, sets:
    # it sees it only if this process ran its own calls before it waited for the helper's.
    done = subprocess.run([sys.executable, "-c", ORDER], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "with a helper: ['first', True, 'set'] [True, False, True] True here helper []",
        "without: [True, True, True] True here helper []",
    ]
