"""Solving xPyD compositions for their sequences per decode worker: the bisection's contract."""

from __future__ import annotations

import numpy as np

from servecast.serving.disaggregated import _BISECTIONS, _bisect


def test_the_bisection_finds_where_an_increasing_function_crosses_the_target():
    high = np.array([10.0, 100.0, 1000.0])
    found = _bisect(np.square, high, np.array([4.0, 2500.0, 2.0]))
    np.testing.assert_allclose(found, [2.0, 50.0, np.sqrt(2.0)], rtol=0, atol=1000 * 2.0**-_BISECTIONS * 2)


def test_the_whole_range_qualifying_gives_its_top_even_where_the_function_dips_above():
    """Closed-loop users per decode batch need not increase near prefill saturation: where the top of the range
    already meets the target, it is the answer (a bisection would stop at an earlier crossing)."""

    def hump(x):
        return np.where((x > 3) & (x < 7), 10.0, x / 10)

    assert _bisect(hump, np.array([10.0]), np.array([1.0]))[0] == 10.0
