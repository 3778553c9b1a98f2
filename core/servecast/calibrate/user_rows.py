"""Measured runs turned into the configurations servecast predicts: the file's settings completed by the command
line, checked to belong to one system and framework, and checked against each other."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from servecast.calibrate.runs import MeasuredRun
from servecast.errors import InputError
from servecast.host import PluginHost
from servecast.serving.request import EstimateRequest

MIN_RUNS = 3
"""Fewest runs a fit accepts: two cannot be cross-validated against a third."""

CONTRADICTION_RATIO = 1.5
"""Two runs of one configuration whose means of a metric differ by more than this factor contradict each other."""


LOADS = ("concurrency", "request_rate", "batch_size")
"""The fields that state a run's load; one of them must be known."""

REPLACEABLE = frozenset({"model"})
"""Settings the command line replaces rather than contradicts: a file names the model as it was served (a local
path, a served-model name), which need not be a model servecast knows."""


@dataclass(frozen=True)
class CalibrationRow:
    """One measured run as servecast predicts it."""

    origin: str
    request: EstimateRequest
    measured: Mapping[str, float]


def calibration_rows(
    runs: Sequence[MeasuredRun],
    defaults: Mapping[str, object],
    system: str,
    framework: str,
    versions: Mapping[int, str],
) -> list[CalibrationRow]:
    """Each run's request: its file's settings, then `defaults` (the command line's options) for what the file does
    not state (and for REPLACEABLE settings, in place of the file's), at its modelled version of `versions` (by
    index); an InputError naming the file and line where a run contradicts the options, belongs to another system or
    framework, states no load, cannot be predicted, or contradicts another run."""
    rows = [
        _row(run, {**defaults, "framework_version": versions[index]}, system, framework)
        for index, run in enumerate(runs)
    ]
    if len(rows) < MIN_RUNS:
        raise InputError(
            f"{len(rows)} measured run(s) read; a calibration needs at least {MIN_RUNS}",
            "benchmark the deployment at a few loads (e.g. concurrency 1, 8, 32) and pass every result file",
        )
    _check_consistent(rows)
    return rows


def calibrated_versions(
    host: PluginHost, runs: Sequence[MeasuredRun], system: str, framework: str, release: str | None
) -> tuple[dict[int, str], list[str]]:
    """The modelled version each run is predicted with (by its index), and the notes saying where another modelled
    version stands for a release. With `release` (the command line's) every run is that release's, and a run whose
    file states a release of another modelled version is an InputError; otherwise each run is its file's release,
    and the newest modelled version where its file states none. A run of another system or framework is an
    InputError (its release would be another framework's)."""
    chosen = host.nearest_framework_version(framework, release) if release is not None else None
    versions: dict[int, str] = {}
    notes: set[str] = set()
    for index, run in enumerate(runs):
        check_belongs(run, system, framework)
        stated = run.settings.get("framework_version")
        modelled, note = host.nearest_framework_version(framework, None if stated is None else str(stated))
        if chosen is not None:
            if stated is not None and modelled.version != chosen[0].version:
                raise InputError(
                    f"{run.origin}: a run of {framework} {stated}, but --framework-version is {release} "
                    f"(modelled as {chosen[0].version})",
                    "drop --framework-version (each run is then its own release's), or pass runs of that release",
                )
            modelled, note = chosen
        versions[index] = modelled.version
        if note:
            notes.add(note)
    return versions, sorted(notes)


def check_belongs(run: MeasuredRun, system: str, framework: str) -> None:
    """An InputError when the run's file states another system or framework than the calibration's."""
    for name, expected in (("system", system), ("framework", framework)):
        stated = run.settings.get(name)
        if stated is not None and str(stated) != expected:
            raise InputError(
                f"{run.origin}: a run on {name} {stated!r}, but the calibration is for {name} {expected!r}",
                f"calibrate each {name} separately: pass only runs on {expected!r}",
            )


def _row(run: MeasuredRun, defaults: Mapping[str, object], system: str, framework: str) -> CalibrationRow:
    check_belongs(run, system, framework)
    settings = dict(run.settings)
    settings.pop("framework_version", None)  # resolved by calibrated_versions
    for name, value in defaults.items():
        stated = settings.get(name)
        if name in REPLACEABLE:
            settings[name] = value
        elif stated is not None and name not in ("system", "framework") and str(stated) != str(value):
            raise InputError(
                f"{run.origin}: the file says {name} = {stated!r}, the command line --{name.replace('_', '-')} "
                f"{value!r}",
                "drop the option (the file's value is used) or pass runs that match it",
            )
        settings.setdefault(name, value)
    settings.update(system=system, framework=framework)
    if not any(name in settings for name in LOADS):
        raise InputError(
            f"{run.origin}: the file does not state the load the run was measured under",
            "give --concurrency N (closed-loop users), --request-rate R or --batch-size N (every request at once); "
            "trtllm-bench's report, for one, does not record its --concurrency",
        )
    missing = [name for name in ("model", "isl", "osl") if name not in settings]
    if missing:
        flags = ", ".join(f"--{name}" for name in missing)
        raise InputError(f"{run.origin}: the run does not state {', '.join(missing)}", f"give {flags}")
    request = EstimateRequest.parse_input(settings, f"run at {run.origin}", "fix the file or the command line")
    _check_own(run)
    return CalibrationRow(run.origin, request, dict(run.measured))


def _check_own(run: MeasuredRun) -> None:
    """A run whose own means cannot all be true: a request that ends before its first token."""
    measured = run.measured
    if not measured:
        raise InputError(f"{run.origin}: no measured metric", "give ttft_ms, tpot_ms, e2e_ms or throughput")
    for name, value in measured.items():
        if not value > 0:
            raise InputError(f"{run.origin}: {name} = {value!r} is not a positive number", "fix the measurement")
    if "e2e_ms" in measured and "ttft_ms" in measured and measured["e2e_ms"] < measured["ttft_ms"]:
        raise InputError(
            f"{run.origin}: mean end-to-end latency {measured['e2e_ms']:g} ms is below mean TTFT "
            f"{measured['ttft_ms']:g} ms",
            "check the units of the two columns (both in milliseconds)",
        )


def _check_consistent(rows: Sequence[CalibrationRow]) -> None:
    """Two runs of one configuration must roughly agree, and a closed loop cannot deliver more tokens than its
    users' latency allows."""
    seen: dict[str, CalibrationRow] = {}
    for row in rows:
        key = row.request.model_copy(update={"id": None, "num_requests": None}).model_dump_json()
        other = seen.setdefault(key, row)
        for name, value in row.measured.items():
            earlier = other.measured.get(name)
            if (
                other is not row
                and earlier is not None
                and max(value, earlier) > CONTRADICTION_RATIO * min(value, earlier)
            ):
                raise InputError(
                    f"{row.origin} and {other.origin} measure the same configuration with {name} {value:g} and "
                    f"{earlier:g}",
                    "rerun it, or drop the run that went wrong (warm-up, another server on the GPUs)",
                )
        _check_littles_law(row)


def _check_littles_law(row: CalibrationRow) -> None:
    users, measured = row.request.concurrency, row.measured
    throughput, e2e = measured.get("throughput_tokens_per_s"), measured.get("e2e_ms")
    if users is None or throughput is None:
        return
    if e2e is None and "ttft_ms" in measured and "tpot_ms" in measured:
        e2e = measured["ttft_ms"] + (row.request.osl - 1) * measured["tpot_ms"]
    if e2e is None:
        return
    most = users * row.request.osl / (e2e / 1000.0)
    if throughput > CONTRADICTION_RATIO * most:
        raise InputError(
            f"{row.origin}: {throughput:,.0f} output tokens/s from {users} users whose requests of {row.request.osl} "
            f"output tokens take {e2e:,.0f} ms is more than {most:,.0f} tokens/s they can receive",
            "check the throughput's unit (output tokens per second of the whole run) and the output length",
        )
