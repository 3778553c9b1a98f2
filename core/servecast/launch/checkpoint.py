"""The checkpoint a launch loads: the model reference the user gave, as the framework takes it, and the quantization
the launch asks the framework to apply on top of what the checkpoint declares.

A quantized checkpoint declares its method (`quantization_config` in config.json, or ModelOpt's
hf_quant_config.json) and vLLM, SGLang and TensorRT-LLM read it from there: a launch names no quantization for it
(vLLM and SGLang reject a `--quantization` that contradicts the checkpoint, and name a slower kernel than their own
choice for one that matches, e.g. `awq` instead of `awq_marlin`). Only a 16-bit checkpoint simulated under another
quantization needs one, which the framework then applies as it loads the weights, where it can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from servecast.domain.vocabulary import KvCacheDtype, Quantization
from servecast.errors import InputError
from servecast.launch.artifacts import Deployment
from servecast.launch.schema import LaunchSchema, accepted_value
from servecast.models.catalog import catalog, find_model
from servecast.models.quantization import plan_from_checkpoint

SIXTEEN_BIT = frozenset({Quantization.BF16, Quantization.FP16})


def launched_model(reference: str) -> str:
    """What the framework loads for the user's `reference`, resolved as servecast resolved it: a catalog id or alias
    as given (in the catalog's spelling of that name), a local folder or its config.json as the folder's absolute
    path, anything else (a Hub id) unchanged."""
    entry = catalog().get(reference.lower())
    if entry is not None:
        return next(name for name in (entry.model_id, *entry.aliases) if name.lower() == reference.lower())
    path = Path(reference).expanduser()
    if path.exists():
        return str((path if path.is_dir() else path.parent).absolute())
    return reference


def declared_quantization(reference: str) -> Quantization | str | None:
    """The quantization the checkpoint declares: one servecast models, the declared method's own name where it
    models none, or None for a checkpoint that declares none (16-bit weights)."""
    source = find_model(reference)
    config = source.config.get("quantization_config") or {}
    modelopt = (source.hf_quant_config or {}).get("quantization") or {}
    if not config and not source.hf_quant_config:
        return None
    method = str(config.get("quant_method") or modelopt.get("quant_algo") or "unnamed")
    try:
        name = plan_from_checkpoint(source.config, source.hf_quant_config, "bfloat16").name
    except InputError:
        return method
    return method if name in SIXTEEN_BIT else name


def load_time_quantization(reference: str, requested: Quantization | None) -> tuple[Quantization | None, list[str]]:
    """The quantization a launch asks the framework to apply as it loads `reference` when `requested` was
    simulated (None: the checkpoint's own), and warnings; an InputError where the checkpoint is quantized otherwise,
    which no framework undoes at load time."""
    if requested is None:
        return None, []
    declared = declared_quantization(reference)
    if declared is None:
        return (None if requested in SIXTEEN_BIT else requested), []
    if declared == requested:
        return None, []
    if not isinstance(declared, Quantization):
        return None, [
            f"the checkpoint declares quantization {declared!r}, which servecast does not model: the framework loads "
            f"it as it is, and the prediction is for {requested.value}"
        ]
    raise InputError(
        f"{reference!r} is a {declared.value} checkpoint; the framework loads it as {declared.value}, not as the "
        f"simulated {requested.value}",
        f"drop --quant to launch the checkpoint as it is, or point --model at a {requested.value} checkpoint",
    )


def load_quantization_value(
    deployment: Deployment, display_name: str, version: str, at_load: Mapping[Quantization, str]
) -> str | None:
    """The framework's name (from `at_load`: servecast quantization -> the value that applies it while a 16-bit
    checkpoint loads) for the quantization `deployment` applies; None when it applies none, an InputError when the
    framework version cannot apply it at load time."""
    wanted = deployment.quantization
    if wanted is None or wanted in SIXTEEN_BIT:
        return None
    if wanted in at_load:
        return at_load[wanted]
    offered = ", ".join(sorted(q.value for q in at_load)) or "none"
    raise InputError(
        f"{display_name} {version} cannot quantize the 16-bit checkpoint {deployment.model!r} to {wanted.value} as it "
        "loads it: that needs a checkpoint quantized beforehand",
        f"point --model at a {wanted.value} checkpoint (the framework reads its quantization from it), or simulate "
        f"a quantization {display_name} {version} applies at load time (--quant: {offered})",
    )


def loading_flags(
    deployment: Deployment,
    framework: tuple[str, str],
    command: str,
    schema: LaunchSchema | None,
    quantizations: Mapping[Quantization, str],
    kv_cache_dtypes: Mapping[KvCacheDtype, Sequence[str]],
) -> list[str]:
    """`--quantization` and `--kv-cache-dtype` of `command` as the framework version (display name, version) names
    them: the quantization it applies at load time, the first KV-cache value its parser takes; an InputError for
    what it cannot do."""
    display_name, version = framework
    argv = []
    quantization = load_quantization_value(deployment, display_name, version, quantizations)
    if quantization is not None:
        argv += ["--quantization", quantization]
    wanted = deployment.kv_cache_dtype
    if wanted is not None:
        value = accepted_value(schema, command, "--kv-cache-dtype", kv_cache_dtypes.get(wanted, ()))
        if value is None:
            raise InputError(
                f"{display_name} {version} has no {wanted.value} KV cache (--kv-cache-dtype)",
                f"pick another --kv-cache-dtype, or a {display_name} version that stores the KV cache in it",
            )
        argv += ["--kv-cache-dtype", value]
    return argv
