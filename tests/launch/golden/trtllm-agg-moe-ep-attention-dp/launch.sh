#!/usr/bin/env bash
# Written by servecast: starts this node's workers (and the router on the head node), logs under logs/.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p logs
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
env CUDA_VISIBLE_DEVICES=0,1,2,3 trtllm-serve Qwen/Qwen3-30B-A3B --host 0.0.0.0 --port 8000 --backend pytorch --tp_size 4 --pp_size 1 --ep_size 4 --max_batch_size 32 --max_num_tokens 8192 --kv_cache_free_gpu_memory_fraction 0.9 --extra_llm_api_options extra-llm-api-agg-0.yml > logs/agg-0.log 2>&1 &
wait
