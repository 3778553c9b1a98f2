"""Benchmark result files of vLLM, SGLang, genai-perf, AIPerf, trtllm-bench and plain CSV read as measured runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servecast.calibrate.formats import FORMATS, read_runs
from servecast.calibrate.runs import MEASURED_METRICS
from servecast.errors import InputError
from servecast.serving.request import EstimateRequest

DATA = Path(__file__).parent / "data"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
SAMPLES = sorted(path.name for path in DATA.iterdir())


def _sample(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def _write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        read_runs(path)
    return str(caught.value)


# vLLM


def test_vllm_result_maps_max_concurrency_to_closed_loop_users() -> None:
    (run,) = read_runs(DATA / "vllm_llama31_8b_h100_c16.json")
    assert run.origin == str(DATA / "vllm_llama31_8b_h100_c16.json")
    assert run.settings == {"model": MODEL, "isl": 1000, "osl": 200, "concurrency": 16, "num_requests": 320}


def test_vllm_result_keeps_the_means_of_ttft_tpot_e2el_and_output_throughput() -> None:
    (run,) = read_runs(DATA / "vllm_llama31_8b_h100_c16.json")
    assert run.measured == {
        "ttft_ms": 48.712,
        "tpot_ms": 9.6203,
        "e2e_ms": 1963.1497,
        "throughput_tokens_per_s": 1623.8373,
    }


def test_vllm_appended_results_give_a_finite_rate_and_an_unlimited_batch_one_run_a_line() -> None:
    path = DATA / "vllm_llama31_8b_h100_rates.jsonl"
    rate, burst = read_runs(path)
    assert (rate.origin, burst.origin) == (f"{path}, line 1", f"{path}, line 2")
    assert rate.settings["request_rate"] == 4.0 and "concurrency" not in rate.settings
    assert burst.settings["batch_size"] == 64 and burst.settings["num_requests"] == 64
    assert "e2e_ms" not in rate.measured  # e2el is only written with --percentile-metrics


def test_vllm_lengths_are_means_over_completed_requests(tmp_path: Path) -> None:
    data = _sample("vllm_llama31_8b_h100_c16.json") | {
        "completed": 300,
        "failed": 20,
        "total_input_tokens": 301500,
        "total_output_tokens": 55731,
    }
    (run,) = read_runs(_write(tmp_path, "r.json", data))
    assert (run.settings["isl"], run.settings["osl"]) == (1005, 186)


def test_vllm_detailed_lists_give_the_lengths_when_totals_are_absent(tmp_path: Path) -> None:
    data = _sample("vllm_llama31_8b_h100_c16.json")
    del data["total_input_tokens"], data["total_output_tokens"]
    data |= {"input_lens": [900, 1100], "output_lens": [150, 251]}
    (run,) = read_runs(_write(tmp_path, "r.json", data))
    assert (run.settings["isl"], run.settings["osl"]) == (1000, 200)


def test_vllm_tpot_falls_back_to_the_mean_inter_token_latency(tmp_path: Path) -> None:
    data = _sample("vllm_llama31_8b_h100_c16.json")
    del data["mean_tpot_ms"]
    (run,) = read_runs(_write(tmp_path, "r.json", data))
    assert run.measured["tpot_ms"] == 9.5731


def test_vllm_concurrency_above_the_prompts_sent_is_capped_at_them(tmp_path: Path) -> None:
    data = _sample("vllm_llama31_8b_h100_c16.json") | {"max_concurrency": 64, "num_prompts": 32, "completed": 32}
    (run,) = read_runs(_write(tmp_path, "r.json", data))
    assert run.settings["concurrency"] == 32


def test_vllm_ramp_up_run_is_refused_for_want_of_one_load(tmp_path: Path) -> None:
    data = _sample("vllm_llama31_8b_h100_c16.json") | {"ramp_up_strategy": "linear", "max_concurrency": None}
    assert "ramp-up" in _error(_write(tmp_path, "r.json", data))


def test_vllm_bursty_arrivals_are_refused_as_not_poisson(tmp_path: Path) -> None:
    data = _sample("vllm_llama31_8b_h100_c16.json") | {"max_concurrency": None, "request_rate": 4.0, "burstiness": 0.5}
    assert "burstiness = 0.5" in _error(_write(tmp_path, "r.json", data))


# SGLang


def test_sglang_lines_map_max_concurrency_and_ignore_the_measured_concurrency() -> None:
    path = DATA / "sglang_llama31_8b_h100.jsonl"
    low, high = read_runs(path)
    assert low.origin == f"{path}, line 1"
    assert (low.settings["concurrency"], high.settings["concurrency"]) == (8, 32)
    assert high.measured["e2e_ms"] == 2579.439 and high.measured["tpot_ms"] == 12.6027
    assert high.settings["num_requests"] == 640


def test_sglang_server_info_states_model_framework_version_and_layout() -> None:
    run = read_runs(DATA / "sglang_llama31_8b_h100.jsonl")[0]
    assert {key: run.settings[key] for key in ("model", "framework", "framework_version", "tp", "pp", "ep")} == {
        "model": MODEL,
        "framework": "sglang",
        "framework_version": "0.5.3",
        "tp": 1,
        "pp": 1,
        "ep": 1,
    }


def test_sglang_without_server_info_states_no_model_or_framework(tmp_path: Path) -> None:
    line = json.loads((DATA / "sglang_llama31_8b_h100.jsonl").read_text(encoding="utf-8").splitlines()[0])
    line |= {"server_info": None, "max_concurrency": None}
    (run,) = read_runs(_write(tmp_path, "s.jsonl", json.dumps(line) + "\n"))
    assert run.settings == {"isl": 1000, "osl": 200, "batch_size": 160, "num_requests": 160}


def test_sglang_data_parallel_layout_is_left_to_the_command_line(tmp_path: Path) -> None:
    line = json.loads((DATA / "sglang_llama31_8b_h100.jsonl").read_text(encoding="utf-8").splitlines()[0])
    line["server_info"] |= {"tp_size": 8, "dp_size": 8, "enable_dp_attention": True}
    (run,) = read_runs(_write(tmp_path, "s.jsonl", json.dumps(line) + "\n"))
    assert "tp" not in run.settings and run.settings["framework"] == "sglang"


def test_sglang_trace_replay_is_refused_for_want_of_one_load(tmp_path: Path) -> None:
    line = json.loads((DATA / "sglang_llama31_8b_h100.jsonl").read_text(encoding="utf-8").splitlines()[0])
    line |= {"request_rate": "trace", "max_concurrency": None}
    assert "trace" in _error(_write(tmp_path, "s.jsonl", json.dumps(line) + "\n"))


# genai-perf and AIPerf


def test_genai_perf_export_reads_stimulus_concurrency_lengths_and_means() -> None:
    (run,) = read_runs(DATA / "genai_perf_llama31_8b_c16.json")
    assert run.settings == {"model": MODEL, "isl": 1000, "osl": 200, "concurrency": 16, "num_requests": 320}
    assert run.measured == {
        "ttft_ms": 52.3118,
        "tpot_ms": 9.6447,
        "e2e_ms": 1971.4207,
        "throughput_tokens_per_s": 1609.8216,
    }


def test_genai_perf_times_in_nanoseconds_are_converted_to_milliseconds(tmp_path: Path) -> None:
    data = _sample("genai_perf_llama31_8b_c16.json")
    data["time_to_first_token"] = {"unit": "ns", "avg": 52311800.0}
    (run,) = read_runs(_write(tmp_path, "p.json", data))
    assert run.measured["ttft_ms"] == pytest.approx(52.3118)


def test_genai_perf_unknown_time_unit_is_refused(tmp_path: Path) -> None:
    data = _sample("genai_perf_llama31_8b_c16.json")
    data["request_latency"] = {"unit": "fortnights", "avg": 1.0}
    assert "'fortnights'" in _error(_write(tmp_path, "p.json", data))


def test_genai_perf_before_its_config_file_reads_the_flat_arguments(tmp_path: Path) -> None:
    data = _sample("genai_perf_llama31_8b_c16.json")
    data["input_config"] = {"model": [MODEL], "concurrency": None, "request_rate": 2.5, "streaming": True}
    (run,) = read_runs(_write(tmp_path, "p.json", data))
    assert run.settings["model"] == MODEL and run.settings["request_rate"] == 2.5


def test_aiperf_export_reads_loadgen_and_endpoint_model() -> None:
    (run,) = read_runs(DATA / "aiperf_llama31_8b_c32.json")
    assert run.settings == {"model": MODEL, "isl": 1000, "osl": 200, "concurrency": 32, "num_requests": 640}
    assert run.measured["tpot_ms"] == 12.9012 and run.measured["throughput_tokens_per_s"] == 2418.9213


def test_aiperf_run_stating_no_load_ran_at_the_default_concurrency_of_one(tmp_path: Path) -> None:
    data = _sample("aiperf_llama31_8b_c32.json")
    config = data["input_config"]
    assert isinstance(config, dict)
    del config["loadgen"]
    (run,) = read_runs(_write(tmp_path, "a.json", data))
    assert run.settings["concurrency"] == 1


# trtllm-bench


def test_trtllm_report_states_framework_layout_limits_and_streaming_means() -> None:
    (run,) = read_runs(DATA / "trtllm_bench_llama31_8b_h100.json")
    assert run.settings == {
        "framework": "trtllm",
        "num_requests": 1000,
        "model": MODEL,
        "framework_version": "1.0.0",
        "isl": 1000,
        "osl": 200,
        "tp": 1,
        "pp": 1,
        "ep": 1,
        "max_batch_size": 512,
        "max_num_tokens": 8192,
    }
    assert run.measured == {
        "ttft_ms": 5120.7187,
        "tpot_ms": 33.9003,
        "e2e_ms": 11866.8046,
        "throughput_tokens_per_s": 9316.8813,
    }


def test_trtllm_report_without_streaming_keeps_latency_and_throughput(tmp_path: Path) -> None:
    data = _sample("trtllm_bench_llama31_8b_h100.json")
    del data["streaming_metrics"]
    (run,) = read_runs(_write(tmp_path, "t.json", data))
    assert set(run.measured) == {"e2e_ms", "throughput_tokens_per_s"}


# CSV


def test_csv_rows_convert_numeric_fields_and_keep_names_as_text() -> None:
    path = DATA / "llama31_8b_h100_runs.csv"
    c1, c16, rate = read_runs(path)
    assert c1.origin == f"{path}, line 2"
    assert c16.settings == {"id": "c16", "model": MODEL, "isl": 1000, "osl": 200, "concurrency": 16, "tp": 1}
    assert rate.settings["request_rate"] == 4.0 and isinstance(rate.settings["request_rate"], float)
    assert c16.measured == {"ttft_ms": 48.7, "tpot_ms": 9.62, "e2e_ms": 1963.1, "throughput_tokens_per_s": 1624.0}


def test_csv_unknown_column_is_refused_listing_the_allowed_ones(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "r.csv", "model,isl,osl,users,ttft_ms\nm,1000,200,16,40\n"))
    assert "'users'" in message and "concurrency" in message and "throughput_tokens_per_s" in message


def test_csv_bad_number_names_the_line_and_quotes_the_value(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "r.csv", "isl,osl,concurrency,ttft_ms\n1000,200,16,40\n1000,200,1.5,41\n"))
    assert "line 3" in message and "concurrency = '1.5'" in message


def test_csv_negative_mean_is_refused(tmp_path: Path) -> None:
    assert "ttft_ms = '-4'" in _error(_write(tmp_path, "r.csv", "isl,osl,ttft_ms\n1000,200,-4\n"))


def test_csv_suffixless_file_is_recognised_by_its_header(tmp_path: Path) -> None:
    (run,) = read_runs(_write(tmp_path, "runs.txt", "isl,osl,concurrency,tpot_ms\n1000,200,4,7.5\n"))
    assert run.settings == {"isl": 1000, "osl": 200, "concurrency": 4}


def test_content_decides_over_the_suffix(tmp_path: Path) -> None:
    (run,) = read_runs(_write(tmp_path, "r.csv", (DATA / "vllm_llama31_8b_h100_c16.json").read_text(encoding="utf-8")))
    assert run.settings["concurrency"] == 16


# Bad input


def test_malformed_json_names_the_line_and_column(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "r.json", '{\n  "completed": 320,\n  "mean_ttft_ms": 48.7,\n}\n'))
    assert "not valid JSON" in message and "line 4" in message


def test_malformed_json_lines_name_the_broken_line(tmp_path: Path) -> None:
    good = (DATA / "sglang_llama31_8b_h100.jsonl").read_text(encoding="utf-8").splitlines()[0]
    message = _error(_write(tmp_path, "s.jsonl", f"{good}\n{good[:200]}\n"))
    assert "s.jsonl, line 2: not valid JSON" in message


def test_run_that_completed_no_request_is_refused(tmp_path: Path) -> None:
    data = _sample("vllm_llama31_8b_h100_c16.json") | {"completed": 0, "total_input_tokens": 0}
    assert "completed = 0" in _error(_write(tmp_path, "r.json", data))


def test_negative_ttft_is_refused_quoting_the_value(tmp_path: Path) -> None:
    data = _sample("vllm_llama31_8b_h100_c16.json") | {"mean_ttft_ms": -48.7}
    assert "mean_ttft_ms = -48.7 is negative" in _error(_write(tmp_path, "r.json", data))


def test_zero_and_non_finite_means_are_dropped_as_not_measured(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.json", json.dumps(_sample("vllm_llama31_8b_h100_c16.json") | {"mean_ttft_ms": 0.0}))
    path.write_text(path.read_text(encoding="utf-8").replace('"mean_e2el_ms": 1963.1497', '"mean_e2el_ms": NaN'))
    (run,) = read_runs(path)
    assert set(run.measured) == {"tpot_ms", "throughput_tokens_per_s"}


def test_run_without_a_usable_metric_is_refused(tmp_path: Path) -> None:
    data = _sample("trtllm_bench_llama31_8b_h100.json")
    del data["streaming_metrics"]
    data["performance"] = {"total_latency_ms": 0.0}
    assert "no usable measured mean" in _error(_write(tmp_path, "t.json", data))


def test_non_numeric_completed_count_is_refused(tmp_path: Path) -> None:
    data = _sample("vllm_llama31_8b_h100_c16.json")
    data["completed"] = "all"
    assert "completed = 'all' is not a number" in _error(_write(tmp_path, "r.json", data))


def test_unknown_format_lists_the_formats_accepted(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "r.json", {"results": [1, 2, 3]}))
    assert "keys: results" in message and all(name in message for name in FORMATS)


def test_text_in_no_format_lists_the_formats_accepted(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "notes.txt", "throughput was good today\n"))
    assert all(name in message for name in FORMATS)


def test_missing_empty_and_non_utf8_files_are_named(tmp_path: Path) -> None:
    assert "not found" in _error(tmp_path / "absent.json")
    assert "empty" in _error(_write(tmp_path, "blank.json", "\n\n"))
    binary = tmp_path / "r.json"
    binary.write_bytes(b'{"completed": \xff}')
    assert "not UTF-8" in _error(binary)


# Every sample


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_gives_valid_estimate_requests_with_positive_means(name: str) -> None:
    defaults: dict[str, object] = {"model": MODEL, "system": "h100_sxm", "framework": "vllm", "isl": 1, "osl": 1}
    for run in read_runs(DATA / name):
        assert set(run.measured) <= set(MEASURED_METRICS) and all(value > 0 for value in run.measured.values())
        stated_load = any(load in run.settings for load in ("concurrency", "request_rate", "batch_size"))
        EstimateRequest.parse({**defaults, **({} if stated_load else {"batch_size": 1000}), **run.settings})
