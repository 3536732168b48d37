"""The penalised synthetic control's simplex QP, compiled with numba.

    minimise 0.5 ||F' w||^2 + c' w   over   w >= 0, sum(w) = 1

by an exact primal active-set method in the manner of Lawson-Hanson's NNLS
(`penalised_synthetic_control.simplex_qp` wraps it): start at the best
vertex, add the coordinate with the most negative reduced gradient, solve the
equality-constrained problem on the support exactly (the bordered KKT system,
by Gaussian elimination with partial pivoting), and step back to the boundary
when a weight would turn negative. A support whose KKT system is singular
(more donors than the pre-period can tell apart) is left along a direction
in which the objective is linear, found from an SVD. The rare problem where
none of that settles returns status 1 and is finished by SLSQP in Python.

`penalised_fits` fits many (target, pool, lambda) problems in one call: the
placebo loops and the leave-one-out choice of lambda pose thousands of small
problems, each a few microseconds of arithmetic. No fastmath (IEEE order
kept). The two entry points are compiled for one signature each when this
module is imported, and cached on disk (`cache=True`, as `frank_wolfe`):
the first import after this file changes compiles (10-20 s of CPU), later
ones load in about a second. It is imported when a penalised synthetic
control is first fitted (not with the definitions), by `make install`, and
by the DiD asset before it forks its workers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# A pivot below this share of the system's largest entry marks the KKT system as singular.
SINGULAR_PIVOT = 1e-12
# Singular values below this share of the largest (at least 1) span the flat directions.
FLAT_RANK = 1e-10


@njit(cache=True)
def _equality_qp(factor, linear, index, k, z):
    """z: the minimiser with sum 1 on the support index[:k], zero elsewhere; False when singular."""
    m = k + 1
    a = np.zeros((m, m))
    b = np.zeros(m)
    n_cols = factor.shape[1]
    for r in range(k):
        for c in range(r, k):
            v = 0.0
            for t in range(n_cols):
                v += factor[index[r], t] * factor[index[c], t]
            a[r, c] = v
            a[c, r] = v
        a[r, k] = 1.0
        a[k, r] = 1.0
        b[r] = -linear[index[r]]
    b[k] = 1.0
    largest = 0.0
    for r in range(m):
        for c in range(m):
            largest = max(largest, abs(a[r, c]))
    for col in range(m):
        pivot = col
        for r in range(col + 1, m):
            if abs(a[r, col]) > abs(a[pivot, col]):
                pivot = r
        if not abs(a[pivot, col]) > SINGULAR_PIVOT * largest:
            return False
        if pivot != col:
            for c in range(m):
                a[col, c], a[pivot, c] = a[pivot, c], a[col, c]
            b[col], b[pivot] = b[pivot], b[col]
        for r in range(col + 1, m):
            f = a[r, col] / a[col, col]
            if f != 0.0:
                for c in range(col, m):
                    a[r, c] -= f * a[col, c]
                b[r] -= f * b[col]
    x = np.empty(m)
    for r in range(m - 1, -1, -1):
        v = b[r]
        for c in range(r + 1, m):
            v -= a[r, c] * x[c]
        x[r] = v / a[r, r]
        if not np.isfinite(x[r]):
            return False
    z[:] = 0.0
    for r in range(k):
        z[index[r]] = x[r]
    return True


@njit(cache=True)
def _flat_direction(factor, linear, index, k, d):
    """d: a direction on the support with F' d = 0 and sum(d) = 0, pointing downhill; False if none."""
    n_cols = factor.shape[1]
    constraints = np.empty((n_cols + 1, k))
    for r in range(k):
        for t in range(n_cols):
            constraints[t, r] = factor[index[r], t]
        constraints[n_cols, r] = 1.0
    _, singular, vt = np.linalg.svd(constraints)
    top = 1.0
    for s in singular:
        top = max(top, s)
    rank = 0
    for s in singular:
        if s > FLAT_RANK * top:
            rank += 1
    if rank >= k:
        return False
    d[:] = 0.0
    slope = 0.0
    for r in range(k):
        d[index[r]] = vt[rank, r]
        slope += linear[index[r]] * vt[rank, r]
    if slope > 0:
        for r in range(k):
            d[index[r]] = -d[index[r]]
    return True


@njit(cache=True)
def active_set(factor, linear, w, limit, tolerance):
    """Solve from the vertex w (n,), updated in place; 0 when optimal, 1 when SLSQP must finish."""
    n, n_cols = factor.shape
    support = w > 0
    index = np.empty(n, np.int64)
    z = np.empty(n)
    d = np.empty(n)
    projected = np.empty(n_cols)
    for _ in range(limit):
        # optimality: the reduced gradient off the support
        projected[:] = 0.0
        for i in range(n):
            if w[i] != 0.0:
                for t in range(n_cols):
                    projected[t] += factor[i, t] * w[i]
        total, count = 0.0, 0
        entering, least = -1, np.inf
        gradient = np.empty(n)
        for i in range(n):
            g = linear[i]
            for t in range(n_cols):
                g += factor[i, t] * projected[t]
            gradient[i] = g
            if support[i]:
                total += g
                count += 1
        multiplier = total / count
        for i in range(n):
            if not support[i]:
                reduced = gradient[i] - multiplier
                if reduced < least:
                    least = reduced
                    entering = i
        if entering < 0 or least >= -tolerance:
            w /= w.sum()
            return 0
        support[entering] = True
        while True:
            k = 0
            for i in range(n):
                if support[i]:
                    index[k] = i
                    k += 1
            if not _equality_qp(factor, linear, index, k, z):
                # flat along a direction within the support: move downhill until a weight reaches zero
                if not _flat_direction(factor, linear, index, k, d):
                    return 1
                leaving, step = -1, np.inf
                for r in range(k):
                    i = index[r]
                    if d[i] < 0 and w[i] / -d[i] < step:
                        step = w[i] / -d[i]
                        leaving = i
                if leaving < 0:
                    return 1
                for r in range(k):
                    i = index[r]
                    w[i] = max(w[i] + step * d[i], 0.0)
                w[leaving] = 0.0
                support[leaving] = False
                continue
            positive = True
            for r in range(k):
                if not z[index[r]] > 0:
                    positive = False
            if positive:
                for i in range(n):
                    w[i] = z[i]
                break
            leaving, alpha = -1, np.inf
            for r in range(k):
                i = index[r]
                if z[i] <= 0:
                    s = w[i] / (w[i] - z[i])
                    if s < alpha:
                        alpha = s
                        leaving = i
            for i in range(n):
                w[i] = w[i] + alpha * (z[i] - w[i])
            for r in range(k):
                i = index[r]
                if z[i] <= 0 and w[i] <= tolerance:
                    w[i] = 0.0
                    support[i] = False
            w[leaving] = 0.0
            support[leaving] = False
    return 1


@njit("i8(f8[:, ::1], f8[::1], f8[::1], i8)", cache=True)
def _solve_one(factor, linear, w, limit):
    """Cold start at the best vertex, then `active_set`; tolerance as in the Python wrapper."""
    n = factor.shape[0]
    best, best_value, largest_diag, largest_linear = 0, np.inf, 0.0, 0.0
    for i in range(n):
        h = 0.0
        for t in range(factor.shape[1]):
            h += factor[i, t] * factor[i, t]
        value = 0.5 * h + linear[i]
        if value < best_value:
            best_value = value
            best = i
        largest_diag = max(largest_diag, h)
        largest_linear = max(largest_linear, abs(linear[i]))
    w[:] = 0.0
    w[best] = 1.0
    tolerance = 1e-12 * max(1.0, largest_linear, largest_diag)
    return active_set(factor, linear, w, limit, tolerance)


@njit("i8[::1](f8[:, ::1], i8, i8[::1], i8[:, ::1], f8[::1], f8[:, ::1], f8[:, ::1])", cache=True)
def penalised_fits(values, n_pre, targets, pools, lambdas, weights, summary):
    """Fit target p from donors pools[p] at lambdas[p], for every p; returns each problem's status.

    values (N, T): every unit's series; targets (P,) rows of `values`;
    pools (P, K) rows of `values` (-1 pads a shorter pool); weights (P, K)
    receives the weights; summary (P, 3) the pre-period RMSPE, post-period
    RMSPE and mean post-period gap of each fit. A problem with status 1 is
    left for SLSQP (its weights and summary unset).
    """
    n_years = values.shape[1]
    status = np.zeros(targets.shape[0], np.int64)
    for p in range(targets.shape[0]):
        k = 0
        while k < pools.shape[1] and pools[p, k] >= 0:
            k += 1
        target = values[targets[p]]
        scale = np.finfo(np.float64).tiny
        for t in range(n_pre):
            scale = max(scale, abs(target[t]))
            for r in range(k):
                scale = max(scale, abs(values[pools[p, r], t]))
        factor = np.empty((k, n_pre))
        linear = np.empty(k)
        for r in range(k):
            cross, distance = 0.0, 0.0
            for t in range(n_pre):
                x = values[pools[p, r], t] / scale
                y = target[t] / scale
                factor[r, t] = x
                cross += x * y
                distance += (x - y) ** 2
            linear[r] = -cross + 0.5 * lambdas[p] * distance
        w = np.empty(k)
        if k == 1:
            w[0] = 1.0
        else:
            status[p] = _solve_one(factor, linear, w, 50 * k + 100)
            if status[p]:
                continue
        weights[p, :] = 0.0
        weights[p, :k] = w
        pre, post, gap_sum = 0.0, 0.0, 0.0
        for t in range(n_years):
            synthetic = 0.0
            for r in range(k):
                synthetic += w[r] * values[pools[p, r], t]
            gap = target[t] - synthetic
            if t < n_pre:
                pre += gap * gap
            else:
                post += gap * gap
                gap_sum += gap
        summary[p, 0] = np.sqrt(pre / n_pre)
        summary[p, 1] = np.sqrt(post / (n_years - n_pre))
        summary[p, 2] = gap_sum / (n_years - n_pre)
    return status
