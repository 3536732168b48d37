"""The DiD asset's worker processes: same results, in order, as one after another."""
import multiprocessing
import os
import time

import pandas as pd
import pytest

from fact22_assets.core.did import FACT22, evaluate_study
from fact22_assets.core.did.estimators import ESTIMATORS
from fact22_assets.core.did.evaluation import evaluate_outcome, stack_outcomes
from fact22_assets.core.did.prepared import PreparedPanel
from fact22_assets.core.did.simulated_panel import simulated_panel
from fact22_assets.defs.did import parallel

needs_fork = pytest.mark.skipif(not parallel.can_fork(), reason="this platform cannot fork")


def _pid_after(seconds):
    def job():
        time.sleep(seconds)
        return os.getpid()
    return job


@needs_fork
def test_jobs_run_in_two_worker_processes_and_come_back_in_job_order():
    # The two jobs started first each wait for the other: they return only when both run at once, one in
    # each worker (the barrier, made before the fork, is shared; its timeout bounds a hang, not a speed).
    both_running = multiprocessing.get_context("fork").Barrier(2, timeout=120)

    def meet():
        both_running.wait()
        return os.getpid()

    jobs = [meet, lambda: "second", meet, lambda: "fourth"]
    results = parallel.run_jobs(jobs, n_workers=2, order=[2, 0, 3, 1])
    assert results[1] == "second" and results[3] == "fourth"
    assert len({results[0], results[2]}) == 2 and os.getpid() not in (results[0], results[2])


def test_one_worker_runs_serially_here(monkeypatch):
    monkeypatch.setenv(parallel.WORKERS_VARIABLE, "1")
    assert parallel.workers() == 1
    assert parallel.run_jobs([_pid_after(0), _pid_after(0)]) == [os.getpid(), os.getpid()]


def test_workers_setting_is_checked(monkeypatch):
    monkeypatch.setenv(parallel.WORKERS_VARIABLE, "two")
    with pytest.raises(ValueError, match=parallel.WORKERS_VARIABLE):
        parallel.workers()
    with pytest.raises(ValueError, match="every job"):
        parallel.run_jobs([_pid_after(0)], n_workers=1, order=[0, 0])


@needs_fork
def test_a_failing_job_fails_the_run_as_serially():
    def boom():
        raise KeyError("no such outcome")
    with pytest.raises(KeyError, match="no such outcome"):
        parallel.run_jobs([_pid_after(0), boom, _pid_after(0)], n_workers=2)


@needs_fork
def test_outcomes_in_worker_processes_stack_to_the_study():
    panel = simulated_panel(n_units=15, seed=4)
    whole = evaluate_study(panel, FACT22)
    shared = PreparedPanel(panel)
    jobs = [lambda outcome=outcome: evaluate_outcome(shared, FACT22, outcome) for outcome in FACT22.outcomes]
    parts = parallel.run_jobs(jobs, n_workers=2, order=list(reversed(range(len(jobs)))))
    stacked = stack_outcomes(parts, ESTIMATORS)
    assert list(stacked) == list(whole)
    for name, table in whole.items():
        pd.testing.assert_frame_equal(stacked[name], table, check_exact=True, obj=name)
