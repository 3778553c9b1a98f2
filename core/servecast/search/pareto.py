"""The Pareto frontier of throughput per GPU against speed per user."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def pareto_front(per_gpu: NDArray[np.float64], per_user: NDArray[np.float64]) -> NDArray[np.int64]:
    """Indices of the points no other point beats on both axes (higher is better), by rising speed per user.

    Sorted by speed per user (descending) then throughput, a point is on the front when its throughput exceeds
    that of every point at least as fast for the user.
    """
    if len(per_gpu) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((-per_gpu, -per_user))
    best_so_far = np.maximum.accumulate(per_gpu[order])
    previous = np.concatenate([[-np.inf], best_so_far[:-1]])
    front = order[per_gpu[order] > previous]
    result: NDArray[np.int64] = front[np.argsort(per_user[front], kind="stable")]
    return result
