"""Capping the donor pool: the K donors nearest the target in the pre-period.

Placebo loops refit an estimator once per donor (or per replication), and
with ~130 authorities most donors receive no weight anyway. Keeping only
the K donors whose pre-period series are nearest the target's (root mean
squared difference over the pre-period years) bounds the cost of every fit
and is a documented, data-driven step that each placebo repeats for itself.

`demean=True` compares the series after removing each one's pre-period
mean: the right notion of "near" for estimators with a unit intercept
(synthetic difference-in-differences), which ignore level differences.
`demean=False` compares levels, as the plain and penalised synthetic
controls do.

Ties are broken by donor position, so the pool is deterministic for a given
donor order.

Every donor's own pool at once (`nearest_others`, the placebo loops) comes
from a k-nearest-neighbour index (scipy's cKDTree on the pre-period
series): each query visits a few tree cells instead of every donor. The
index only proposes candidates; their distances are recomputed as
`pre_period_rmse` computes them and ordered with ties by position, and a
donor whose K-th nearest is (to rounding) as far as the nearest one the
index did not return is scanned in full, so the pools are exactly those of
the full scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_MAX_DONORS = 50


@dataclass(frozen=True)
class DonorPool:
    """Positions of the kept donors (nearest first), their distances, and K."""

    indices: np.ndarray
    rmse: np.ndarray
    k: int
    n_candidates: int


def pre_period_rmse(
    target_pre: np.ndarray, donors_pre: np.ndarray, demean: bool = False
) -> np.ndarray:
    """Root mean squared difference between the target and each donor over the pre-period.

    target_pre: (n_pre,); donors_pre: (n_donors, n_pre). Returns (n_donors,).
    """
    target_pre = np.asarray(target_pre, dtype=float)
    donors_pre = np.asarray(donors_pre, dtype=float)
    if demean:
        target_pre = target_pre - target_pre.mean()
        donors_pre = donors_pre - donors_pre.mean(axis=1, keepdims=True)
    return np.sqrt(np.mean((donors_pre - target_pre) ** 2, axis=1))


def capped_donor_pool(
    target_pre: np.ndarray,
    donors_pre: np.ndarray,
    k: int | None = DEFAULT_MAX_DONORS,
    demean: bool = False,
) -> DonorPool:
    """The (at most) `k` donors nearest the target in pre-period RMSE; `k=None` keeps all.

    The kept positions are in order of distance (nearest first, ties by
    position); `k` on the result is the pool size actually used.
    """
    rmse = pre_period_rmse(target_pre, donors_pre, demean=demean)
    n = rmse.size
    if k is not None and k < 1:
        raise ValueError(f"a donor pool needs k >= 1, got {k}")
    keep = n if k is None else min(k, n)
    order = nearest(rmse, keep)
    return DonorPool(indices=order, rmse=rmse[order], k=int(keep), n_candidates=int(n))


def nearest(distance: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k smallest distances, nearest first, ties by position:
    ``np.argsort(distance, kind="stable")[:k]``, in O(n) rather than O(n log n) when k << n."""
    n = distance.size
    if k >= n or 4 * k >= n:
        return np.argsort(distance, kind="stable")[:k]
    kth = np.partition(distance, k - 1)[k - 1]
    within = np.flatnonzero(distance <= kth)  # every position that can be among the k, in position order
    return within[np.argsort(distance[within], kind="stable")[:k]]


# Candidates the index returns beyond K + 1 (the donor itself), so that near-ties at the K-th are settled exactly.
_INDEX_MARGIN = 4


def nearest_others(points: np.ndarray, k: int) -> np.ndarray:
    """Each row's `k` nearest other rows in RMSE (`pre_period_rmse` of levels), nearest first, ties by position.

    points: (n, n_pre). Returns (n, k) positions: row j equals
    ``nearest(np.delete(pre_period_rmse(points[j], points), j), k)`` mapped back
    to positions in `points` (the full scan), found through a k-d tree.
    """
    from scipy.spatial import cKDTree  # loaded with the first placebo loop, not with the definitions

    points = np.ascontiguousarray(points, dtype=float)
    n = points.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(f"each of {n} rows can have 1 to {n - 1} nearest others, not {k}")
    asked = min(n, k + 1 + _INDEX_MARGIN)
    tree_distance, candidates = cKDTree(points).query(points, k=asked)
    candidates = candidates.reshape(n, asked)
    tree_distance = tree_distance.reshape(n, asked)
    rmse = np.sqrt(np.mean((points[candidates] - points[:, np.newaxis, :]) ** 2, axis=2))
    own = candidates == np.arange(n)[:, np.newaxis]
    # Order each row's candidates by (distance, position), itself last, then keep k.
    order = np.lexsort((candidates, rmse, own), axis=1)
    chosen = np.take_along_axis(candidates, order, axis=1)[:, :k]
    kth = np.take_along_axis(rmse, order, axis=1)[:, k - 1]
    if asked < n:
        # Every donor the index left out is at least the last returned distance away (in its own
        # Euclidean units); a K-th that close, to rounding, might tie with one of them: scan in full.
        unseen = tree_distance[:, -1] / np.sqrt(points.shape[1])
        unsure = np.flatnonzero(kth >= unseen * (1 - 1e-9))
        for j in unsure:
            distance = np.delete(pre_period_rmse(points[j], points), j)
            picked = nearest(distance, k)
            chosen[j] = picked + (picked >= j)
    return chosen
