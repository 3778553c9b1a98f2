"""A batching server under random arrivals: the exact chain at step ends, and the table the serving models read."""

from __future__ import annotations

import numpy as np
import pytest

from servecast.serving.batch_queue import BatchQueues, solve_chain

CURVES = {
    "fixed cost dominates": (47.0, 6.6, 8),
    "per-prompt cost dominates": (1.3, 7.75, 8),
    "even": (5.0, 5.0, 4),
    "pairs": (10.0, 1.0, 2),
}
"""Step of b prompts = fixed + per-prompt × b, with the most prompts per step."""


def _steps(fixed: float, per_prompt: float, batch: int, columns: int = 9) -> np.ndarray:
    steps = fixed + per_prompt * np.arange(columns, dtype=np.float64)
    steps[0] = steps[1]
    return steps


def _simulate(rate: float, steps: np.ndarray, batch: int, prompts: int, seed: int = 0) -> tuple[float, float]:
    """Mean wait and mean step per prompt of a greedy batching server, prompt by prompt."""
    arrivals = np.cumsum(np.random.default_rng(seed).exponential(1 / rate, prompts))
    waits, rides = np.empty(prompts), np.empty(prompts)
    free, next_prompt = 0.0, 0
    while next_prompt < prompts:
        start = max(free, arrivals[next_prompt])
        taken = min(batch, int(np.searchsorted(arrivals, start, side="right")) - next_prompt)
        free = start + steps[taken]
        waits[next_prompt : next_prompt + taken] = start - arrivals[next_prompt : next_prompt + taken]
        rides[next_prompt : next_prompt + taken] = steps[taken]
        next_prompt += taken
    warm = prompts // 10
    return float(waits[warm:].mean()), float(rides[warm:].mean())


def test_one_prompt_per_step_is_the_md1_queue():
    steps = _steps(9.0, 0.0, 1)[np.newaxis]
    table = BatchQueues(steps, np.array([1]))
    for utilisation in (0.1, 0.5, 0.9, 0.97):
        rate = np.array([utilisation / 9.0])
        md1 = utilisation * 9.0 / (2 * (1 - utilisation))
        for wait, served in (table(np.array([0]), rate), solve_chain(rate, steps, np.array([1]), 400)):
            assert wait[0] == pytest.approx(md1, rel=1e-6)
            assert served[0] == pytest.approx(9.0)


@pytest.mark.parametrize("curve", CURVES)
def test_chain_matches_a_batching_server_simulated_prompt_by_prompt(curve):
    fixed, per_prompt, batch = CURVES[curve]
    steps = _steps(fixed, per_prompt, batch)
    capacity = batch / steps[batch]
    for utilisation in (0.3, 0.8):
        rate = utilisation * capacity
        wait, served = solve_chain(np.array([rate]), steps[np.newaxis], np.array([batch]), 300)
        simulated_wait, simulated_served = _simulate(rate, steps, batch, 30_000)
        assert wait[0] + served[0] == pytest.approx(simulated_wait + simulated_served, rel=0.03)
        assert served[0] == pytest.approx(simulated_served, rel=0.03)


def test_table_reads_the_exact_chain_within_two_percent_to_90_percent_load_and_six_to_99():
    servers = [*CURVES.values(), (9.0, 0.0, 1)]  # one table for all, as the search builds it
    steps = np.array([_steps(fixed, per_prompt, batch) for fixed, per_prompt, batch in servers])
    batches = np.array([batch for _, _, batch in servers])
    table = BatchQueues(steps, batches)
    for index, batch in enumerate(batches):
        capacity = batch / steps[index, batch]
        for utilisation in (0.02, 0.25, 0.55, 0.75, 0.88, 0.94, 0.97, 0.99):
            rate = np.array([utilisation * capacity])
            exact = sum(solve_chain(rate, steps[index : index + 1], batches[index : index + 1], 700))[0]
            read = sum(table(np.array([index]), rate))[0]
            assert read == pytest.approx(exact, rel=0.02 if utilisation <= 0.9 else 0.06)


def test_random_arrivals_form_batches_well_below_capacity():
    steps = _steps(1.3, 7.75, 8)
    table = BatchQueues(steps[np.newaxis], np.array([8]))
    capacity = 8 / steps[8]
    _, served = table(np.array([0]), np.array([0.6 * capacity]))
    assert served[0] > 1.4 * steps[1]  # one prompt a step would keep up, yet arrivals bunch
