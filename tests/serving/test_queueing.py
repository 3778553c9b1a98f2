"""Waiting for a slot under random arrivals: Erlang C and the M/G/c wait the steady state adds to TTFT."""

from __future__ import annotations

import math

import numpy as np
import pytest

from servecast.serving.aggregated import steady_state
from servecast.serving.load import Load
from servecast.serving.queueing import erlang_c, slot_wait_ms


def test_erlang_c_matches_the_closed_forms_of_one_and_two_servers():
    one, two = erlang_c(np.array([1.0, 2.0]), np.array([0.5, 1.0]))
    assert one == pytest.approx(0.5)  # M/M/1: the utilisation
    assert two == pytest.approx(1 / 3)  # M/M/2 with one server busy on average


def test_erlang_c_stays_finite_for_thousands_of_slots_and_is_one_at_capacity():
    many, full = erlang_c(np.array([2048.0, 16.0]), np.array([1900.0, 16.0]))
    assert 0 < many < 1e-2
    assert full == 1.0


def test_deterministic_service_waits_half_the_exponential_wait():
    exponential, deterministic = (
        slot_wait_ms(np.array([4.0]), np.array([0.003]), np.array([1000.0]), cv2) for cv2 in (1.0, 0.0)
    )
    assert deterministic[0] == pytest.approx(exponential[0] / 2)
    assert math.isinf(slot_wait_ms(np.array([4.0]), np.array([0.004]), np.array([1000.0]), 0.0)[0])


def test_random_arrivals_wait_for_a_slot_only_when_the_kv_cache_nearly_fills(server):
    srv = server("trtllm", model="meta-llama/Llama-3.1-70B", version="1.0.0", isl=4000, osl=500, tp=2, spread=0.3)
    capacity = steady_state(srv, Load(full_batch=10**6)).requests_per_s
    light, heavy = (steady_state(srv, Load(request_rate_per_s=share * capacity)) for share in (0.2, 0.9))
    assert heavy.running > 0.8 * srv.running_limit
    assert heavy.ttft_ms > 4 * light.ttft_ms  # the prompt itself is no longer: the wait is for a slot
