"""Write the shipped prediction intervals from the out-of-sample predictions of the published rows, and check them.

Reads the rows `benchmarks/e2e_accuracy.py --loso --loso-csv PATH` predicted with every parameter fitted on the
other sources (and rows no parameter was fitted to, such as H200's, from its `--csv` output), and writes the
quantiles of log(measured / predicted) per metric and serving mode, for a setup not seen (each source's median error
is an offset a new setup draws from, plus the rows' residuals around their source's), to
core/servecast/serving/prediction_errors.toml.
Then checks the intervals out of sample: each source's rows against quantiles computed without that source,
reporting the share of rows whose measurement falls inside p10-p90.

    uv run python benchmarks/e2e_accuracy.py --gpu H100 --loso --loso-csv /tmp/h100.csv   # about 40 minutes
    uv run python benchmarks/e2e_accuracy.py --gpu H200 --csv /tmp/h200.csv               # a few minutes
    uv run python scripts/prediction_errors.py /tmp/h100.csv /tmp/h200.csv [--check-only]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from servecast.domain.user_calibration import ErrorQuantiles
from servecast.files import write_text_atomically
from servecast.serving.intervals import POOLED, SHIPPED_ERRORS, PredictionErrors

OUTPUT = Path(__file__).resolve().parents[1] / "core" / "servecast" / "serving" / SHIPPED_ERRORS

METRIC_OF_FAMILY = {
    "throughput": "throughput_tokens_per_s",
    "ttft": "ttft_ms",
    "tpot/itl": "tpot_ms",
    "e2e latency": "e2e_ms",
}
"""The interval metric each family of published metrics scores (per-GPU and request throughputs are throughputs)."""


def read_errors(paths: list[Path]) -> list[tuple[str, str, str, float]]:
    """(source, metric, mode, log(measured / predicted)) of every row predicted out of sample."""
    rows = []
    for path in paths:
        with path.open() as handle:
            for row in csv.DictReader(handle):
                measured, predicted = float(row["value"]), float(row["predicted"])
                if measured > 0 and 0 < predicted < math.inf:
                    metric = METRIC_OF_FAMILY[row["family"]]
                    rows.append((row["source_name"], metric, row["regime"], math.log(measured / predicted)))
    return rows


def quantiles(
    errors: list[tuple[str, str, str, float]], pooled_rows: bool = False
) -> dict[tuple[str, str], ErrorQuantiles]:
    """p10/p50/p90 per (metric, mode) and per metric over every mode, for a deployment of a setup not seen: each
    source's median error is its own offset, and a new one draws an offset from the sources' and a residual from
    the rows' (`pooled_rows`: the rows' own quantiles, as if every source were the same setup)."""
    groups: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    for source, metric, regime, error in errors:
        groups[(metric, regime)].append((source, error))
        groups[(metric, POOLED)].append((source, error))
    result = {}
    for key, rows in sorted(groups.items()):
        values = np.array([error for _, error in rows])
        if not pooled_rows:
            by_source: dict[str, list[float]] = defaultdict(list)
            for source, error in rows:
                by_source[source].append(error)
            offsets = {source: float(np.median(found)) for source, found in by_source.items()}
            centred = np.array([error - offsets[source] for source, error in rows])
            values = np.add.outer(np.array(list(offsets.values())), centred).ravel()
        p10, p50, p90 = (float(q) for q in np.quantile(values, [0.1, 0.5, 0.9]))
        result[key] = ErrorQuantiles(p10=p10, p50=p50, p90=p90, rows=len(rows))
    return result


def coverage(errors: list[tuple[str, str, str, float]], pooled_rows: bool = False) -> dict[str, list[bool]]:
    """Per metric, whether each row's measurement falls inside the p10-p90 interval of quantiles fitted without
    its source."""
    result: dict[str, list[bool]] = defaultdict(list)
    for source in sorted({row[0] for row in errors}):
        others = PredictionErrors("check", quantiles([row for row in errors if row[0] != source], pooled_rows))
        for _, metric, regime, error in (row for row in errors if row[0] == source):
            fitted = others.quantiles_of(metric, regime)
            if fitted is not None:
                result[metric].append(fitted.p10 <= error <= fitted.p90)
    return result


def toml_text(fitted: dict[tuple[str, str], ErrorQuantiles], rows: int) -> str:
    lines = [
        "# Prediction intervals of the shipped model: written by scripts/prediction_errors.py, do not edit by hand.",
        "schema_version = 1",
        f'basis = "out-of-sample errors of {rows} published measurements (../shared/calibration/e2e.csv), each '
        f'predicted with no parameter fitted to its source; {dt.date.today().isoformat()}"',
    ]
    for (metric, regime), q in fitted.items():
        lines += ["", f"[quantiles.{metric}.{regime}]", f"p10 = {q.p10:.4f}", f"p50 = {q.p50:.4f}"]
        lines += [f"p90 = {q.p90:.4f}", f"rows = {q.rows}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "predictions", type=Path, nargs="+", help="Out-of-sample predictions: e2e_accuracy.py's --loso-csv (or --csv)."
    )
    parser.add_argument("--check-only", action="store_true", help="Report coverage; write nothing.")
    args = parser.parse_args()
    errors = read_errors(args.predictions)
    fitted = quantiles(errors)
    print(f"{len(errors)} out-of-sample rows\n\n{'metric':24} {'mode':8} {'rows':>5} {'p10':>8} {'p50':>8} {'p90':>8}")
    for (metric, regime), q in fitted.items():
        print(
            f"{metric:24} {regime:8} {q.rows:5d} {math.expm1(q.p10):+8.1%} {math.expm1(q.p50):+8.1%} "
            f"{math.expm1(q.p90):+8.1%}"
        )
    print("\ncoverage of p10-p90 intervals fitted without each row's source (target 70-90 %):")
    for label, pooled in (("source offsets (shipped)", False), ("rows pooled", True)):
        for metric, inside in coverage(errors, pooled).items():
            print(f"  {label:26} {metric:24} {sum(inside):4d} of {len(inside):4d} = {sum(inside) / len(inside):.0%}")
    if not args.check_only:
        write_text_atomically(OUTPUT, toml_text(fitted, len(errors)))
        print(f"\nwrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
