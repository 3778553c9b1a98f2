"""Waiting at a batching server under random arrivals: a disaggregated prefill worker that, whenever its step ends,
starts on all waiting prompts up to its batch (or on the next prompt to arrive), at a step time that grows with the
prompts taken.

The queue seen at step ends is a Markov chain: with q prompts waiting, the next step takes b = min(max(q, 1), B),
leaves r = max(q - B, 0) behind and lasts S(b), during which a Poisson number of prompts arrives. Its stationary
distribution gives the mean wait (Little's law on the waiting room: r S + λ S² / 2 prompt-ms per cycle) and the
mean step a prompt rides in (steps weighted by the prompts they carry). Unlike M/D/1 at the full batch, this sees
that random arrivals form batches of 2-3 well below capacity, and that near capacity whole batches serve many
prompts per wait.

Solving the chain at every rate a search tries would be too slow, so each (step curve, batch) is solved at fixed
utilisations and read between them: the wait times the spare capacity, W (1 - u), and the step are smooth in u.
Above the highest node the first is extended linearly and the step closes on the full batch's in proportion to the
spare capacity. Wait plus step stay within 2 % of the exact chain up to 90 % utilisation and 6 % up to 99 %.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from servecast.arrays import FloatArray, IntArray
from servecast.serving.queueing import poisson_log_pmf

UTILISATIONS = np.array([0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95])
"""Utilisations (rate × full-batch step / batch) at which the chain is solved exactly."""
_TAIL = 1e-5
"""Queue-length mass the truncated chain may lose at its highest node."""


def _states_needed(utilisation: float) -> int:
    """Queue lengths beyond two full batches to keep so that the chain loses less than _TAIL: the waiting prompts'
    tail decays about as exp(-2 (1 - u) / u) per prompt (the heavy-traffic limit of the random walk at full
    batches)."""
    decay = 2 * (1 - utilisation) / max(utilisation, 1e-9)
    return int(np.ceil(-np.log(_TAIL) / decay))


def solve_chain(rate: FloatArray, steps: FloatArray, batch: IntArray, states: int) -> tuple[FloatArray, FloatArray]:
    """Exact mean wait and mean step per prompt (ms) for each problem: `rate` prompts per ms, `steps[:, b]` the step
    of b prompts (b = 1..max batch; column 0 unused), `batch` its most prompts per step, queue lengths 0..`states`."""
    q = np.arange(states + 1)
    taken = np.clip(q[None, :], 1, batch[:, None])
    left = np.maximum(q[None, :] - batch[:, None], 0)
    step = np.take_along_axis(steps, taken, axis=1)
    arrivals = np.exp(poisson_log_pmf(rate[:, None] * steps, states + 1))  # (problem, prompts in the step, arrivals)
    to = q[None, None, :] - left[:, :, None]  # arrivals that take q to each next length
    rows = arrivals[np.arange(len(rate))[:, None], taken]  # (problem, from q, arrivals)
    transition = np.where(to >= 0, np.take_along_axis(rows, np.maximum(to, 0), axis=2), 0.0)
    transition[:, :, -1] += 1 - transition.sum(axis=2)  # lengths beyond the last are kept at the last
    system = np.swapaxes(transition, 1, 2) - np.eye(states + 1)
    system[:, -1, :] = 1.0  # stationary, and sums to one
    unit = np.zeros((len(rate), states + 1))
    unit[:, -1] = 1.0
    stationary = np.linalg.solve(system, unit[..., None])[..., 0]
    cycle = (stationary * (step + (q == 0) / rate[:, None])).sum(axis=1)
    waiting = (stationary * (left * step + rate[:, None] * step * step / 2)).sum(axis=1)
    served = (stationary * taken * step).sum(axis=1) / (stationary * taken).sum(axis=1)
    result: tuple[FloatArray, FloatArray] = (waiting / (rate * cycle), served)
    return result


class BatchQueues:
    """Mean wait and step per prompt of batching servers, one per (step curve, batch), at any arrival rate."""

    def __init__(self, steps: FloatArray, batch: IntArray) -> None:
        """`steps[i, b]`: server i's step of b prompts (b = 1..its batch, column 0 unused); `batch[i]`: its most
        prompts per step."""
        self.full_ms = steps[np.arange(len(batch)), batch]
        self.capacity = batch / self.full_ms
        count = len(UTILISATIONS)
        self.slack_wait = np.zeros((len(batch), count))
        """W (1 - u) at each node."""
        self.served = np.repeat(steps[:, 1:2], count, axis=1)
        single = batch == 1  # M/D/1, whose wait is u S / (2 (1 - u)) exactly
        self.slack_wait[single] = UTILISATIONS * steps[single, 1:2] / 2
        batching = np.flatnonzero(~single)
        if not len(batching):
            return
        for node in range(1, count):
            u = float(UTILISATIONS[node])
            states = _states_needed(u) + 2 * int(batch.max()) + 16
            wait, served = solve_chain(u * self.capacity[batching], steps[batching], batch[batching], states)
            self.slack_wait[batching, node] = wait * (1 - u)
            self.served[batching, node] = served

    def __call__(self, server: IntArray, rate: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Mean wait and mean step per prompt at `rate` prompts per ms on server `server` (rates at or beyond
        capacity are read at 99.9 % of it)."""
        return self.at(server)(rate)

    def at(self, server: IntArray) -> Callable[[FloatArray], tuple[FloatArray, FloatArray]]:
        """`self(server, rate)` as a function of the rate alone, with what depends on the servers gathered once
        (a solve asks the same servers at many rates)."""
        count = len(UTILISATIONS)
        capacity, full = self.capacity[server], self.full_ms[server]
        base = server * count
        slack_wait, served = self.slack_wait.ravel(), self.served.ravel()
        top, last = UTILISATIONS[-1], served.take(base + count - 1)

        def wait_and_step(rate: FloatArray) -> tuple[FloatArray, FloatArray]:
            u = np.minimum(rate / capacity, 0.999)
            node = np.minimum(np.maximum(np.searchsorted(UTILISATIONS, u, side="right") - 1, 0), count - 2)
            low, high = UTILISATIONS[node], UTILISATIONS[node + 1]
            fraction = (u - low) / (high - low)
            at = base + node
            slack = slack_wait.take(at) * (1 - fraction) + slack_wait.take(at + 1) * fraction
            step = served.take(at) * (1 - fraction) + served.take(at + 1) * fraction
            closing = (1 - u) / (1 - top)
            step = np.where(u > top, full - (full - last) * closing, step)
            return slack / (1 - u), step

        return wait_and_step
