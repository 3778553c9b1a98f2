"""Primitive estimation: pure and calibrated rooflines, the layered estimator over measured tables, op tables and
whole-step estimates (the op vocabulary they estimate is `servecast.ops`)."""
