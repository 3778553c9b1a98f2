"""Load a FrameworkSpec from a TOML file; a version may `extends` an earlier one and list only what changed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from servecast.domain.base import validation_problems
from servecast.domain.framework import FrameworkSpec, FrameworkVersion, Knob
from servecast.domain.provenance import Source
from servecast.errors import SpecFileError
from servecast.specfiles.sources import read_sources, resolve_source
from servecast.toml_file import read_toml


def load_framework_spec(path: str | Path) -> FrameworkSpec:
    """Read and validate a framework spec file (format: docs/plugins/framework-specs.md)."""
    path = Path(path)
    data = read_toml(path)
    sources = read_sources(path, data)
    raw_versions = data.pop("versions", None)
    if not isinstance(raw_versions, list) or not raw_versions:
        raise SpecFileError(path, "no [[versions]] tables", "describe at least one released version")
    merged: dict[str, dict[str, Any]] = {}
    versions = []
    for index, raw in enumerate(raw_versions):
        version = _merge_with_base(path, index, raw, merged)
        merged[str(version.get("version"))] = version
        where = f"versions[{index}] ({version.get('version')})"
        try:
            versions.append(FrameworkVersion.model_validate(_resolve_knobs(path, where, version, sources)))
        except ValidationError as error:
            raise SpecFileError(path, validation_problems(error, prefix=where)) from None
    try:
        return FrameworkSpec.model_validate({**data, "versions": versions})
    except ValidationError as error:
        raise SpecFileError(path, validation_problems(error)) from None


def _merge_with_base(path: Path, index: int, raw: dict[str, Any], earlier: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The version table with its `extends` base folded in: capabilities, kernels and scheduling per key (the
    overheads per parameter), knobs per field."""
    version = copy.deepcopy(raw)
    base_name = version.pop("extends", None)
    if base_name is None:
        return version
    if base_name not in earlier:
        raise SpecFileError(
            path,
            f"versions[{index}] extends {base_name!r}, which is not an earlier [[versions]] entry",
            f"list version {base_name!r} before the versions that extend it; earlier: {', '.join(earlier) or 'none'}",
        )
    base = copy.deepcopy(earlier[base_name])
    for own in ("released", "notes", "covers", "generation"):  # each version states these for itself
        base.pop(own, None)
    capabilities = {**base.pop("capabilities", {}), **version.pop("capabilities", {})}
    kernels = {**base.pop("kernels", {}), **version.pop("kernels", {})}
    base_scheduling, own_scheduling = base.pop("scheduling", {}), version.pop("scheduling", {})
    scheduling = {**base_scheduling, **own_scheduling}
    if scheduling:
        scheduling["overheads"] = {**base_scheduling.get("overheads", {}), **own_scheduling.get("overheads", {})}
    knobs = base.pop("knobs", {})
    for name, override in version.pop("knobs", {}).items():
        if override.get("removed"):
            knobs.pop(name, None)
        else:
            knobs[name] = {**knobs.get(name, {}), **override}
    merged = {**base, **version, "capabilities": capabilities, "knobs": knobs, "kernels": kernels}
    return {**merged, "scheduling": scheduling} if scheduling else merged


def _resolve_knobs(path: Path, where: str, version: dict[str, Any], sources: dict[str, Source]) -> dict[str, Any]:
    """Turn the [versions.knobs.<name>], [versions.kernels] and [versions.scheduling] tables into validated
    objects, sources resolved."""
    knobs = []
    for name, fields in version.get("knobs", {}).items():
        knob_where = f"{where} knobs.{name}"
        if not isinstance(fields, dict):
            raise SpecFileError(path, f"{knob_where}: expected a table, got {fields!r}")
        source = resolve_source(path, sources, fields.get("source"), knob_where)
        default = fields.get("default")
        if isinstance(default, list):
            default = tuple(default)
        try:
            knobs.append(Knob.model_validate({**fields, "name": name, "source": source, "default": default}))
        except ValidationError as error:
            raise SpecFileError(path, validation_problems(error, prefix=knob_where)) from None
    kernels = {}
    for slot, fields in version.get("kernels", {}).items():
        kernel_where = f"{where} kernels.{slot}"
        if not isinstance(fields, dict):
            raise SpecFileError(path, f"{kernel_where}: expected {{ value = ..., source = ... }}, got {fields!r}")
        kernels[slot] = {**fields, "source": resolve_source(path, sources, fields.get("source"), kernel_where)}
    resolved = {**version, "knobs": knobs, "kernels": kernels}
    image = version.get("image")
    if image is not None:
        if not isinstance(image, dict):
            raise SpecFileError(path, f"{where} image: expected {{ value = ..., source = ... }}, got {image!r}")
        resolved["image"] = {**image, "source": resolve_source(path, sources, image.get("source"), f"{where} image")}
    scheduling = version.get("scheduling")
    if isinstance(scheduling, dict) and "source" in scheduling:
        source = resolve_source(path, sources, scheduling["source"], f"{where} scheduling")
        resolved["scheduling"] = {**scheduling, "source": source}
    return resolved
