#!/usr/bin/env bash
# Written by servecast: measures the simulated operating point once launch.sh's servers answer.
# Run it on the node launch.sh runs on: it reaches the servers at localhost.
set -euo pipefail
cd "$(dirname "$0")"
until curl -sf http://localhost:8000/v1/models > /dev/null; do sleep 5; done
mkdir -p results
python -m sglang.benchmark.serving --backend sglang --model Qwen/Qwen3-30B-A3B --host localhost --port 8000 --dataset-name random --random-input-len 2000 --random-output-len 200 --random-range-ratio 1 --max-concurrency 128 --num-prompts 1280 > results/client-0.log 2>&1 &
wait
