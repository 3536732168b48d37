"""The compiled Frank-Wolfe loop against its own Python source run by the interpreter.

numba compiles `frank_wolfe._one` without fastmath, so every operation must be the IEEE
double operation Python does, in the same order: the iterates are compared bit for bit.
"""

import numpy as np
import pytest

from fact22_assets.core.did import frank_wolfe


def _problems(seed, n_problems, n, shared):
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, (n_problems, 7, n)).cumsum(axis=1)
    y = rng.normal(0, 1, (n_problems, 7))
    gram = np.einsum("bti,btj->bij", a, a)
    quad = (gram[:1] if shared else gram) + 0.3 * np.eye(n)
    linear = np.einsum("bti,bt->bi", a, y)
    const = np.einsum("bt,bt->b", y, y)
    allowed = np.ones((n_problems, n), bool)
    allowed[np.arange(n_problems), rng.integers(0, n, n_problems)] = False
    x = np.where(allowed, 1.0, 0.0)
    x /= x.sum(axis=1, keepdims=True)
    return quad, linear, np.where(allowed, linear, -np.inf), const, x


def _start(quad, x):
    """u = Q x row by row (the same sums whichever way the rows are grouped)."""
    return np.array([x[b] @ quad[0 if quad.shape[0] == 1 else b] for b in range(x.shape[0])])


@pytest.mark.parametrize("shared", [True, False])
def test_compiled_loop_equals_the_interpreted_one_bit_for_bit(shared):
    quad, linear, offset, const, x0 = _problems(11, 6, 9, shared)
    threshold, max_iter = 1e-12, 500
    compiled = x0.copy()
    u = _start(quad, compiled)
    xqx, yax = np.einsum("bi,bi->b", compiled, u), np.einsum("bi,bi->b", compiled, linear)
    frank_wolfe.solve(quad, linear, offset, const, compiled, u, xqx.copy(), yax.copy(), 7.0, threshold, max_iter)
    for b in range(x0.shape[0]):
        q = quad[0] if shared else quad[b]
        x = x0[b].copy()
        u = _start(quad[[0 if shared else b]], x0[[b]])[0]
        frank_wolfe._one.py_func(q, linear[b], offset[b], const[b], x, u, float(xqx[b]), float(yax[b]), 7.0,
                                 threshold, max_iter)
        assert np.array_equal(compiled[b], x), b
        assert compiled[b][offset[b] == -np.inf] == 0.0  # a vertex left out is never entered
        assert compiled[b].sum() == pytest.approx(1.0)


def test_each_problem_stops_on_its_own_rule():
    # A problem solved beside others takes exactly the steps it takes alone.
    quad, linear, offset, const, x0 = _problems(3, 5, 8, True)
    together = x0.copy()
    u = _start(quad, together)
    frank_wolfe.solve(quad, linear, offset, const, together, u, np.einsum("bi,bi->b", together, u),
                      np.einsum("bi,bi->b", together, linear), 7.0, 1e-10, 10_000)
    for b in range(5):
        alone = x0[b:b + 1].copy()
        u = _start(quad, alone)
        frank_wolfe.solve(quad, linear[b:b + 1], offset[b:b + 1], const[b:b + 1], alone, u,
                          np.einsum("bi,bi->b", alone, u), np.einsum("bi,bi->b", alone, linear[b:b + 1]), 7.0,
                          1e-10, 10_000)
        assert np.array_equal(together[b], alone[0]), b
