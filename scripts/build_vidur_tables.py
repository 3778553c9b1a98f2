"""Build a hardware plugin's measured GEMM table from Vidur's published per-op profiles (H100 or A100).

    uv run python scripts/build_vidur_tables.py [--gpu H100|A100] [--measured ../shared/calibration/measured] \
        [--out PLUGIN/data/tables] [--exclude-model NAME ...] [--check]

Reads the `vidur` rows of one GPU in `gemm.csv.gz` (the models' transformer-block GEMMs, per-TP-shard (n, k), token
counts m from 1 to 4096; fp16, median of 20 repeats of Kineto kernel time; see SOURCES.md#vidur) and writes
`gemm.csv` with its `gemm.toml` sidecar: a table partitioned by (n, k) with m as its one axis. Rows measured more
than once (the same (n, k, m) in several models, or twice in one profile) take their median. Token counts beyond
4,096 (A100's Llama-3 profiles go to 32,768) are left out, so that every partition holds the same m values. The fp16
numbers stand for bf16 as well: both get the same tensor-core rate and move the same bytes on H100 and A100.

`--check` compares what would be written with the files in `--out` and exits 1 if they differ, so the committed
table can be tested against its source. The functions are importable: `benchmarks/kernels_accuracy.py` rebuilds the
table without one model to estimate that model out of sample.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MEASURED = REPO.parent / "shared" / "calibration" / "measured"

SOURCE = "vidur"
DTYPES = ("bf16", "fp16")
"""The CSV's dtype blocks, in the sidecar's order: the fp16 measurements written once per dtype."""
VIDUR_COMMIT = "7d47513363ec447a741ac5e47241580b47724fbf"
LARGEST_M = 4096
"""The token counts every profile measures up to; larger ones (A100's Llama-3 profiles) are left out."""


@dataclass(frozen=True)
class VidurGpu:
    """One GPU's Vidur profiles and the plugin table they become."""

    label: str
    """The GPU as gemm.csv.gz labels it."""
    hardware: str
    """The servecast system the table is registered for."""
    profile: str
    """Vidur's profile folder (data/profiling/compute/<profile>/)."""
    date: str
    """When Vidur committed the profiles (SOURCES.md#vidur)."""
    description: str
    out: Path


GPUS = {
    "H100": VidurGpu(
        "H100",
        "h100_sxm",
        "h100",
        "2024-05-14",
        "H100 80GB (form factor not stated by the source; very probably SXM: its fp16 GEMMs reach 894 TFLOPS, "
        "above the H100 PCIe and NVL dense peaks)",
        REPO / "plugins" / "hardware_h100" / "servecast_hardware_h100" / "data" / "tables",
    ),
    "A100": VidurGpu(
        "A100",
        "a100_sxm",
        "a100",
        "2024-07-24",
        "A100 80GB (form factor not stated by the source; very probably SXM: its fp16 GEMMs reach 272 TFLOPS, the "
        "A100 SXM's best published matmul rate (271 TFLOPS) and above the PCIe card's (253 TFLOPS))",
        REPO / "plugins" / "hardware_ampere" / "servecast_hardware_ampere" / "data" / "tables",
    ),
}
"""The GPUs Vidur profiled (commit e26eb8f on 2024-05-14; A100's Llama-3 profiles in 2bb7a08 on 2024-07-24)."""
H100 = GPUS["H100"]

METHOD = "Kineto kernel-time sum per op, median of 20 repeats, no CUDA graphs; per-TP-shard shapes on one GPU"
KEY = ["n", "k", "m"]


@dataclass(frozen=True)
class GemmTable:
    """A partitioned GEMM table: one latency per (n, k, m), every (n, k) holding the same m values."""

    rows: pd.DataFrame
    """Columns n, k, m (int) and latency_us (float), sorted by n, k, m."""
    models: tuple[str, ...]
    """The models whose rows were used."""
    source_rows: int
    """Measured rows read (after exclusion), before duplicates were merged."""
    merged: int
    """Rows merged away: source_rows minus the distinct (n, k, m) they cover."""
    merged_within: int
    """Of those, rows repeating a shape already in the same model's profile (another op or TP degree, or a rerun)."""
    max_spread: float
    """Largest (max - min) / median over a set of duplicate rows; 0 without duplicates."""
    max_spread_at: tuple[int, int, int] | None
    median_spread: float
    """Median (max - min) / median over the sets of duplicate rows; 0 without duplicates."""
    wide_spreads: int
    """Sets of duplicate rows whose spread exceeds 20 % of their median."""
    dropped: tuple[tuple[int, int, int], ...]
    """(n, k, missing m count) of partitions left out because they lack some m values."""

    @property
    def partitions(self) -> int:
        return int(self.rows.groupby(["n", "k"]).ngroups)

    @property
    def m_values(self) -> int:
        return int(self.rows["m"].nunique())


def read_measured(measured: Path, gpu: VidurGpu = H100) -> pd.DataFrame:
    """The Vidur GEMM rows of one GPU in `measured`/gemm.csv.gz, m up to LARGEST_M: model, n, k, m and latency_us."""
    frame = pd.read_csv(measured / "gemm.csv.gz", low_memory=False)
    rows = frame[(frame["source"] == SOURCE) & (frame["gpu"] == gpu.label) & (frame["m"] <= LARGEST_M)]
    if rows.empty:
        raise click.ClickException(
            f"{measured / 'gemm.csv.gz'} has no rows with source={SOURCE!r} and gpu={gpu.label!r}"
        )
    dtypes = set(rows["dtype"])
    if dtypes != {"fp16"}:
        raise click.ClickException(f"expected fp16 Vidur rows only, found {sorted(dtypes)}")
    rows = rows[["model", "n", "k", "m", "latency_us"]].copy()
    rows[["n", "k", "m"]] = rows[["n", "k", "m"]].astype(np.int64)
    return rows.reset_index(drop=True)


def model_matches(model: str, name: str) -> bool:
    """Whether `name` names `model`, in full ('meta-llama/Llama-2-7b-hf') or without its owner ('Llama-2-7b-hf')."""
    return name.lower() in {model.lower(), model.split("/")[-1].lower()}


def select_models(rows: pd.DataFrame, exclude: Iterable[str] = ()) -> pd.DataFrame:
    """`rows` without the models named in `exclude`; an error names any that matches no model."""
    models = sorted(set(rows["model"]))
    dropped: set[str] = set()
    for name in exclude:
        matched = {model for model in models if model_matches(model, name)}
        if not matched:
            raise click.ClickException(f"--exclude-model {name!r} matches no model (models: {', '.join(models)})")
        dropped |= matched
    return rows[~rows["model"].isin(dropped)]


def build_table(rows: pd.DataFrame, warn: bool = True) -> GemmTable:
    """Merge duplicate (n, k, m) rows by their median and keep the partitions that have every m value."""
    if rows.empty:
        raise click.ClickException("no measured rows are left to build a table from")
    grouped = rows.groupby(KEY)["latency_us"]
    merged = grouped.agg(["median", "min", "max", "size"]).reset_index()
    repeated = merged[merged["size"] > 1]
    spread = (repeated["max"] - repeated["min"]) / repeated["median"]
    worst = repeated.iloc[int(spread.to_numpy().argmax())] if len(repeated) else None
    all_m = set(merged["m"])
    complete = merged.groupby(["n", "k"])["m"].transform("nunique") == len(all_m)
    present: list[list[int]] = merged[~complete].groupby(["n", "k"])["m"].nunique().reset_index().to_numpy().tolist()
    dropped = tuple((n, k, len(all_m) - count) for n, k, count in present)
    if warn:
        for n, k, missing in dropped:
            click.echo(f"dropped partition n={n} k={k}: {missing} of {len(all_m)} m values missing", err=True)
    table = merged[complete].rename(columns={"median": "latency_us"})[[*KEY, "latency_us"]]
    return GemmTable(
        rows=table.sort_values(KEY).reset_index(drop=True),
        models=tuple(sorted(set(rows["model"]))),
        source_rows=len(rows),
        merged=len(rows) - len(merged),
        merged_within=len(rows) - int(rows.groupby(["model", *KEY]).ngroups),
        max_spread=float(spread.max()) if len(repeated) else 0.0,
        max_spread_at=None if worst is None else (int(worst["n"]), int(worst["k"]), int(worst["m"])),
        median_spread=float(spread.median()) if len(repeated) else 0.0,
        wide_spreads=int((spread > 0.2).sum()),
        dropped=dropped,
    )


def format_latency(value: float) -> str:
    """A latency with at most four decimals and no trailing zeros (2567.5, 12.3456, 8)."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def gemm_csv(table: GemmTable) -> str:
    """The table's CSV: header `dtype,n,k,m,latency`, one block of rows per dtype in the sidecar's order."""
    body = [
        f"{n},{k},{m},{format_latency(latency)}"
        for n, k, m, latency in table.rows[[*KEY, "latency_us"]].itertuples(index=False)
    ]
    lines = ["dtype,n,k,m,latency", *(f"{dtype},{row}" for dtype in DTYPES for row in body)]
    return "\n".join(lines) + "\n"


def _toml(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def gemm_toml(table: GemmTable, excluded: Sequence[str] = (), gpu: VidurGpu = H100) -> str:
    """The sidecar: what the numbers are, where they come from, and how the table was put together."""
    models = ", ".join(model.split("/")[-1] for model in table.models)
    rows = len(table.rows)
    notes = (
        f"fp16 measurements also stand for bf16 (same tensor-core rate and bytes on {gpu.label}). "
        "Duplicates across models (same n, k, m) take their median; bias is included for Qwen-72B and phi-2 "
        "where Vidur's op has it (QKV, and phi-2's up projection). "
        f"{table.partitions} (n, k) partitions x {table.m_values} m values = {rows} rows per dtype, "
        f"{rows * len(DTYPES)} rows in all, from {len(table.models)} models ({models})."
    )
    if excluded:
        notes += f" Built without {', '.join(excluded)}."
    dtypes = ", ".join(_toml(dtype) for dtype in DTYPES)
    lines = [
        f"# Built by `uv run python scripts/build_vidur_tables.py --gpu {gpu.label}` from Vidur's published "
        f"{gpu.label} profiles;",
        "# the numbers are in gemm.csv beside this file.",
        "schema_version = 1",
        f"hardware = {_toml(gpu.hardware)}",
        'framework = "any"',
        'framework_version = "any"',
        'op = "gemm"',
        f"dtypes = [{dtypes}]",
        'kernel = "cuBLAS through torch F.linear (Vidur\'s profiler)"',
        'partition = ["n", "k"]',
        'axes = ["m"]',
        'latency_unit = "us"',
        "",
        "[measurement]",
        'kind = "published_measurement"',
        f'tool = "Vidur compute profiler (microsoft/vidur@{VIDUR_COMMIT[:7]})"',
        f"date = {gpu.date}",
        f"gpu = {_toml(gpu.description)}",
        'software = "PyTorch and cuBLAS versions not recorded by the source"',
        f"method = {_toml(METHOD)}",
        f'by = "microsoft/vidur@{VIDUR_COMMIT} data/profiling/compute/{gpu.profile}/<model>/mlp.csv"',
        f"notes = {_toml(notes)}",
    ]
    return "\n".join(lines) + "\n"


def table_files(table: GemmTable, excluded: Sequence[str] = (), gpu: VidurGpu = H100) -> dict[str, str]:
    """File name -> text of everything the table is written as."""
    return {"gemm.csv": gemm_csv(table), "gemm.toml": gemm_toml(table, excluded, gpu)}


def write_tables(files: dict[str, str], out: Path) -> None:
    """Write `files` into `out`, creating it if needed."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")


def build_files(
    measured: Path, exclude: Sequence[str] = (), warn: bool = True, gpu: VidurGpu = H100
) -> tuple[GemmTable, dict[str, str]]:
    """Read, filter and merge one GPU's measurements, and render the table's files."""
    table = build_table(select_models(read_measured(measured, gpu), exclude), warn=warn)
    return table, table_files(table, exclude, gpu)


def summary(table: GemmTable) -> str:
    """What the table holds and how the duplicates agreed."""
    worst = ""
    if table.max_spread_at is not None:
        n, k, m = table.max_spread_at
        worst = f" at n={n} k={k} m={m}"
    lines = [
        f"models used      {len(table.models)}: {', '.join(table.models)}",
        f"partitions       {table.partitions} (n, k), each with the same {table.m_values} m values "
        f"({table.rows['m'].min()}..{table.rows['m'].max()})",
        f"rows             {len(table.rows)} per dtype x {len(DTYPES)} dtypes = {len(table.rows) * len(DTYPES)}",
        f"measured rows    {table.source_rows}; {table.merged} duplicates merged by their median "
        f"({table.merged_within} within one model's profile, {table.merged - table.merged_within} across models)",
        f"duplicate spread max {table.max_spread:.1%} of the median{worst}; median {table.median_spread:.1%}; "
        f"{table.wide_spreads} sets over 20 %",
        f"dropped          {len(table.dropped)} partitions lacking some m values",
    ]
    return "\n".join(lines)


@click.command()
@click.option("--gpu", "label", type=click.Choice(sorted(GPUS)), default="H100", show_default=True)
@click.option(
    "--measured",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DEFAULT_MEASURED,
    show_default=True,
    help="Folder holding gemm.csv.gz and SOURCES.md.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write gemm.csv and gemm.toml (default: the GPU's plugin's data/tables).",
)
@click.option("--exclude-model", "exclude", multiple=True, help="Leave out a model (full or short name); repeatable.")
@click.option("--check", is_flag=True, help="Compare with the files in --out instead of writing; exit 1 if different.")
def main(label: str, measured: Path, out: Path | None, exclude: tuple[str, ...], check: bool) -> None:
    gpu = GPUS[label]
    out = out or gpu.out
    table, files = build_files(measured, exclude, gpu=gpu)
    click.echo(summary(table))
    if check:
        stale = [name for name, text in files.items() if not (out / name).is_file() or (out / name).read_text() != text]
        if stale:
            click.echo(f"out of date in {out}: {', '.join(stale)} (rerun without --check)", err=True)
            sys.exit(1)
        click.echo(f"{out}: up to date")
        return
    write_tables(files, out)
    click.echo(f"wrote {', '.join(str(out / name) for name in files)}")


if __name__ == "__main__":
    main()
