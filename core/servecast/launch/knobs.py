"""The knob values that reproduce a simulated server, in a framework version's own knob names, and how flag and
config-file knobs are rendered.

The simulation resolved every budget into `SchedulerSettings`; here each setting goes back to the concept's knob
of the version (negated knobs inverted), so a launch sets exactly what was simulated instead of trusting defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from servecast.domain.framework import MEMORY_FRACTION_MEANINGS, FrameworkVersion, Knob, KnobMeaning, KnobValue
from servecast.errors import PluginError
from servecast.serving.policy import SchedulerSettings, SchedulingRegime


def concept_values(settings: SchedulerSettings, max_batch_size: int, prefix_tokens: int) -> dict[KnobMeaning, Any]:
    """The simulated server's settings by concept; `max_batch_size` is the simulated batch, and prefix caching is
    kept on only where the workload shares a prefix (it changes nothing in the simulation otherwise). The KV block
    size is left to the framework: attention backends (MLA) choose their own, and it only rounds the capacity."""
    ranks = settings.budget_ranks  # knobs that each attention-DP rank holds
    values: dict[KnobMeaning, Any] = {
        KnobMeaning.MAX_BATCH_SIZE: -(-max_batch_size // ranks),
        KnobMeaning.MAX_NUM_TOKENS: settings.max_num_tokens // ranks,
        KnobMeaning.MAX_PREFILL_TOKENS: settings.max_num_tokens // ranks,
        KnobMeaning.CHUNKED_PREFILL: settings.chunked_prefill,
        KnobMeaning.CHUNKED_PREFILL_SIZE: settings.chunk_size if settings.chunked_prefill else -1,
        KnobMeaning.MIXED_PREFILL_DECODE: settings.regime is SchedulingRegime.MIXED,
        KnobMeaning.OVERLAP_SCHEDULER: settings.overlap_scheduler,
        KnobMeaning.PREFIX_CACHING: settings.prefix_caching and prefix_tokens > 0,
        settings.memory.meaning: settings.memory.fraction,
        KnobMeaning.CUDA_GRAPH: bool(settings.cuda_graph_batch_sizes),
    }
    if settings.max_model_len is not None:
        values[KnobMeaning.MAX_MODEL_LEN] = settings.max_model_len
    if settings.scheduler_steps > 1:
        values[KnobMeaning.SCHEDULER_STEPS] = settings.scheduler_steps
    if settings.cuda_graph_batch_sizes:
        values[KnobMeaning.CUDA_GRAPH_BATCH_SIZES] = tuple(settings.cuda_graph_batch_sizes)
        values[KnobMeaning.CUDA_GRAPH_MAX_BATCH_SIZE] = max(settings.cuda_graph_batch_sizes)
    if settings.moe_all_to_all:
        values[KnobMeaning.MOE_ALL_TO_ALL] = True
    if settings.two_batch_overlap:
        values[KnobMeaning.TWO_BATCH_OVERLAP] = True
    return values


def knob_for(version: FrameworkVersion, meaning: KnobMeaning) -> Knob | None:
    """The knob that sets `meaning` in `version`: one with a command-line flag first, else the first listed."""
    knobs = version.knobs_for(meaning)
    with_flag = [knob for knob in knobs if knob.flag]
    return next(iter(with_flag or knobs), None)


def knob_values(version: FrameworkVersion, concepts: Mapping[KnobMeaning, Any]) -> dict[str, KnobValue]:
    """`concepts` as the version's knobs (framework name -> the value the framework takes); concepts the version
    has no knob for are left out (a batch-size list where only a maximum exists goes in as that maximum)."""
    values: dict[str, KnobValue] = {}
    for meaning, value in concepts.items():
        if meaning is KnobMeaning.CUDA_GRAPH_MAX_BATCH_SIZE and knob_for(version, KnobMeaning.CUDA_GRAPH_BATCH_SIZES):
            continue  # the explicit list says it all
        if meaning is KnobMeaning.MAX_PREFILL_TOKENS and knob_for(version, KnobMeaning.MAX_NUM_TOKENS):
            continue
        if meaning in MEMORY_FRACTION_MEANINGS and meaning is not _memory_meaning(concepts):
            continue
        knob = knob_for(version, meaning)
        if knob is None:
            continue
        values[knob.name] = knob.framework_value(value)
    return values


def _memory_meaning(concepts: Mapping[KnobMeaning, Any]) -> KnobMeaning | None:
    return next((meaning for meaning in MEMORY_FRACTION_MEANINGS if meaning in concepts), None)


def flag_arguments(version: FrameworkVersion, knobs: Mapping[str, KnobValue], negative_prefix: str | None) -> list[str]:
    """Command-line arguments for the knobs that have a flag: `--flag value`, lists as one argument per item, and
    switches as the bare flag when on; a switch turned off that is not off by default becomes `negative_prefix`
    + the flag's name (`--no-…`, argparse's BooleanOptionalAction) — left out when the framework decides it at
    start-up and has no such form (the simulation resolved it by that rule), a PluginError otherwise."""
    argv: list[str] = []
    for name, value in knobs.items():
        knob = version.knob(name)
        if not knob.flag:
            continue
        if isinstance(value, bool) and knob.values is None:
            if value:
                argv.append(knob.flag)
            elif knob.default is None and negative_prefix is None:
                continue  # decided at start-up by the rule the simulation applied to this same launch
            elif knob.default is not False:
                if negative_prefix is None:
                    raise PluginError(
                        f"{knob.flag} cannot be switched off on the command line of version {version.version}",
                        "leave the setting at its default or give the plugin the flag that turns it off",
                    )
                argv.append(negative_prefix + knob.flag.lstrip("-"))
        elif isinstance(value, tuple):
            argv += [knob.flag, *(str(item) for item in value)]
        else:
            argv += [knob.flag, str(value)]
    return argv


def environment(version: FrameworkVersion, knobs: Mapping[str, KnobValue]) -> dict[str, str]:
    """The knobs read from the process environment, as its variables (switches as 1 and 0)."""
    variables = {}
    for name, value in knobs.items():
        knob = version.knob(name)
        if knob.env and not knob.flag and not knob.config_key:
            variables[knob.env] = str(int(value)) if isinstance(value, bool) else str(value)
    return variables


def config_tree(version: FrameworkVersion, knobs: Mapping[str, KnobValue]) -> dict[str, Any]:
    """The knobs that live in a config file (no flag), nested by their dotted keys."""
    tree: dict[str, Any] = {}
    for name, value in knobs.items():
        knob = version.knob(name)
        if knob.flag or not knob.config_key:
            continue
        *parents, leaf = knob.config_key.split(".")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = list(value) if isinstance(value, tuple) else value
    return tree
