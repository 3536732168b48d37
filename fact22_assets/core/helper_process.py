"""A second process for a build: work handed to it runs on the machine's other core while the build goes on.

Dagster runs a build's steps one after another in one process, so one core does nearly all the work.  A
build (`fact22_assets.build`) forks this helper first, before Dagster starts a thread; Great Expectations'
validations (`validation.py`, which imports GX here while the definitions load) run in it, and so does every
other call of a batch shared with `call_all`: the figures of a figure asset, the studies' reports, the census
returns, the trials' casework marts.  Where no helper was started (the tests, the UI's runs) or in a process
forked from the build (the DiD's workers), `submit` says so and the caller does the work itself: the same
function, the same result.
"""
from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

_helper: tuple[int, ProcessPoolExecutor] | None = None  # (the process that started it, the helper)


def start(warm: Callable[[], object] | None = None) -> bool:
    """Fork the helper (once) and have it run ``warm`` now, e.g. an import the build will need.  Call it before
    any thread starts.  False where processes cannot fork."""
    global _helper
    if _helper is not None:
        return True
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    pool.submit(warm or int)  # the process starts now, and warms while its parent goes on
    _helper = (os.getpid(), pool)
    return True


def _died() -> None:
    # The work goes on here, one core slower: say so, or a helper that dies on every build goes unnoticed.
    warnings.warn("the build's helper process died; its work runs in the build process from now on",
                  RuntimeWarning, stacklevel=3)
    stop()


def stop() -> None:
    """Let the helper go (work then runs in this process again)."""
    global _helper
    if _helper is not None:
        _helper[1].shutdown(wait=True, cancel_futures=True)
        _helper = None


def running() -> bool:
    """A helper this process started is there to take work."""
    return _helper is not None and _helper[0] == os.getpid()


def submit(function: Callable, *args, **kwargs) -> Future | None:
    """``function(*args, **kwargs)`` in the helper (arguments and result are pickled); None when this process
    has no helper of its own, or its helper died: then the caller calls ``function`` itself."""
    if not running():
        return None
    try:
        return _helper[1].submit(function, *args, **kwargs)
    except BrokenProcessPool:
        _died()
        return None


def result(future: Future | None, function: Callable, *args, **kwargs):
    """What ``submit(function, *args, **kwargs)`` gave back as ``future``: its result, or (no future, or the
    helper died: killed, out of memory) ``function(*args, **kwargs)`` called here.  An exception the function
    raised in the helper is raised here."""
    if future is not None:
        try:
            return future.result()
        except BrokenProcessPool:
            _died()
    return function(*args, **kwargs)


def call(function: Callable, *args, **kwargs):
    """``function(*args, **kwargs)``: in the helper when there is one, else here; its result either way."""
    return result(submit(function, *args, **kwargs), function, *args, **kwargs)


Call = tuple[Callable, tuple, dict]  # a function, its positional and its keyword arguments


def call_all(calls: Sequence[Call]) -> list:
    """Each call's result, in the calls' order.  With a helper and more than one call, every other call (the
    second, the fourth, ...) runs there while this process runs the rest, and this process runs all of its own
    before it waits for any of the helper's: waiting first for the helper's second call, then running the third
    here, would leave one core idle while the other works.  Without a helper, each runs here in turn.

    A call that raises: the first in the calls' order is raised, as if they had run one by one (the helper's
    later calls are cancelled where they have not started; this process runs none of its own after it)."""
    handed = [submit(function, *args, **kwargs) if index % 2 and len(calls) > 1 else None
              for index, (function, args, kwargs) in enumerate(calls)]
    outcomes: dict[int, tuple[bool, object]] = {}
    for index, ((function, args, kwargs), future) in enumerate(zip(calls, handed)):
        if future is None:
            outcomes[index] = _outcome(function, *args, **kwargs)
            if not outcomes[index][0]:
                break  # the first refusal is at or before this call: nothing after it can change what is raised
    results = []
    for index, ((function, args, kwargs), future) in enumerate(zip(calls, handed)):
        if index not in outcomes:
            outcomes[index] = _outcome(result, future, function, *args, **kwargs)
        succeeded, value = outcomes[index]
        if not succeeded:
            for later in handed[index + 1:]:
                if later is not None:
                    later.cancel()
            raise value
        results.append(value)
    return results


def _outcome(function: Callable, *args, **kwargs) -> tuple[bool, object]:
    try:
        return True, function(*args, **kwargs)
    except Exception as error:  # kept, to be raised in the calls' order
        return False, error


def pid() -> int | None:
    """The helper's process id, once it runs (None without one)."""
    future = submit(os.getpid)
    return None if future is None else future.result()
