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
    NODE1_ADDR="${NODE1_ADDR:?set NODE1_ADDR: node 1 address}"
    env CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 mpirun -H "$HEAD_ADDR":8,"$NODE1_ADDR":8 -n 16 -x CUDA_VISIBLE_DEVICES trtllm-llmapi-launch trtllm-serve Qwen/Qwen3-32B --host 0.0.0.0 --port 8000 --backend pytorch --tp_size 8 --pp_size 2 --ep_size 1 --max_batch_size 64 --max_num_tokens 8192 --kv_cache_free_gpu_memory_fraction 0.9 --extra_llm_api_options extra-llm-api-agg-0.yml > logs/agg-0.log 2>&1 &
    ;;
  1)
    echo "launch.sh: node $NODE_RANK starts nothing itself: a launcher on another node starts its processes"
    exit 0
    ;;
  *)
    echo "launch.sh: unknown NODE_RANK '$NODE_RANK' (give 0 to 1; 0 is the head node)" >&2
    exit 2
    ;;
esac
wait
