#!/usr/bin/env bash
# Written by servecast: measures the simulated operating point once launch.sh's servers answer.
# Run it on the node launch.sh runs on: it reaches the servers at localhost.
set -euo pipefail
cd "$(dirname "$0")"
until curl -sf http://localhost:8100/v1/models > /dev/null; do sleep 5; done
until curl -sf http://localhost:8101/v1/models > /dev/null; do sleep 5; done
mkdir -p results
python -m tensorrt_llm.serve.scripts.benchmark_serving --backend openai --model Qwen/Qwen3-8B --host localhost --port 8100 --random-ids --ignore-eos --dataset-name random --random-input-len 2000 --random-output-len 200 --random-range-ratio 0 --max-concurrency 32 --num-prompts 320 > results/client-0.log 2>&1 &
python -m tensorrt_llm.serve.scripts.benchmark_serving --backend openai --model Qwen/Qwen3-8B --host localhost --port 8101 --random-ids --ignore-eos --dataset-name random --random-input-len 2000 --random-output-len 200 --random-range-ratio 0 --max-concurrency 32 --num-prompts 320 > results/client-1.log 2>&1 &
wait
