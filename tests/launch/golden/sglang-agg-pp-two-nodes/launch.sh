#!/usr/bin/env bash
# Written by servecast: starts this node's workers (and the router on the head node), logs under logs/.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p logs
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
NODE_RANK="${1:?usage: launch.sh NODE_RANK (0 to 1; 0 is the head node)}"
case "$NODE_RANK" in
  0)
    HEAD_ADDR="${HEAD_ADDR:?set HEAD_ADDR: the head node address, reachable from every node}"
    env CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 python -m sglang.launch_server --model-path Qwen/Qwen3-32B --host 0.0.0.0 --port 8000 --tp-size 8 --pp-size 2 --max-running-requests 64 --max-prefill-tokens 8192 --chunked-prefill-size 8192 --disable-radix-cache --mem-fraction-static 0.801 --cuda-graph-bs-decode 1 2 4 8 12 16 24 32 40 48 56 64 72 80 88 96 104 112 120 128 136 144 152 160 168 176 184 192 200 208 216 224 232 240 248 256 272 288 304 320 336 352 368 384 400 416 432 448 464 480 496 512 --nnodes 2 --dist-init-addr "$HEAD_ADDR":5000 --node-rank 0 > logs/agg-0-node0.log 2>&1 &
    ;;
  1)
    HEAD_ADDR="${HEAD_ADDR:?set HEAD_ADDR: the head node address, reachable from every node}"
    env CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 python -m sglang.launch_server --model-path Qwen/Qwen3-32B --host 0.0.0.0 --port 8000 --tp-size 8 --pp-size 2 --max-running-requests 64 --max-prefill-tokens 8192 --chunked-prefill-size 8192 --disable-radix-cache --mem-fraction-static 0.801 --cuda-graph-bs-decode 1 2 4 8 12 16 24 32 40 48 56 64 72 80 88 96 104 112 120 128 136 144 152 160 168 176 184 192 200 208 216 224 232 240 248 256 272 288 304 320 336 352 368 384 400 416 432 448 464 480 496 512 --nnodes 2 --dist-init-addr "$HEAD_ADDR":5000 --node-rank 1 > logs/agg-0-node1.log 2>&1 &
    ;;
  *)
    echo "launch.sh: unknown NODE_RANK '$NODE_RANK' (give 0 to 1; 0 is the head node)" >&2
    exit 2
    ;;
esac
wait
