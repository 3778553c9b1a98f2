"""JSON output is standard JSON: unbounded and undefined numbers are null, and their object says what they were."""

from __future__ import annotations

import json
import math

import numpy as np

from servecast.json_text import json_text


def test_non_finite_numbers_become_null_with_their_meaning_beside_them():
    text = json_text({"best": [{"ttft_ms": math.inf, "tpot_ms": 12.5}], "ratio": np.float64("nan")})
    document = json.loads(text, parse_constant=lambda constant: (_ for _ in ()).throw(ValueError(constant)))
    assert document["best"][0] == {
        "ttft_ms": None,
        "tpot_ms": 12.5,
        "non_finite": {"ttft_ms": document["best"][0]["non_finite"]["ttft_ms"]},
    }
    assert document["best"][0]["non_finite"]["ttft_ms"].startswith("inf: unbounded")
    assert document["non_finite"]["ratio"].startswith("nan")


def test_finite_documents_are_unchanged_apart_from_numpy_scalars():
    data = {"a": [1, 2.5, "x", None], "b": {"c": True}, "n": np.int64(3)}
    assert json.loads(json_text(data)) == {"a": [1, 2.5, "x", None], "b": {"c": True}, "n": 3}
