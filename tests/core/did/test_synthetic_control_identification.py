"""Identification report: hand-worked hulls and a brute-force vertex enumeration."""

import itertools

import numpy as np
import pytest

from fact22_assets.core.did.synthetic_control_identification import (
    synthetic_control_identification,
)

# Four donors at the corners of a square in two pre years, then one post year.
SQUARE = np.array([[0, 0, 0.0], [2, 0, 4.0], [0, 2, 8.0], [2, 2, 20.0]])


def test_inside_the_square_by_hand():
    # X1 = (1, 1): the exact fits are w = (t, 1/2 - t, 1/2 - t, t), t in [0, 1/2], with
    # synthetic post value t * 20 + (1/2 - t) * 12 in [6, 10]; treated post 10 -> gaps [0, 4].
    report = synthetic_control_identification(np.array([1, 1, 10.0]), SQUARE, 2)
    assert report.inside_hull
    assert report.best_pre_rmspe == pytest.approx(0.0, abs=1e-9)
    assert report.post_gap_low == pytest.approx(0.0, abs=1e-6)
    assert report.post_gap_high == pytest.approx(4.0, abs=1e-6)
    assert report.n_donors == 4
    np.testing.assert_allclose(report.weights_low, [0.5, 0, 0, 0.5], atol=1e-6)
    np.testing.assert_allclose(report.weights_high, [0, 0.5, 0.5, 0], atol=1e-6)


def test_outside_the_square_by_hand():
    # X1 = (3, 3): the nearest point of the square is the corner (2, 2), only donor 4 reaches it:
    # pre RMSPE 1, and a single gap 10 - 20.
    report = synthetic_control_identification(np.array([3, 3, 10.0]), SQUARE, 2)
    assert not report.inside_hull
    assert report.best_pre_rmspe == pytest.approx(1.0)
    assert report.post_gap_low == pytest.approx(-10.0, abs=1e-6)
    assert report.post_gap_high == pytest.approx(-10.0, abs=1e-6)


def test_outside_on_an_edge_with_several_weightings():
    # X1 = (1, 3): nearest points form the top edge's midpoint (1, 2), reached by donors 3 and 4
    # only in equal parts: one gap, 10 - (8 + 20) / 2 = -4.
    report = synthetic_control_identification(np.array([1, 3, 10.0]), SQUARE, 2)
    assert not report.inside_hull
    assert report.best_pre_rmspe == pytest.approx(np.sqrt(0.5))
    assert report.post_gap_low == pytest.approx(-4.0, abs=1e-6)
    assert report.post_gap_high == pytest.approx(-4.0, abs=1e-6)


def _vertices(x0_pre, target):
    """Every vertex of {w >= 0, sum w = 1, X0' w = target}, by enumerating bases."""
    n = x0_pre.shape[0]
    system = np.vstack([x0_pre.T, np.ones(n)])
    rhs = np.append(target, 1.0)
    rank = np.linalg.matrix_rank(system)
    vertices = []
    for basis in itertools.combinations(range(n), rank):
        block = system[:, basis]
        if np.linalg.matrix_rank(block) < rank:
            continue
        solution, *_ = np.linalg.lstsq(block, rhs, rcond=None)
        if np.allclose(block @ solution, rhs, atol=1e-9) and (solution >= -1e-12).all():
            w = np.zeros(n)
            w[list(basis)] = solution
            vertices.append(w)
    return np.array(vertices)


@pytest.mark.parametrize("seed", range(6))
def test_bounds_match_brute_force_vertex_enumeration(seed):
    rng = np.random.default_rng(seed)
    donors = rng.normal(0, 10, (7, 5))  # 3 pre years, 2 post years
    mix = rng.dirichlet(np.ones(7))
    treated = mix @ donors + np.array([0, 0, 0, 3.0, 5.0])
    report = synthetic_control_identification(treated, donors, 3)
    assert report.inside_hull and report.best_pre_rmspe < 1e-8

    vertices = _vertices(donors[:, :3], treated[:3])
    gaps = treated[3:].mean() - vertices @ donors[:, 3:].mean(axis=1)
    # The extremes of a linear function over a polytope are attained at vertices.
    assert report.post_gap_low == pytest.approx(gaps.min(), abs=1e-5)
    assert report.post_gap_high == pytest.approx(gaps.max(), abs=1e-5)
    # Random feasible weightings (mixtures of vertices) all fall inside [low, high].
    mixtures = rng.dirichlet(np.ones(len(vertices)), size=500) @ vertices
    sampled = treated[3:].mean() - mixtures @ donors[:, 3:].mean(axis=1)
    assert sampled.min() >= report.post_gap_low - 1e-6
    assert sampled.max() <= report.post_gap_high + 1e-6
    assert report.post_gap_low - 1e-6 <= report.post_gap_best_fit <= report.post_gap_high + 1e-6


def test_outside_with_a_twin_corner_leaves_the_post_gap_open():
    # A fifth donor shares the corner (2, 2) with post value 0 instead of 20: every mix of the
    # twins fits best (RMSPE 1 from (3, 3)), so the gap runs from 10 - 20 to 10 - 0.
    donors = np.vstack([SQUARE, [2, 2, 0.0]])
    report = synthetic_control_identification(np.array([3, 3, 10.0]), donors, 2)
    assert not report.inside_hull
    assert report.best_pre_rmspe == pytest.approx(1.0)
    assert report.post_gap_low == pytest.approx(-10.0, abs=1e-6)
    assert report.post_gap_high == pytest.approx(10.0, abs=1e-6)
