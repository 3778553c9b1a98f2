"""Waiting for a slot: random arrivals at a server that runs at most `c` requests at once (M/G/c); and the Poisson
arrival counts this and the batching prefill queue (`batch_queue`) are built on."""

from __future__ import annotations

import numpy as np

from servecast.arrays import FloatArray


def poisson_log_pmf(means: FloatArray, count: int) -> FloatArray:
    """log P(k arrivals), k = 0..count-1 on a new last axis, for each mean: in log space, so large means and
    counts stay exact."""
    k = np.arange(count, dtype=np.float64)
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(k[1:]))])
    log_pmf: FloatArray = k * np.log(np.maximum(means, 1e-300))[..., None] - means[..., None] - log_factorial
    return log_pmf


def erlang_c(servers: FloatArray, offered: FloatArray) -> FloatArray:
    """Probability that a Poisson arrival finds all `servers` busy under `offered` busy servers on average
    (Erlang C; 1 where the load reaches the servers). Computed from the Poisson distribution in log space, so
    thousands of servers stay exact."""
    servers = np.floor(servers)
    offered = np.asarray(offered, dtype=np.float64)
    result = np.ones(len(servers))
    stable = offered < servers
    if not stable.any():
        return result
    c, load = servers[stable], offered[stable]
    k = np.arange(int(c.max()) + 1, dtype=np.float64)
    log_pmf = np.where(k <= c[:, None], poisson_log_pmf(load, len(k)), -np.inf)
    top = log_pmf.max(axis=1, keepdims=True)
    log_cdf = top[:, 0] + np.log(np.exp(log_pmf - top).sum(axis=1))
    blocking = np.exp(log_pmf[np.arange(len(c)), c.astype(np.int64)] - log_cdf)  # Erlang B
    result[stable] = blocking / (1 - load / c * (1 - blocking))
    return result


def slot_wait_ms(
    servers: FloatArray, rate_per_ms: FloatArray, service_ms: FloatArray, service_cv2: float
) -> FloatArray:
    """Mean wait for one of `servers` slots, each held `service_ms` on average with squared coefficient of variation
    `service_cv2` (Allen–Cunneen: the M/M/c wait scaled by (1 + cv²) / 2); inf at or beyond capacity."""
    offered = rate_per_ms * service_ms
    spare = np.floor(servers) - offered
    wait = np.divide(
        erlang_c(servers, offered) * service_ms,
        spare,
        out=np.full(len(spare), np.inf),
        where=spare > 0,
    )
    scaled: FloatArray = wait * (1 + service_cv2) / 2
    return scaled
