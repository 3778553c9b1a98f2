#!/usr/bin/env bash
# Written by servecast: starts this node's workers (and the router on the head node), logs under logs/.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p logs
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
env CUDA_VISIBLE_DEVICES=0 trtllm-serve Qwen/Qwen3-8B --host 0.0.0.0 --port 8100 --backend pytorch --tp_size 1 --pp_size 1 --ep_size 1 --max_batch_size 2048 --max_num_tokens 8192 --kv_cache_free_gpu_memory_fraction 0.9 --extra_llm_api_options extra-llm-api-prefill-0.yml > logs/prefill-0.log 2>&1 &
env CUDA_VISIBLE_DEVICES=1 trtllm-serve Qwen/Qwen3-8B --host 0.0.0.0 --port 8101 --backend pytorch --tp_size 1 --pp_size 1 --ep_size 1 --max_batch_size 2048 --max_num_tokens 8192 --kv_cache_free_gpu_memory_fraction 0.9 --extra_llm_api_options extra-llm-api-prefill-1.yml > logs/prefill-1.log 2>&1 &
env CUDA_VISIBLE_DEVICES=2,3 trtllm-serve Qwen/Qwen3-8B --host 0.0.0.0 --port 8102 --backend pytorch --tp_size 2 --pp_size 1 --ep_size 1 --max_batch_size 48 --max_num_tokens 8192 --kv_cache_free_gpu_memory_fraction 0.9 --extra_llm_api_options extra-llm-api-decode-0.yml > logs/decode-0.log 2>&1 &
trtllm-serve disaggregated -c disagg.yml > logs/router.log 2>&1 &
wait
