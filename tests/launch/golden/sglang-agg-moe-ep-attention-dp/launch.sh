#!/usr/bin/env bash
# Written by servecast: starts this node's workers (and the router on the head node), logs under logs/.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p logs
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
env CUDA_VISIBLE_DEVICES=0,1,2,3 python -m sglang.launch_server --model-path Qwen/Qwen3-30B-A3B --host 0.0.0.0 --port 8000 --tp-size 4 --dp-size 4 --enable-dp-attention --moe-dense-tp-size 1 --ep-size 4 --max-running-requests 128 --max-prefill-tokens 8192 --chunked-prefill-size 8192 --disable-radix-cache --mem-fraction-static 0.789 --cuda-graph-bs-decode 1 2 4 8 12 16 24 32 40 48 56 64 72 80 88 96 104 112 120 128 136 144 152 160 168 176 184 192 200 208 216 224 232 240 248 256 > logs/agg-0.log 2>&1 &
wait
