"""Finding a model's config.json: the bundled offline catalog, a local path, or the Hugging Face Hub."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from servecast.errors import InputError, undecodable

CATALOG_PACKAGE = "servecast.models"
CATALOG_FOLDER = "catalog"


@dataclass(frozen=True)
class ModelSource:
    """A model's config (and ModelOpt quantization config), and where they were read from."""

    model_id: str
    config: Mapping[str, Any]
    hf_quant_config: Mapping[str, Any] | None
    origin: str


@dataclass(frozen=True)
class CatalogEntry:
    """One bundled model: its id, the ids that share its architecture and weights, and the config's source."""

    model_id: str
    aliases: tuple[str, ...]
    source: str
    reconstructed: bool
    """True when no published copy of the file was at hand and the fields were rebuilt from other published
    descriptions (model card, paper, a framework's checkpoint config); `source` names them."""
    config: Mapping[str, Any]
    hf_quant_config: Mapping[str, Any] | None


@cache
def catalog() -> dict[str, CatalogEntry]:
    """Every bundled entry by lower-cased id and alias."""
    entries: dict[str, CatalogEntry] = {}
    for item in files(CATALOG_PACKAGE).joinpath(CATALOG_FOLDER).iterdir():
        if not item.name.endswith(".json"):
            continue
        raw = json.loads(item.read_text(encoding="utf-8"))
        entry = CatalogEntry(
            model_id=raw["id"],
            aliases=tuple(raw.get("aliases", ())),
            source=raw["source"],
            reconstructed=bool(raw.get("reconstructed", False)),
            config=raw["config"],
            hf_quant_config=raw.get("hf_quant_config"),
        )
        for name in (entry.model_id, *entry.aliases):
            entries[name.lower()] = entry
    return entries


def catalog_ids() -> list[str]:
    """The canonical ids of the bundled models, sorted."""
    return sorted({entry.model_id for entry in catalog().values()})


def find_model(reference: str) -> ModelSource:
    """The config of `reference`: a catalog id or alias, a local directory or config.json, or a Hub id (online)."""
    entry = catalog().get(reference.lower())
    if entry is not None:
        origin = f"bundled catalog ({entry.source})"
        return ModelSource(entry.model_id, entry.config, entry.hf_quant_config, origin)
    path = Path(reference).expanduser()
    if path.exists():
        return _from_path(path)
    return _from_hub(reference)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
            "fix the file, or pass a model id from the catalog (`servecast model list`)",
        ) from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path} is not UTF-8 text: {undecodable(error)}", "save the file as UTF-8") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}", "check the path and its permissions") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} holds a JSON {type(data).__name__}, not an object", "pass a model's config.json")
    return data


def _from_path(path: Path) -> ModelSource:
    folder = path if path.is_dir() else path.parent
    config_path = path / "config.json" if path.is_dir() else path
    if not config_path.is_file():
        raise InputError(f"{path} has no config.json", "pass a model directory containing config.json, or the file")
    quant_path = folder / "hf_quant_config.json"
    quant = _read_json(quant_path) if quant_path.is_file() else None
    model_id = str(_read_json(config_path).get("_name_or_path") or folder.name)
    return ModelSource(model_id, _read_json(config_path), quant, f"local file {config_path}")


def _from_hub(model_id: str) -> ModelSource:
    known = ", ".join(catalog_ids())
    hint = f"use a bundled model ({known}), or a local directory or config.json path"
    if "/" not in model_id:
        raise InputError(f"unknown model {model_id!r}: not in the catalog and not a local path", hint)
    try:
        from huggingface_hub import hf_hub_download  # optional dependency: servecast[hub]
    except ImportError:
        raise InputError(
            f"model {model_id!r} is not in the offline catalog and huggingface_hub is not installed",
            f"{hint}; or install servecast[hub] to fetch configs online",
        ) from None
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        raise InputError(f"model {model_id!r} is not in the offline catalog and HF_HUB_OFFLINE is set", hint)
    try:
        config_path = Path(hf_hub_download(model_id, "config.json"))
    except Exception as error:  # network, authentication (gated repos) and missing-repo errors alike
        raise InputError(
            f"could not fetch config.json of {model_id!r} from the Hugging Face Hub: {type(error).__name__}: {error}",
            f"{hint}; gated models need `huggingface-cli login`",
        ) from None
    try:
        quant: dict[str, Any] | None = _read_json(Path(hf_hub_download(model_id, "hf_quant_config.json")))
    except Exception:  # most checkpoints have no ModelOpt quantization file
        quant = None
    return ModelSource(model_id, _read_json(config_path), quant, f"Hugging Face Hub ({model_id})")
