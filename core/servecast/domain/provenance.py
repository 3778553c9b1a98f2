"""Where a number comes from: every figure servecast ships names its source."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from servecast.domain.base import FrozenModel


class SourceKind(StrEnum):
    """How trustworthy a source is, from a vendor's promise to an assumption."""

    DATASHEET = "datasheet"
    """A vendor's published specification (peak numbers, capacities)."""
    DOCUMENTATION = "documentation"
    """A project's own documentation (framework flags and defaults)."""
    SOURCE_CODE = "source_code"
    """A project's source code at a named version or commit."""
    PUBLISHED_MEASUREMENT = "published_measurement"
    """A measurement somebody else published, with its method."""
    MEASURED = "measured"
    """A measurement taken by servecast's own collector."""
    DERIVED = "derived"
    """Computed from other sourced figures (the note says how)."""
    ASSUMPTION = "assumption"
    """A reasoned guess, to be replaced by a measurement; the note says why it is plausible."""


PLACEHOLDER = "PLACEHOLDER"
"""How the citation of a scaffold's stand-in source starts (`servecast new-plugin`): nothing was read yet."""


class Source(FrozenModel):
    """A citable origin of one or more figures."""

    kind: SourceKind
    citation: str = Field(min_length=3, description="What it is, precise enough to find it again.")
    url: str | None = None
    note: str | None = None

    @property
    def is_placeholder(self) -> bool:
        """A scaffold's stand-in, to be replaced by a real source before the figures mean anything."""
        return self.citation.startswith(PLACEHOLDER)


class Provenance(FrozenModel):
    """The source of one figure, with an optional remark on how the figure was read from it."""

    source: Source
    note: str | None = None
