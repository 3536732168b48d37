"""Run independent jobs in forked worker processes, in order, or serially when that is not possible.

The DiD asset's (study, vintage, outcome) evaluations do not depend on each
other, and each is deterministic, so running them in two processes gives the
same tables as running them one after another: `run_jobs` returns the
results in the order of the jobs whatever the order they finish in.

Workers are forked, so they start at once with everything already imported
and the jobs' inputs already in memory (nothing but the job's position and
its result crosses a pipe). Serial instead when only one worker is asked
for (FACT22_DID_WORKERS=1, or one CPU), when this platform cannot fork, or
inside a daemonic process (which may not have children); if the pool itself
breaks (a worker killed), the jobs not yet done run serially.  An exception
raised by a job is raised here, as serially.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

WORKERS_VARIABLE = "FACT22_DID_WORKERS"
DEFAULT_WORKERS = 2

# The jobs of the current `run_jobs` call, read by forked workers (inherited, never pickled).
_JOBS: Sequence[Callable[[], Any]] = ()


def workers() -> int:
    """FACT22_DID_WORKERS if set, else 2 or the number of CPUs if fewer."""
    configured = os.environ.get(WORKERS_VARIABLE, "").strip()
    if configured:
        try:
            return max(1, int(configured))
        except ValueError as error:
            raise ValueError(f"{WORKERS_VARIABLE} must be a whole number of worker processes; got {configured!r}") \
                from error
    return max(1, min(DEFAULT_WORKERS, os.cpu_count() or 1))


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def _run(index: int) -> Any:
    return _JOBS[index]()


def run_jobs(jobs: Sequence[Callable[[], Any]], n_workers: int | None = None,
             order: Sequence[int] | None = None) -> list[Any]:
    """Each job's result, in the order of ``jobs``.

    ``order``: the positions in the order to start them (longest first keeps
    both workers busy to the end); default as given.
    """
    global _JOBS
    n_workers = workers() if n_workers is None else n_workers
    order = list(range(len(jobs))) if order is None else list(order)
    if sorted(order) != list(range(len(jobs))):
        raise ValueError("order must list every job's position once")
    results: dict[int, Any] = {}
    if n_workers > 1 and len(jobs) > 1 and can_fork():
        _JOBS = jobs
        try:
            with ProcessPoolExecutor(max_workers=min(n_workers, len(jobs)),
                                     mp_context=multiprocessing.get_context("fork")) as pool:
                futures = {index: pool.submit(_run, index) for index in order}
                try:
                    for index in order:
                        results[index] = futures[index].result()
                except BrokenProcessPool:
                    pass  # the rest run serially below
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)  # fail as soon as serially would
                    raise
        finally:
            _JOBS = ()
    for index in order:
        if index not in results:
            results[index] = jobs[index]()
    return [results[index] for index in range(len(jobs))]
