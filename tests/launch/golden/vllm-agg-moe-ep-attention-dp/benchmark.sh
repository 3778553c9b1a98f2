#!/usr/bin/env bash
# Written by servecast: measures the simulated operating point once launch.sh's servers answer.
# Run it on the node launch.sh runs on: it reaches the servers at localhost.
set -euo pipefail
cd "$(dirname "$0")"
until curl -sf http://localhost:8000/v1/models > /dev/null; do sleep 5; done
mkdir -p results
vllm bench serve --backend vllm --model Qwen/Qwen3-30B-A3B --base-url http://localhost:8000 --ignore-eos --dataset-name random --random-input-len 2000 --random-output-len 200 --random-range-ratio 0 --max-concurrency 128 --num-prompts 1280 --random-prefix-len 0 > results/client-0.log 2>&1 &
wait
