"""synthdid's Frank-Wolfe loop compiled with numba, one problem at a time.

The synthetic DiD weights (`synthetic_did`) are found by synthdid's
`sc.weight.fw`: up to 10,000 Frank-Wolfe steps with exact line search, each
O(n) in Gram form. In NumPy every step costs about 20 array calls whatever n
is, and a batch of problems runs until its slowest one stops; compiled, each
problem runs its own loop to its own stopping rule at the cost of the
arithmetic alone.

No fastmath: every operation is the IEEE double operation NumPy and Python
do, in the same order (no reassociation, no fused multiply-add), so the
iterates are bit for bit those of the NumPy loop this replaces. `solve` is
compiled for one signature when this module is imported (C-ordered float
arrays; `synthetic_did._frank_wolfe` passes nothing else), and cached on disk
(numba's `cache=True`: in `__pycache__` beside this file, or a per-user cache
directory where that is read-only, or NUMBA_CACHE_DIR), so only the first
import after this file changes pays the compile (about 2 s of CPU); later
imports load it in milliseconds. This module is imported when synthetic DiD
first solves a problem, not when the definitions load; the DiD asset imports
it before it forks its workers, so they share one compiled copy.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _one(quad, linear, offset, const, x, u, xqx, yax, n_rows, threshold, max_iter):
    """One problem: x (n,) and u = Q x (n,) updated in place; see `synthetic_did._frank_wolfe`."""
    n = x.shape[0]
    previous = np.nan
    # the vertex of least half-gradient u - A'y among the allowed ones (offset -inf elsewhere);
    # the first of equal ones, as numpy's argmin
    vertex, least = 0, np.inf
    for i in range(n):
        gradient = u[i] - offset[i]
        if gradient < least:
            least = gradient
            vertex = i
    for iteration in range(1, max_iter + 1):
        u_vertex = u[vertex]
        q_vertex = quad[vertex, vertex]
        slope = (u_vertex - linear[vertex]) - (xqx - yax)
        curvature = q_vertex - 2 * u_vertex + xqx
        if x[vertex] != 1.0 and curvature > 0:
            step = min(max(-slope / curvature, 0.0), 1.0)
        else:
            step = 0.0
        keep = 1.0 - step
        # one pass: x <- keep x, u <- keep u + step Q e_vertex, and the next iteration's vertex
        following, least = 0, np.inf
        for i in range(n):
            x[i] *= keep
            u[i] = u[i] * keep + step * quad[vertex, i]
            gradient = u[i] - offset[i]
            if gradient < least:
                least = gradient
                following = i
        x[vertex] += step
        xqx = keep * keep * xqx + 2 * step * keep * u_vertex + step * step * q_vertex
        yax = keep * yax + step * linear[vertex]
        value = (xqx - 2 * yax + const) / n_rows
        if iteration >= 2 and not previous - value > threshold:
            break
        previous = value
        vertex = following


@njit("void(f8[:, :, ::1], f8[:, ::1], f8[:, ::1], f8[::1], f8[:, ::1], f8[:, ::1], f8[::1], f8[::1], f8, f8, i8)",
      cache=True)
def solve(quad, linear, offset, const, x, u, xqx, yax, n_rows, threshold, max_iter):
    """Every problem b to its own stopping rule; x (B, n) is updated in place.

    quad: (1, n, n) shared by all problems or (B, n, n), Q = A'A + eta I;
    linear (B, n) = A'y; offset (B, n): A'y where a vertex is allowed, -inf
    where not; const (B,) = y'y; u (B, n) = x Q, xqx (B,) = x'Q x and
    yax (B,) = y'A x at the start; threshold = min_decrease^2.
    """
    shared = quad.shape[0] == 1
    for b in range(x.shape[0]):
        q = quad[0] if shared else quad[b]
        _one(q, linear[b], offset[b], const[b], x[b], u[b], xqx[b], yax[b], n_rows, threshold, max_iter)
