"""Schema snapshots of the files container targets write, and the check that a written file fits its schema.

A snapshot holds one published schema — the compose specification, a Kubernetes CRD's `openAPIV3Schema`, a Helm
chart's values schema — with the repository, path and commit it was read from (`scripts/extract_manifest_schemas.py`
writes them; descriptions are dropped, nothing else changes). A closed snapshot makes unknown fields errors even
where the published schema leaves an object open (Kubernetes prunes unknown fields of a CRD silently, so a misspelt
field would otherwise vanish on apply); objects the schema marks `x-kubernetes-preserve-unknown-fields` stay open.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

from jsonschema import Draft7Validator
from pydantic import Field

from servecast.domain.base import FrozenModel
from servecast.errors import PluginError

OPEN_MARK = "x-kubernetes-preserve-unknown-fields"


class SnapshotSource(FrozenModel):
    """Where a schema was published."""

    repository: str
    path: str
    ref: str = Field(description="The tag or commit the file was read at.")
    commit: str
    sha256: str = Field(description="Of the file as published.")


class ManifestSchema(FrozenModel):
    """One published schema, what it validates, and whether unknown fields are errors everywhere."""

    name: str
    version: str
    source: SnapshotSource
    api_version: str | None = Field(default=None, description="`apiVersion` of the resource it validates.")
    kind: str | None = None
    closed: bool = Field(description="Objects with listed properties accept no others.")
    body: dict[str, Any] = Field(description="The JSON schema.")

    @classmethod
    def shipped(cls, name: str) -> ManifestSchema:
        """The snapshot servecast ships as `servecast/launch/schemas/<name>.json`."""
        path = files("servecast.launch") / "schemas" / f"{name}.json"
        return cls.model_validate_json(path.read_text())

    @property
    def provenance(self) -> str:
        """The schema, its version and where it was read, in one line."""
        source = self.source
        return f"{self.name} {self.version} ({source.repository} {source.path} at {source.ref}, {source.commit[:12]})"

    def problems(self, document: Any) -> list[str]:
        """Where `document` breaks the schema: one line per error, with the path of the offending field."""
        validator = _validator(self.model_dump_json())
        return sorted(
            f"{'/'.join(str(part) for part in error.absolute_path) or '(top)'}: {error.message}"
            for error in validator.iter_errors(document)
        )

    def check(self, document: Any, what: str) -> None:
        """A PluginError naming every problem unless `document` (the file `what`) fits the schema."""
        problems = self.problems(document)
        if problems:
            listed = "; ".join(problems[:12]) + (f"; and {len(problems) - 12} more" if len(problems) > 12 else "")
            raise PluginError(
                f"servecast wrote a {what} that {self.provenance} rejects: {listed}",
                "this is a bug in servecast's target writer; nothing was written: report it with the command",
            )


@functools.cache
def _validator(snapshot: str) -> Draft7Validator:
    schema = ManifestSchema.model_validate_json(snapshot)
    body = closed(schema.body) if schema.closed else schema.body
    return Draft7Validator(body)


def closed(schema: Any) -> Any:
    """`schema` with `additionalProperties: false` on every object that lists properties and says nothing of others
    (objects marked x-kubernetes-preserve-unknown-fields stay open)."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: closed(value) if key != "properties" else _closed_properties(value) for key, value in schema.items()}
    if "properties" in copy and "additionalProperties" not in copy and not copy.get(OPEN_MARK):
        copy["additionalProperties"] = False
    return copy


def _closed_properties(properties: Any) -> Any:
    if not isinstance(properties, dict):
        return properties
    return {name: closed(value) for name, value in properties.items()}


def without_descriptions(schema: Any) -> Any:
    """`schema` without its `description` annotations (they change no validation)."""
    if isinstance(schema, list):
        return [without_descriptions(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: without_descriptions(value) if key != "properties" else _properties_without_descriptions(value)
        for key, value in schema.items()
        if key != "description"
    }


def _properties_without_descriptions(properties: Any) -> Any:
    if not isinstance(properties, dict):
        return properties
    return {name: without_descriptions(value) for name, value in properties.items()}
