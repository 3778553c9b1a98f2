"""Fitting a user calibration: robust least squares on log(predicted / measured), held near the shipped model by
priors, with the parameters the runs cannot identify left alone and every error cross-validated."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares  # type: ignore[import-untyped]

from servecast.calibrate.runs import MEASURED_METRICS
from servecast.calibrate.user_rows import CalibrationRow
from servecast.domain.user_calibration import (
    USER_PARAMETERS,
    Correction,
    ErrorQuantiles,
    FittedValue,
    UserCalibration,
)
from servecast.errors import InputError, ServecastError
from servecast.host import PluginHost
from servecast.serving.estimate import ServerCache, estimate
from servecast.serving.request import EstimateRequest

NOISE = 0.1
"""The spread of log(measured / predicted) a fit weighs each measurement by: a run repeated on the same server
varies by a few percent, and the model's structure misses by about ten (its published-row errors)."""

IDENTIFIED_SHARE = 0.5
"""A parameter is identified when the runs, not the prior, carry at least this share of its fitted precision."""

FAILED_RESIDUAL = np.log(10.0) / NOISE
"""The residual of a run the model cannot serve at some parameter value (its cache too small, say)."""

FOLDS = 5
"""Cross-validation folds (leave-one-out below five runs)."""

SHIPPED = {name: 1.0 if p.correction is Correction.SCALE else 0.0 for name, p in USER_PARAMETERS.items()}
"""Every user parameter's value in the shipped model: speeds of 1, offsets of 0."""

PRIOR_WIDTHS = (1.0, 0.5, 0.25)
"""Widths of the priors, relative to USER_PARAMETERS', that cross-validation chooses among (and the shipped model):
errors that vary from one configuration to the next are not a correction the runs can fit, and a narrower prior
keeps the fit from chasing them."""


@dataclass(frozen=True)
class Identification:
    """How much the runs say about one parameter: the share of its precision they carry."""

    name: str
    data_share: float

    @property
    def identified(self) -> bool:
        return self.data_share >= IDENTIFIED_SHARE


@dataclass(frozen=True)
class FitReport:
    """A fitted calibration and how it was reached."""

    calibration: UserCalibration
    identification: tuple[Identification, ...]
    evaluations: int
    in_fold: dict[str, np.ndarray]
    """Per metric, log(measured / predicted) of every run by the fit that saw it."""
    cross_validated: dict[str, np.ndarray]
    """Per metric, log(measured / predicted) of every run by the fit of the folds without it (what `errors`,
    the intervals, and the cross-validated MAPE are made of)."""


class _Space:
    """The parameters being fitted, in prior-sigma units around the shipped values (0 is the shipped model)."""

    def __init__(self, names: Sequence[str], width: float = 1.0) -> None:
        self.names = list(names)
        self.sigma = np.array([USER_PARAMETERS[name].prior_sigma * width for name in self.names])
        self.centre = np.array([_natural(name, SHIPPED[name]) for name in self.names])
        low, high = zip(*(USER_PARAMETERS[name].bounds for name in self.names), strict=True) if names else ((), ())
        natural_low = np.array([_natural(n, v) for n, v in zip(self.names, low, strict=True)])
        natural_high = np.array([_natural(n, v) for n, v in zip(self.names, high, strict=True)])
        self.bounds = ((natural_low - self.centre) / self.sigma, (natural_high - self.centre) / self.sigma)

    def values(self, z: np.ndarray) -> dict[str, float]:
        natural = self.centre + z * self.sigma
        return {name: _from_natural(name, float(x)) for name, x in zip(self.names, natural, strict=True)}


def _natural(name: str, value: float) -> float:
    """The coordinate a parameter's prior is normal in: log for a speed, the value itself otherwise."""
    return float(np.log(value)) if USER_PARAMETERS[name].correction is Correction.SCALE else value


def _from_natural(name: str, x: float) -> float:
    return float(np.exp(x)) if USER_PARAMETERS[name].correction is Correction.SCALE else x


class UserFit:
    """Predicts calibration rows under trial parameters and fits them."""

    def __init__(self, host: PluginHost, rows: Sequence[CalibrationRow], framework_versions: Sequence[str]) -> None:
        self.host = host
        self.rows = list(rows)
        self.framework_versions = tuple(framework_versions)
        self.evaluations = 0
        self.metrics = [(index, name) for index, row in enumerate(self.rows) for name in row.measured]
        self.measured = np.log([self.rows[index].measured[name] for index, name in self.metrics])

    def predicted(self, values: dict[str, float], rows: Sequence[int] | None = None) -> np.ndarray:
        """log(predicted) of every measured metric of `rows` (all by default); nan where the model cannot serve."""
        self.evaluations += 1
        host = self.host.with_user_calibration(self.trial(values))
        cache = ServerCache()
        chosen = set(range(len(self.rows)) if rows is None else rows)
        predictions: dict[int, dict[str, float]] = {}
        for index in sorted(chosen):
            means = predicted_means(host, self.rows[index].request, cache)
            if means is not None:
                predictions[index] = means
        result = np.full(len(self.metrics), np.nan)
        for position, (index, name) in enumerate(self.metrics):
            value = predictions.get(index, {}).get(name)
            if value is not None and 0 < value < np.inf:
                result[position] = np.log(value)
        return result

    def trial(self, values: dict[str, float]) -> UserCalibration:
        """A calibration holding `values` (every other parameter at the shipped model's)."""
        return UserCalibration(
            system=self.rows[0].request.system,
            framework=self.rows[0].request.framework,
            framework_versions=self.framework_versions,
            fitted_by="servecast calibrate (trial)",
            fitted_on=dt.date.today(),
            data=("trial",),
            rows=len(self.rows),
            parameters={
                name: FittedValue(value=value, shipped=SHIPPED[name], sigma=0.0, note="trial")
                for name, value in values.items()
            },
            errors={},
            mape={},
        )

    def residuals(self, space: _Space, z: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Data residuals (log error over NOISE) of the metrics of `rows`, then the prior's, in sigma units."""
        mask = self._mask(rows)
        data = (self.predicted(space.values(z), rows)[mask] - self.measured[mask]) / NOISE
        data = np.where(np.isnan(data), FAILED_RESIDUAL, data)
        return np.concatenate([data, z])

    def _mask(self, rows: Sequence[int]) -> np.ndarray:
        chosen = set(rows)
        return np.array([index in chosen for index, _ in self.metrics])

    def jacobian(self, space: _Space, z: np.ndarray, rows: Sequence[int], step: float = 0.2) -> np.ndarray:
        """Forward differences a fifth of a prior sigma wide: the model has steps (batch sizes, waves) that an
        infinitesimal difference would see as flat or as a cliff."""
        base = self.residuals(space, z, rows)
        columns = []
        for j in range(len(z)):
            moved = z.copy()
            high = space.bounds[1][j]
            moved[j] = z[j] + step if z[j] + step <= high else z[j] - step
            columns.append((self.residuals(space, moved, rows) - base) / (moved[j] - z[j]))
        return np.column_stack(columns) if columns else np.zeros((len(base), 0))

    def identify(self, names: Sequence[str]) -> tuple[Identification, ...]:
        """The share of each parameter's precision the runs carry, at the shipped values (the prior's is 1)."""
        space = _Space(names)
        everything = range(len(self.rows))
        jacobian = self.jacobian(space, np.zeros(len(names)), everything)[: len(self.metrics)]
        fisher = jacobian.T @ jacobian
        posterior = np.linalg.inv(fisher + np.eye(len(names)))
        return tuple(Identification(name, float(1 - posterior[j, j])) for j, name in enumerate(names))

    def fit(
        self, names: Sequence[str], rows: Sequence[int], width: float = 1.0, max_evaluations: int = 40
    ) -> tuple[_Space, np.ndarray]:
        """The parameters `names` fitted to the metrics of `rows` under priors `width` times their default width
        (soft-L1 loss: one wrong run cannot drag them)."""
        space = _Space(names, width)
        if not names:
            return space, np.zeros(0)
        result = least_squares(
            lambda z: self.residuals(space, z, rows),
            np.zeros(len(names)),
            jac=lambda z: self.jacobian(space, z, rows),
            bounds=space.bounds,
            loss="soft_l1",
            max_nfev=max_evaluations,
        )
        return space, np.asarray(result.x)

    def sigma(self, space: _Space, z: np.ndarray) -> np.ndarray:
        """One-sigma uncertainty of each fitted parameter in its natural unit, with the measurement noise taken from
        the fit's own residuals (a robust spread, at least 1 %)."""
        everything = range(len(self.rows))
        residuals = self.residuals(space, z, everything)[: len(self.metrics)] * NOISE
        spread = max(1.4826 * float(np.median(np.abs(residuals - np.median(residuals)))), 0.01)
        jacobian = self.jacobian(space, z, everything)
        jacobian[: len(self.metrics)] *= NOISE / spread
        covariance = np.linalg.inv(jacobian.T @ jacobian)  # the prior's rows are the jacobian's last ones
        sigma: np.ndarray = np.sqrt(np.diag(covariance)) * space.sigma
        return sigma


def predicted_means(host: PluginHost, request: EstimateRequest, cache: ServerCache) -> dict[str, float] | None:
    """The means of MEASURED_METRICS servecast predicts for a measured run (None where it cannot serve it). A run
    offered more requests per second than the server completes has unbounded steady-state means, but a finite run
    of `num_requests` does not: its means are the simulation's."""
    try:
        result = estimate(host, request, cache=cache)
        metrics = result.metrics
        if math.isfinite(metrics.ttft_ms) or request.num_requests is None:
            return {name: float(getattr(metrics, name)) for name in MEASURED_METRICS}
        simulated = estimate(host, request, percentiles=True, cache=cache).percentiles
    except ServecastError:
        return None
    assert simulated is not None
    return {
        "ttft_ms": simulated["ttft_ms"]["mean"],
        "tpot_ms": simulated["tpot_ms"]["mean"],
        "e2e_ms": simulated["e2e_ms"]["mean"],
        "throughput_tokens_per_s": simulated["throughput_tokens_per_s"],
    }


def folds(count: int, k: int = FOLDS) -> list[list[int]]:
    """Rows split into k interleaved folds after a fixed shuffle (leave-one-out below k rows)."""
    order = np.random.default_rng(0).permutation(count)
    k = min(k, count)
    return [sorted(int(i) for i in order[j::k]) for j in range(k)]


def _mape(log_predicted: np.ndarray, measured: np.ndarray, fit: UserFit) -> dict[str, float]:
    """Mean |predicted / measured - 1| in % per metric (runs the model cannot serve count as 100 %)."""
    errors = np.where(np.isnan(log_predicted), 1.0, np.abs(np.expm1(log_predicted - measured)))
    result = {}
    for metric in MEASURED_METRICS:
        chosen = [i for i, (_, name) in enumerate(fit.metrics) if name == metric]
        if chosen:
            result[metric] = round(float(np.mean(errors[chosen])) * 100, 2)
    return result


def fit_user_calibration(
    host: PluginHost,
    rows: Sequence[CalibrationRow],
    framework_versions: Sequence[str],
    names: Sequence[str] | None,
    data: Sequence[str],
    command: str,
    progress: Callable[[str], None] = lambda _: None,
    prior_widths: Sequence[float] = PRIOR_WIDTHS,
) -> FitReport:
    """Fit `names` (every parameter the runs identify when None) under the prior width, of `prior_widths` and none
    (the shipped model), that cross-validates best; an InputError when the runs identify none of them, or not one
    that was asked for by name. The runs may span several modelled `framework_versions`: the corrections are
    shared by all of them."""
    fit = UserFit(host, rows, framework_versions)
    candidates = list(names) if names is not None else list(USER_PARAMETERS)
    progress(f"identifying {len(candidates)} parameters from {len(rows)} runs")
    identification = fit.identify(candidates)
    unidentified = [i for i in identification if not i.identified]
    if names is not None and unidentified:
        raise InputError(
            "the runs do not identify "
            + ", ".join(f"{i.name} (they carry {i.data_share:.0%} of its precision)" for i in unidentified),
            f"add runs that move it (see `servecast calibrate --help`), or leave it out of --fit; the runs carry "
            f"at least {IDENTIFIED_SHARE:.0%} of an identified parameter's precision",
        )
    chosen = [i.name for i in identification if i.identified]
    if not chosen:
        raise InputError(
            f"the {len(rows)} runs identify no parameter: "
            + ", ".join(f"{i.name} {i.data_share:.0%}" for i in identification)
            + " of the precision comes from the runs",
            "add runs at other loads (concurrency 1 and a saturating one), other lengths or other layouts",
        )
    everything = list(range(len(rows)))
    splits = folds(len(rows))
    shipped_log = fit.predicted({})
    candidates_log = {0.0: shipped_log}
    for width in prior_widths:
        progress(f"cross-validating {', '.join(chosen)} under priors {width:g} x their width ({len(splits)} folds)")
        candidates_log[width] = _cross_validated(fit, chosen, width, splits)
    width = min(candidates_log, key=lambda w: _log_error(fit, candidates_log[w]))
    cross_log = candidates_log[width]
    if width == 0.0:
        progress("cross-validated, the shipped model predicts these runs best: the calibration keeps it")
        chosen = []
    progress(f"fitting {', '.join(chosen) or 'nothing'} to all {len(rows)} runs")
    space, z = fit.fit(chosen, everything, width or 1.0)
    sigma = fit.sigma(space, z)
    in_fold_log = fit.predicted(space.values(z))
    values = space.values(z)
    cross_errors = _log_errors(fit, cross_log)
    shipped_mape, in_fold_mape = _mape(shipped_log, fit.measured, fit), _mape(in_fold_log, fit.measured, fit)
    cross_mape = _mape(cross_log, fit.measured, fit)
    parameters = {
        name: FittedValue(
            value=values.get(name, SHIPPED[name]),
            shipped=SHIPPED[name],
            sigma=float(sigma[chosen.index(name)]) if name in chosen else None,
            note=USER_PARAMETERS[name].description + _kept(name, chosen, identification),
        )
        for name in candidates
    }
    calibration = UserCalibration(
        system=rows[0].request.system,
        framework=rows[0].request.framework,
        framework_versions=tuple(framework_versions),
        fitted_by=command,
        fitted_on=dt.date.today(),
        data=tuple(data),
        rows=len(rows),
        parameters=parameters,
        prior_width=width,
        errors=_error_quantiles(cross_errors),
        mape={
            metric: {"shipped": value, "in_fold": in_fold_mape[metric], "cross_validated": cross_mape[metric]}
            for metric, value in shipped_mape.items()
        },
    )
    return FitReport(calibration, identification, fit.evaluations, _log_errors(fit, in_fold_log), cross_errors)


def _cross_validated(fit: UserFit, names: Sequence[str], width: float, splits: Sequence[Sequence[int]]) -> np.ndarray:
    """log(predicted) of every measured metric, each run predicted by the fit to the folds without it."""
    result = np.full(len(fit.metrics), np.nan)
    for held_out in splits:
        training = [i for i in range(len(fit.rows)) if i not in held_out]
        space, z = fit.fit(names, training, width, max_evaluations=25)
        mask = fit._mask(held_out)
        result[mask] = fit.predicted(space.values(z), held_out)[mask]
    return result


def _log_error(fit: UserFit, log_predicted: np.ndarray) -> float:
    """Mean |log(predicted / measured)| per metric, averaged over metrics: what cross-validation minimises (a run
    the model cannot serve counts as a factor of ten)."""
    errors = np.where(np.isnan(log_predicted), np.log(10.0), np.abs(log_predicted - fit.measured))
    names = np.array([name for _, name in fit.metrics])
    return float(np.mean([np.mean(errors[names == metric]) for metric in dict.fromkeys(names.tolist())]))


def _kept(name: str, chosen: Sequence[str], identification: Sequence[Identification]) -> str:
    """Why a parameter stays at the shipped value, for its note ("" when it was fitted)."""
    if name in chosen:
        return ""
    if any(i.name == name and i.identified for i in identification):
        return "; cross-validated, the shipped value predicts the runs best: kept"
    return "; not identified by the runs: the shipped value"


def _log_errors(fit: UserFit, log_predicted: np.ndarray) -> dict[str, np.ndarray]:
    """Per metric, log(measured / predicted) of the runs the model could serve."""
    result = {}
    for metric in MEASURED_METRICS:
        chosen = [i for i, (_, name) in enumerate(fit.metrics) if name == metric and not np.isnan(log_predicted[i])]
        if chosen:
            result[metric] = fit.measured[chosen] - log_predicted[chosen]
    return result


def _error_quantiles(errors: dict[str, np.ndarray]) -> dict[str, ErrorQuantiles]:
    """Per metric, the p10 / p50 / p90 of log(measured / predicted)."""
    result = {}
    for metric, values in errors.items():
        p10, p50, p90 = (float(q) for q in np.quantile(values, [0.1, 0.5, 0.9]))
        result[metric] = ErrorQuantiles(p10=p10, p50=p50, p90=p90, rows=len(values))
    return result
