"""A folder of measured tables, each registered as its sidecar describes it: how a hardware plugin ships whatever
`servecast collect` dropped into it without listing the tables by hand."""

from __future__ import annotations

from pathlib import Path

from servecast.perfdb.loading import PerfTableError, read_metadata
from servecast.perfdb.metadata import ANY
from servecast.perfdb.table import PerfTableRef


def tables_in(folder: Path) -> list[PerfTableRef]:
    """Every `<name>.toml` sidecar in `folder` with its `<name>.csv`, sorted by name; none if the folder is absent.
    Checking the tables themselves is left to loading, as for any registered table."""
    if not folder.is_dir():
        return []
    refs = []
    for sidecar in sorted(folder.glob("*.toml")):
        table = sidecar.with_suffix(".csv")
        if not table.is_file():
            raise PerfTableError(sidecar, f"there is no {table.name} beside it", "add the CSV or remove the sidecar")
        metadata = read_metadata(sidecar)
        refs.append(
            PerfTableRef(
                hardware=metadata.hardware,
                framework=None if metadata.framework == ANY else metadata.framework,
                framework_version=None if metadata.framework_version == ANY else metadata.framework_version,
                op=metadata.op,
                csv_path=table,
                metadata_path=sidecar,
            )
        )
    return refs
