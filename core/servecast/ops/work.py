"""What an op costs in arithmetic and memory traffic, from its shape: the input of every roofline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from servecast.arrays import FloatArray
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind

ACTIVATION_BYTES = 2
"""Activations, attention inputs and outputs, and what collectives move, are 16-bit."""


@dataclass(frozen=True)
class Work:
    """FLOPs and HBM bytes per op (for communication ops, `bytes` is the payload and `flops` is zero)."""

    flops: FloatArray
    bytes: FloatArray


def causal_pairs(q_len: FloatArray, kv_len: FloatArray, window: FloatArray) -> FloatArray:
    """Query-key pairs one sequence computes: `q_len` new queries after `kv_len - q_len` cached tokens, causal.

    With a sliding window (window > 0) query i sees at most `window` keys.
    """
    past = kv_len - q_len
    full = q_len * past + q_len * (q_len + 1) / 2
    capped = np.where(window > 0, window, np.inf)
    growing = np.clip(capped - past, 0, q_len)
    windowed = growing * past + growing * (growing + 1) / 2 + (q_len - growing) * np.where(window > 0, window, 0)
    return np.where(window > 0, windowed, full)


def attention_pairs(s: Mapping[str, FloatArray]) -> FloatArray:
    """Query-key pairs per sequence of a context attention, causal or not."""
    dense = s["q_len"] * attended_kv(s["kv_len"], s["window"])
    return np.where(s["causal"] > 0, causal_pairs(s["q_len"], s["kv_len"], s["window"]), dense)


def attended_kv(kv_len: FloatArray, window: FloatArray) -> FloatArray:
    """Keys read per sequence: the KV length, capped by the sliding window."""
    return np.where(window > 0, np.minimum(kv_len, window), kv_len)


def busiest_rank_pairs(mean: FloatArray, ranks: FloatArray) -> FloatArray:
    """The expected largest of `ranks` loads of `mean` token-expert pairs each under independent uniform routing:
    the mean plus its Poisson spread times the Gaussian maximum's sqrt(2 ln n). Every expert-parallel step waits
    for this rank, so even perfectly popular-balanced experts (what EPLB aims at) leave this much imbalance."""
    spread = np.sqrt(2 * mean * np.log(np.maximum(ranks, 1)))
    return mean + spread


def moe_routing(s: Mapping[str, FloatArray], busiest: bool = False) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Token-expert pairs on a GPU (the mean, or with `busiest` the busiest GPU's, which every expert-parallel step
    waits for), the expert slots it holds that receive tokens, and one expert's weights. The `imbalance` shape
    scales both."""
    experts_here = (s["experts"] + s["redundant"]) / s["ep"]
    mean = s["tokens"] * s["top_k"] / s["ep"]
    pairs = (busiest_rank_pairs(mean, s["ep"]) if busiest else mean) * s["imbalance"]
    pairs = np.minimum(pairs, s["tokens"] * np.minimum(s["top_k"], experts_here) * s["imbalance"])
    hit = experts_here * -np.expm1(s["tokens"] * s["top_k"] * np.log1p(-1 / np.maximum(s["experts"], 2)))
    hit = np.minimum(np.maximum(hit, np.minimum(pairs, 1)), experts_here)
    width = s["intermediate"] / s["moe_tp"]
    expert_params = (2 + s["gated"]) * s["hidden"] * width
    return pairs, hit, expert_params


def op_work(kind: OpKind, s: Mapping[str, FloatArray], dtype: OpDtype) -> Work:
    """FLOPs and bytes of `kind` at normalized shapes `s` (see servecast.ops.shapes)."""
    if kind is OpKind.GEMM:
        m, n, k, batch = s["m"], s["n"], s["k"], s["batch"]
        flops = 2 * batch * m * n * k
        traffic = batch * (n * k * dtype.weight_bytes + m * k * dtype.activation_bytes + m * n * ACTIVATION_BYTES)
        return Work(flops, traffic)
    if kind is OpKind.CONTEXT_ATTENTION:
        pairs = attention_pairs(s)
        kv = attended_kv(s["kv_len"], s["window"])
        flops = 4 * s["batch"] * s["heads"] * s["head_dim"] * pairs
        traffic = (
            s["batch"]
            * s["head_dim"]
            * (2 * s["q_len"] * s["heads"] * ACTIVATION_BYTES + 2 * kv * s["kv_heads"] * s["kv_bytes"])
        )
        return Work(flops, traffic)
    if kind is OpKind.DECODE_ATTENTION:
        kv = attended_kv(s["kv_len"], s["window"])
        flops = 4 * s["batch"] * s["heads"] * s["head_dim"] * kv
        traffic = (
            s["batch"] * s["head_dim"] * (2 * kv * s["kv_heads"] * s["kv_bytes"] + 2 * s["heads"] * ACTIVATION_BYTES)
        )
        return Work(flops, traffic)
    if kind is OpKind.MLA_CONTEXT:
        dims = s["qk_head_dim"] + s["v_head_dim"]
        pairs = causal_pairs(s["q_len"], s["kv_len"], np.zeros_like(s["q_len"]))
        flops = 2 * s["batch"] * s["heads"] * dims * pairs
        traffic = s["batch"] * s["heads"] * dims * (s["q_len"] + s["kv_len"]) * ACTIVATION_BYTES
        return Work(flops, traffic)
    if kind is OpKind.MLA_DECODE:
        cached = s["latent_dim"] + s["rope_dim"]
        flops = 2 * s["batch"] * s["heads"] * s["kv_len"] * (cached + s["latent_dim"])
        traffic = s["batch"] * (s["kv_len"] * cached * s["kv_bytes"] + 2 * s["heads"] * cached * ACTIVATION_BYTES)
        return Work(flops, traffic)
    if kind is OpKind.MOE:
        pairs, hit, expert_params = moe_routing(s)
        width = s["intermediate"] / s["moe_tp"]
        activations = pairs * (2 * s["hidden"] + (2 + s["gated"]) * width) * ACTIVATION_BYTES
        return Work(2 * pairs * expert_params, hit * expert_params * dtype.weight_bytes + activations)
    if kind is OpKind.ELEMENTWISE:
        return Work(np.zeros_like(s["bytes"]), s["bytes"])
    return Work(np.zeros_like(s["message_bytes"]), s["message_bytes"])
