"""Request traces: the public formats read alike, bad traces named by line, and the simulation replaying a trace's
arrivals and lengths."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from servecast.cli import cli
from servecast.errors import InputError
from servecast.serving.estimate import estimate
from servecast.serving.request import EstimateRequest
from servecast.serving.trace import Trace, read_trace

REQUESTS = [(0.0, 1200, 80), (250.0, 600, 300), (250.0, 2400, 40), (1750.0, 900, 120)]
"""(arrival ms, input tokens, output tokens)."""


def mooncake(rows: list[tuple[float, int, int]]) -> str:
    lines = [
        json.dumps({"timestamp": t, "input_length": i, "output_length": o, "hash_ids": [0, 1]}) for t, i, o in rows
    ]
    return "\n".join(lines) + "\n"


FORMATS = {
    "mooncake.jsonl": mooncake(REQUESTS),
    "azure.csv": "TIMESTAMP,ContextTokens,GeneratedTokens\n"
    + "".join(f"2023-11-16 18:15:{46 + t / 1000:09.6f}0,{i},{o}\n" for t, i, o in REQUESTS),
    "burstgpt.csv": "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
    + "".join(f"{5 + t / 1000},ChatGPT,{i},{o},{i + o},Conversation log\n" for t, i, o in REQUESTS),
    "seconds.csv": "timestamp_s,input_tokens,output_tokens\n"
    + "".join(f"{t / 1000},{i},{o}\n" for t, i, o in REQUESTS),
    "milliseconds.csv": "timestamp_ms,input_tokens,output_tokens,session_id\n"
    + "".join(f"{t},{i},{o},s{n}\n" for n, (t, i, o) in enumerate(REQUESTS)),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_gives_the_same_arrivals_and_lengths(tmp_path, name):
    path = tmp_path / name
    path.write_text(FORMATS[name])
    trace = read_trace(path)
    np.testing.assert_allclose(trace.arrival_ms, [t for t, _, _ in REQUESTS], atol=1e-3)
    assert trace.input_tokens.tolist() == [i for _, i, _ in REQUESTS]
    assert trace.output_tokens.tolist() == [o for _, _, o in REQUESTS]
    assert trace.request_rate_per_s == pytest.approx(3 / 1.75)


BAD = {
    "a timestamp before the one above it": (
        mooncake([(0.0, 10, 10), (500.0, 10, 10), (400.0, 10, 10)]),
        "line 3: its timestamp comes before line 2's",
    ),
    "a missing field": ('{"timestamp": 0, "input_length": 10}\n', "line 1: no 'output_length'"),
    "a fraction of a token": (mooncake([(0.0, 10, 10), (5.0, 10.5, 10)]), "line 2: input_length = 10.5"),
    "no tokens": (mooncake([(0.0, 10, 0)]), "line 1: output_length = 0"),
    "a line that is not JSON": ('{"timestamp": 0, "input_length": 1, "output_length": 1}\nnot json\n', "line 2"),
    "unknown columns": ("time,prompt,reply\n0,1,1\n", "no trace format"),
    "a missing value": ("timestamp_s,input_tokens,output_tokens\n0,10,10\n1,,10\n", "line 3: no 'input_tokens'"),
    "a bad date": ("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,10,10\n", "line 2: TIMESTAMP = 'yesterday'"),
    "nothing": ("\n\n", "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_trace_is_refused_naming_its_line(tmp_path, case):
    text, message = BAD[case]
    path = tmp_path / ("trace.jsonl" if text.lstrip().startswith("{") else "trace.csv")
    path.write_text(text)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_trace(path)


def test_a_trace_at_one_instant_has_no_rate(tmp_path):
    path = tmp_path / "burst.jsonl"
    path.write_text(mooncake([(0.0, 10, 10), (0.0, 20, 10)]))
    with pytest.raises(InputError, match="arrive at one instant"):
        read_trace(path).request_rate_per_s  # noqa: B018


def synthetic(count: int, rate_per_s: float, seed: int = 0) -> Trace:
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1000.0 / rate_per_s, count)
    arrivals = np.cumsum(gaps) - gaps[0]
    inputs = np.clip(rng.lognormal(np.log(800), 0.8, count), 16, 8000).astype(np.int64)
    outputs = np.clip(rng.lognormal(np.log(150), 0.6, count), 2, 2000).astype(np.int64)
    return Trace(arrivals, inputs, outputs, "synthetic", "test")


def request(trace: Trace, **changes: object) -> EstimateRequest:
    values = {"model": "Qwen/Qwen3-8B", "system": "h100_sxm", "framework": "vllm", **trace.request_fields()}
    return EstimateRequest.parse(values | changes)


def test_the_simulation_replays_every_request_of_the_trace(host):
    trace = synthetic(400, 4.0)
    result = estimate(host, request(trace), percentiles=True, trace=trace)
    assert result.percentiles is not None and result.trace is not None
    assert result.percentiles["simulated_requests"] == 400
    assert result.percentiles["requests_per_s"] == pytest.approx(trace.request_rate_per_s, rel=0.1)
    assert result.trace["requests"] == 400


def test_a_busier_trace_waits_longer(host):
    calm, busy = synthetic(400, 2.0), synthetic(400, 2.0)
    busy = Trace(busy.arrival_ms / 8, busy.input_tokens, busy.output_tokens, "busy", "test")  # 16 requests/s
    p99 = [
        estimate(host, request(trace), percentiles=True, trace=trace).percentiles["ttft_ms"]["p99"]
        for trace in (calm, busy)
    ]
    assert p99[1] > p99[0]


def test_replicas_take_turns_with_the_trace(host):
    trace = synthetic(400, 8.0)
    result = estimate(host, request(trace, replicas=2), percentiles=True, trace=trace)
    assert result.percentiles is not None and result.percentiles["simulated_requests"] == 200


def test_a_request_longer_than_the_context_is_refused(host):
    trace = synthetic(50, 4.0)
    trace.input_tokens[7] = 200_000
    with pytest.raises(InputError, match="a request of 200,"):
        estimate(host, request(trace), percentiles=True, trace=trace)


BASE = ["--model", "Qwen/Qwen3-8B", "--system", "h100_sxm"]


def test_the_cli_takes_its_lengths_and_load_from_the_trace(tmp_path):
    path = tmp_path / "trace.jsonl"
    trace = synthetic(300, 3.0)
    path.write_text(
        mooncake(
            list(zip(trace.arrival_ms.round(), trace.input_tokens.tolist(), trace.output_tokens.tolist(), strict=True))
        )
    )
    runner = CliRunner()
    result = runner.invoke(
        cli, ["estimate", *BASE, "--framework", "vllm", "--trace", str(path), "--percentiles", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["trace"]["requests"] == 300 and data["percentiles"]["simulated_requests"] == 300
    clash = runner.invoke(cli, ["estimate", *BASE, "--framework", "vllm", "--trace", str(path), "--isl", "100"])
    assert clash.exit_code == 2 and "--trace sets the lengths and the load" in clash.output
    search = runner.invoke(
        cli, ["search", *BASE, "--gpus", "1", "--frameworks", "vllm", "--trace", str(path), "--json"]
    )
    assert search.exit_code in (0, 4), search.output
    inputs = json.loads(search.stdout)["inputs"]
    assert (inputs["isl"], inputs["osl"]) == (round(trace.input_tokens.mean()), round(trace.output_tokens.mean()))
    missing = runner.invoke(cli, ["search", *BASE, "--gpus", "1", "--osl", "100"])
    assert missing.exit_code == 2 and "missing --isl" in missing.output


def test_the_python_api_takes_a_trace_as_a_path_or_a_trace(tmp_path, host):
    from servecast import api

    trace = synthetic(200, 4.0)
    path = tmp_path / "trace.jsonl"
    path.write_text(
        mooncake(list(zip(trace.arrival_ms, trace.input_tokens.tolist(), trace.output_tokens.tolist(), strict=True)))
    )
    fields = {"model": "Qwen/Qwen3-8B", "system": "h100_sxm", "host": host}
    replayed = api.estimate(framework="vllm", trace=path, percentiles=True, **fields)
    assert replayed.percentiles is not None and replayed.percentiles["simulated_requests"] == 200
    assert api.estimate(framework="vllm", trace=trace, **fields).request.isl == round(trace.input_tokens.mean())
    with pytest.raises(InputError, match="also given: isl"):
        api.estimate(framework="vllm", trace=trace, isl=100, **fields)
    recommended = api.recommend(trace=trace, frameworks=["vllm"], ttft_ms=2000, **fields)
    assert recommended.search.task.isl == round(trace.input_tokens.mean())
    assert f"{trace.request_rate_per_s:g}" in recommended.target
