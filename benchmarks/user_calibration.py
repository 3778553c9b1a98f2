"""What `servecast calibrate` buys on the published measurements: a fifth of each source's configurations calibrate,
the other four fifths are predicted with and without the calibration.

Each published configuration (../shared/calibration/e2e.csv, mapped as benchmarks/e2e_accuracy.py maps it) becomes a
measured run with every mean it reports: TTFT, TPOT (mean ITL), end-to-end latency and output throughput (request,
total-token and per-GPU throughputs converted to output tokens per second). Medians and p99s are left out: a
calibration fits means. Every fifth configuration of each source (in file order) calibrates that source, as a user's
own runs would (one campaign: one tool, one setup), with the fit `servecast calibrate` runs; the source's other
configurations are scored, and a source with fewer than three calibrating configurations keeps the shipped model.
Both sides are predicted as
`servecast calibrate` predicts a run: the analytic means, and the simulation's where a finite run is offered more
than the server completes (the analytic means are unbounded there). The "shipped" column therefore differs from
e2e_accuracy.py's for the sources that benchmark simulates whole.

    uv run python benchmarks/user_calibration.py [--gpu H100|H200]     # about 25 minutes
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from e2e_accuracy import DATA, _gpu, _int, _source, case_for  # noqa: E402

from servecast.calibrate.user_fit import fit_user_calibration, predicted_means  # noqa: E402
from servecast.calibrate.user_rows import MIN_RUNS, CalibrationRow  # noqa: E402
from servecast.errors import ServecastError  # noqa: E402
from servecast.host import PluginHost  # noqa: E402
from servecast.serving.estimate import ServerCache  # noqa: E402

MEANS = {
    "output_throughput": ("throughput_tokens_per_s", lambda value, isl, osl, gpus: value),
    "output_throughput_per_gpu": ("throughput_tokens_per_s", lambda value, isl, osl, gpus: value * gpus),
    "request_throughput": ("throughput_tokens_per_s", lambda value, isl, osl, gpus: value * osl),
    "total_token_throughput": ("throughput_tokens_per_s", lambda value, isl, osl, gpus: value * osl / (isl + osl)),
    "mean_ttft": ("ttft_ms", lambda value, isl, osl, gpus: value),
    "ttft": ("ttft_ms", lambda value, isl, osl, gpus: value),
    "mean_itl": ("tpot_ms", lambda value, isl, osl, gpus: value),
    "mean_latency": ("e2e_ms", lambda value, isl, osl, gpus: value),
}
"""Published mean metrics, as the measured means a calibration row carries."""

PREFERRED = ("output_throughput", "output_throughput_per_gpu", "request_throughput", "total_token_throughput")
"""Of several throughputs of one configuration, the first listed is kept (they measure the same thing)."""


def configurations(host: PluginHost, rows: list[dict[str, str]]) -> dict[str, list[CalibrationRow]]:
    """Per source, its configurations in file order, each with every mean the source reports for it."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for number, row in enumerate(rows, start=2):
        if row["metric"] not in MEANS:
            continue
        case = case_for(host, row)
        if case.request is None:
            continue
        request = case.request
        key = (_source(row), request.model_dump_json())
        entry = merged.setdefault(key, {"request": request, "origin": f"e2e.csv, line {number}", "measured": {}})
        name, convert = MEANS[row["metric"]]
        isl, osl = _int(row["isl"]) or request.isl, _int(row["osl"]) or request.osl
        value = convert(float(row["value"]), isl, osl, request.tp * request.pp)
        rank = PREFERRED.index(row["metric"]) if row["metric"] in PREFERRED else 0
        if name not in entry["measured"] or rank < entry.setdefault("rank", {}).get(name, 99):
            entry["measured"][name] = value
            entry.setdefault("rank", {})[name] = rank
    result: dict[str, list[CalibrationRow]] = defaultdict(list)
    for (source, _), entry in merged.items():
        result[source].append(CalibrationRow(entry["origin"], entry["request"], entry["measured"]))
    return result


def errors(host: PluginHost, rows: list[CalibrationRow]) -> dict[str, list[float]]:
    """|predicted / measured - 1| per metric over `rows` (a row the model cannot serve counts as 100 %)."""
    cache = ServerCache()
    result: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        means = predicted_means(host, row.request, cache)
        for name, measured in row.measured.items():
            predicted = None if means is None else means[name]
            result[name].append(1.0 if predicted is None else abs(predicted / measured - 1))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", choices=("H100", "H200"), help="Only the rows measured on this GPU.")
    args = parser.parse_args()
    host = PluginHost.from_entry_points()
    rows = [row for row in csv.DictReader(DATA.open()) if args.gpu is None or _gpu(row) == args.gpu]
    by_source = configurations(host, rows)
    hosts: dict[str, PluginHost] = {}
    for source, configs in sorted(by_source.items()):
        chosen = configs[::5]
        if len(chosen) < MIN_RUNS:
            print(f"{source}: {len(chosen)} of {len(configs)} configurations, no calibration: it needs {MIN_RUNS}")
            continue
        request = chosen[0].request
        version = host.nearest_framework_version(request.framework, request.framework_version)[0].version
        try:
            report = fit_user_calibration(
                host, chosen, [version], None, ["e2e.csv"], "benchmarks/user_calibration.py", lambda _: None
            )
        except ServecastError as error:
            print(f"{source}: {len(chosen)} configurations, no calibration: {error.message}")
            continue
        calibration = report.calibration
        fitted = ", ".join(
            f"{name} {p.value:.3g} (shipped {p.shipped:.3g})"
            for name, p in calibration.parameters.items()
            if p.sigma is not None
        )
        width = f"priors x {calibration.prior_width:g}" if calibration.prior_width else "the shipped model kept"
        print(f"{source}: {len(chosen)} of {len(configs)} configurations -> {width}: {fitted}")
        hosts[source] = host.with_user_calibration(calibration)
    print(f"\n{'source':40} {'metric':24} {'rows':>5} {'shipped %':>10} {'calibrated %':>13}")
    totals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for source, configs in sorted(by_source.items()):
        held_out = [row for index, row in enumerate(configs) if index % 5]
        if not held_out:
            continue
        before, after = errors(host, held_out), errors(hosts.get(source, host), held_out)
        for metric in before:
            pairs = list(zip(before[metric], after[metric], strict=True))
            totals[metric] += pairs
            print(
                f"{source[:40]:40} {metric:24} {len(pairs):5d} {statistics.fmean(before[metric]) * 100:10.1f} "
                f"{statistics.fmean(after[metric]) * 100:13.1f}"
            )
    print()
    for metric, pairs in sorted(totals.items()):
        shipped = statistics.fmean(b for b, _ in pairs) * 100
        calibrated = statistics.fmean(a for _, a in pairs) * 100
        print(f"{'all held-out rows':40} {metric:24} {len(pairs):5d} {shipped:10.1f} {calibrated:13.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
