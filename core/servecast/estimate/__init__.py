"""Primitive estimation: the latency of each op kind, vectorised over shapes, with provenance."""

from servecast.estimate.estimator import EstimateProvenance, OpEstimate, OpEstimator, OpKind

__all__ = ["EstimateProvenance", "OpEstimate", "OpEstimator", "OpKind"]
