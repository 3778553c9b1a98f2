"""Benchmark result files read as measured runs, whichever tool wrote them, so calibration fits the user's runs.

The format is told from the content; the suffix only hints at it.
"""

from __future__ import annotations

import json
from pathlib import Path

from servecast.calibrate.formats import genai_perf, plain_csv, sglang_bench, trtllm_bench, vllm_bench
from servecast.calibrate.formats.fields import Record
from servecast.calibrate.runs import MeasuredRun
from servecast.errors import InputError
from servecast.files import read_input_text

__all__ = ["FORMATS", "read_runs"]

FORMATS = {
    "vllm": "`vllm bench serve --save-result` JSON (or benchmark_serving.py's; --append-result: one run a line)",
    "sglang": "`python -m sglang.bench_serving --output-file` JSON Lines, one run a line",
    "genai-perf": "NVIDIA genai-perf's profile_export_genai_perf.json",
    "aiperf": "NVIDIA AIPerf's profile_export_aiperf.json",
    "trtllm-bench": "`trtllm-bench throughput --report_json` report",
    "csv": "a CSV of EstimateRequest columns (model, isl, osl, concurrency, tp, ...) and the measured means ttft_ms, "
    "tpot_ms, e2e_ms, throughput_tokens_per_s",
}
"""The formats `read_runs` accepts, by name, each with a line saying what it is."""


def read_runs(path: Path) -> list[MeasuredRun]:
    """The measured runs in the result file at `path`; an InputError naming the file (and line) when it cannot be
    read, is in no format listed in FORMATS, or holds a run that cannot be used."""
    text = read_input_text(path, "result file", "pass the file the benchmark tool wrote")
    suffix = path.suffix.lower()
    if text.lstrip()[:1] in ("{", "["):
        return _json_runs(path, text, lines=suffix == ".jsonl")
    if suffix == ".csv" or (suffix not in (".json", ".jsonl") and plain_csv.header_is_known(text)):
        return plain_csv.read_rows(path, text)
    raise _unknown(str(path), "neither JSON nor a CSV with known columns")


def _json_runs(path: Path, text: str, *, lines: bool) -> list[MeasuredRun]:
    """One run for a JSON object; one a line for JSON Lines (several objects, or a `.jsonl` file)."""
    if not lines:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as whole:
            first = next(line for line in text.splitlines() if line.strip())
            try:
                json.loads(first)
            except json.JSONDecodeError:
                raise InputError(
                    f"{path}: not valid JSON: {whole.msg} at line {whole.lineno}, column {whole.colno}",
                    "pass the file the benchmark tool wrote, unedited",
                ) from None
        else:
            return [_run(data, str(path))]
    runs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        origin = f"{path}, line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(
                f"{origin}: not valid JSON: {error.msg} at column {error.colno}",
                "each line holds one run's JSON object; remove or repair a line cut short (an interrupted run)",
            ) from None
        runs.append(_run(data, origin))
    return runs


def _run(data: object, origin: str) -> MeasuredRun:
    """The run in one JSON value, by the keys that tell the tools apart."""
    if not isinstance(data, dict):
        raise _unknown(origin, f"a JSON {type(data).__name__}, not an object")
    record: Record = data
    if trtllm_bench.is_report(record):
        return trtllm_bench.read_report(record, origin)
    if genai_perf.is_export(record):
        return genai_perf.read_export(record, origin)
    if sglang_bench.is_result(record):
        return sglang_bench.read_result(record, origin)
    if vllm_bench.is_result(record):
        return vllm_bench.read_result(record, origin)
    keys = ", ".join(list(map(str, record))[:8]) or "none"
    raise _unknown(origin, f"a JSON object no benchmark tool listed writes (keys: {keys})")


def _unknown(origin: str, what: str) -> InputError:
    listing = "; ".join(f"{name}: {description}" for name, description in FORMATS.items())
    return InputError(f"{origin}: {what}", f"pass a result file in one of the formats read: {listing}")
