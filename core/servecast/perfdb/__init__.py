"""The performance database: measured op tables shipped by plugins, with their provenance."""

from servecast.perfdb.table import PerfTableRef

__all__ = ["PerfTableRef"]
