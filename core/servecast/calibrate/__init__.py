"""Fitting a system's efficiency parameters to measurements, and checking estimates against them."""

from servecast.calibrate.points import CalibrationPoint, predict_ms
from servecast.calibrate.published import read_published_kernels

__all__ = ["CalibrationPoint", "predict_ms", "read_published_kernels"]
