#!/usr/bin/env bash
# Written by servecast: starts this node's workers (and the router on the head node), logs under logs/.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p logs
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
env CUDA_VISIBLE_DEVICES=0,1 python -m sglang.launch_server --model-path Qwen/Qwen3-8B --host 0.0.0.0 --port 8100 --tp-size 2 --max-running-requests 32 --max-prefill-tokens 8192 --chunked-prefill-size 8192 --disable-radix-cache --mem-fraction-static 0.829 --cuda-graph-bs-decode 1 2 4 8 12 16 24 32 40 48 56 64 72 80 88 96 104 112 120 128 136 144 152 160 168 176 184 192 200 208 216 224 232 240 248 256 > logs/agg-0.log 2>&1 &
env CUDA_VISIBLE_DEVICES=2,3 python -m sglang.launch_server --model-path Qwen/Qwen3-8B --host 0.0.0.0 --port 8101 --tp-size 2 --max-running-requests 32 --max-prefill-tokens 8192 --chunked-prefill-size 8192 --disable-radix-cache --mem-fraction-static 0.829 --cuda-graph-bs-decode 1 2 4 8 12 16 24 32 40 48 56 64 72 80 88 96 104 112 120 128 136 144 152 160 168 176 184 192 200 208 216 224 232 240 248 256 > logs/agg-1.log 2>&1 &
wait
