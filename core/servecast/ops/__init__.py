"""The op vocabulary models, measured tables and estimators share: op kinds, their shapes and data types, the work
an op does, and the contract of an estimator (shapes in, latencies with provenance out)."""

from servecast.ops.estimator import EstimateProvenance, OpEstimate, OpEstimator, OpKind

__all__ = ["EstimateProvenance", "OpEstimate", "OpEstimator", "OpKind"]
