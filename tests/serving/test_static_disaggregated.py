"""Static batching and disaggregated prefill/decode pools."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from servecast.errors import InputError
from servecast.serving.disaggregated import Pool, disaggregated_steady_state, kv_transfer_ms
from servecast.serving.load import Load
from servecast.serving.policy import ServerRole
from servecast.serving.static import static_batch


def test_a_static_batch_prefills_together_then_decodes_with_a_growing_kv_cache(server):
    srv = server("trtllm", version="0.14.0", isl=512, osl=64)
    result = static_batch(srv, 16)
    assert result.ttft_ms == pytest.approx(srv.steps.iteration_ms(0, 0, 16 * 512, 16, 0)[0])
    assert result.e2e_ms == pytest.approx(result.ttft_ms + 63 * result.tpot_ms)
    assert result.throughput_tokens_per_s == pytest.approx(16 * 64 / result.e2e_ms * 1000)
    assert static_batch(srv, 64).tpot_ms > result.tpot_ms


def test_a_static_batch_larger_than_the_kv_cache_is_rejected_with_the_batch_that_fits(server):
    srv = server("trtllm", version="0.14.0", isl=4000, osl=4000)
    fits = srv.sequences_that_fit(8000)
    with pytest.raises(InputError, match=f"--batch-size {fits} or fewer"):
        static_batch(srv, fits + 1)


def pools(server, prefill_workers=1, decode_workers=1, decode_batch=256, **lengths):
    prefill = server("vllm", version="0.10.2", role=ServerRole.PREFILL, tp=1, **lengths)
    decode = server("vllm", version="0.10.2", role=ServerRole.DECODE, tp=2, **lengths)
    return Pool(prefill, prefill_workers, 1), Pool(decode, decode_workers, decode_batch)


def test_disaggregated_gpus_are_the_workers_times_their_layouts(host, server):
    prefill, decode = pools(server, prefill_workers=3, decode_workers=2)
    result = disaggregated_steady_state(prefill, decode, host.hardware.get("h100_sxm"), Load(concurrency=64))
    assert result.num_gpus == 3 * 1 + 2 * 2


def test_disaggregated_ttft_includes_the_kv_transfer_and_more_workers_never_lower_throughput(host, server):
    hardware = host.hardware.get("h100_sxm")
    prefill, decode = pools(server, isl=4000, osl=300)
    transfer = kv_transfer_ms(prefill, decode, hardware)
    assert transfer > decode.server.settings.kv_transfer_ms
    one = disaggregated_steady_state(prefill, decode, hardware, Load(concurrency=4))
    assert one.ttft_ms > transfer
    throughput = [
        disaggregated_steady_state(*pools(server, p, d, isl=4000, osl=300), hardware, Load(concurrency=256))
        for p, d in ((1, 1), (2, 1), (2, 2), (4, 2))
    ]
    totals = [result.throughput_tokens_per_s for result in throughput]
    assert all(more >= fewer * (1 - 1e-9) for fewer, more in itertools.pairwise(totals))  # equal where one pool binds


def test_kv_transfer_between_nodes_is_slower_than_inside_one(host, server):
    hardware = host.hardware.get("h100_sxm")
    prefill, decode = pools(server, isl=4000, osl=300)
    inside = kv_transfer_ms(prefill, decode, hardware)
    across = kv_transfer_ms(Pool(prefill.server, 4, 1), Pool(decode.server, 4, 256), hardware)
    assert across > inside


def test_disaggregated_ttft_includes_the_front_end_time_of_the_prefill_server(host, server):
    hardware = host.hardware.get("h100_sxm")
    prefill, decode = pools(server, isl=2000, osl=200)
    settings = replace(prefill.server.settings, request_ms=prefill.server.settings.request_ms + 40.0)
    slow = Pool(replace(prefill.server, settings=settings), prefill.workers, prefill.batch)
    load = Load(request_rate_per_s=1.0)
    base = disaggregated_steady_state(prefill, decode, hardware, load).ttft_ms
    assert disaggregated_steady_state(slow, decode, hardware, load).ttft_ms == pytest.approx(base + 40.0, rel=0.01)
