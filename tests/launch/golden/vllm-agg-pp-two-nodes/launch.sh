#!/usr/bin/env bash
# Written by servecast: starts this node's workers (and the router on the head node), logs under logs/.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p logs
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
NODE_RANK="${1:?usage: launch.sh NODE_RANK (0 to 1; 0 is the head node)}"
case "$NODE_RANK" in
  0)
    env CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 ray start --head --block --port 6379 > logs/agg-0-ray-head.log 2>&1 &
    until ray status > /dev/null 2>&1; do sleep 2; done
    env CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 vllm serve Qwen/Qwen3-32B --host 0.0.0.0 --port 8000 --tensor-parallel-size 8 --pipeline-parallel-size 2 --max-num-seqs 64 --max-num-batched-tokens 8192 --enable-chunked-prefill --no-enable-prefix-caching --gpu-memory-utilization 0.9 --compilation-config '{"cudagraph_capture_sizes":[1,2,4,8,16,24,32,40,48,56,64,72,80,88,96,104,112,120,128]}' --distributed-executor-backend ray > logs/agg-0.log 2>&1 &
    ;;
  1)
    HEAD_ADDR="${HEAD_ADDR:?set HEAD_ADDR: the head node address, reachable from every node}"
    env CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 ray start --block --address "$HEAD_ADDR":6379 > logs/agg-0-ray-1.log 2>&1 &
    ;;
  *)
    echo "launch.sh: unknown NODE_RANK '$NODE_RANK' (give 0 to 1; 0 is the head node)" >&2
    exit 2
    ;;
esac
wait
