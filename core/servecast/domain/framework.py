"""What a serving framework is, per version: capabilities, knobs and their documented defaults."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Self

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import Field, field_validator, model_validator

from servecast.domain.base import FrozenModel
from servecast.domain.kernels import KernelChoices
from servecast.domain.provenance import Source
from servecast.domain.scheduling import SchedulingBehaviour
from servecast.domain.vocabulary import (
    GpuVendor,
    KvCacheDtype,
    ParallelMode,
    Quantization,
    ServingMode,
)

KnobValue = bool | int | float | str | tuple[int, ...]


class KnobMeaning(StrEnum):
    """The servecast concept a framework knob controls, so the core can reason about any framework's knobs.

    Frameworks disagree on what their memory fraction is a fraction *of*; the three memory meanings keep
    those semantics apart instead of pretending they are one number.
    """

    GPU_MEMORY_FRACTION = "gpu_memory_fraction"
    """Fraction of total GPU memory the engine may use for weights, activations and KV cache (vLLM)."""
    STATIC_MEMORY_FRACTION = "static_memory_fraction"
    """Fraction of total GPU memory for weights plus the KV-cache pool (SGLang)."""
    KV_CACHE_FREE_MEMORY_FRACTION = "kv_cache_free_memory_fraction"
    """Fraction of the memory left free after loading weights that goes to the KV cache (TensorRT-LLM)."""
    MAX_BATCH_SIZE = "max_batch_size"
    """Most sequences scheduled in one iteration."""
    MAX_NUM_TOKENS = "max_num_tokens"
    """Most tokens (prefill + decode) scheduled in one iteration."""
    MAX_PREFILL_TOKENS = "max_prefill_tokens"
    """Most prefill tokens admitted in one iteration."""
    CHUNKED_PREFILL = "chunked_prefill"
    """Whether long prompts are split into chunks."""
    CHUNKED_PREFILL_SIZE = "chunked_prefill_size"
    """Tokens per prefill chunk."""
    MIXED_PREFILL_DECODE = "mixed_prefill_decode"
    """Whether a prefill chunk may share an iteration with decodes."""
    CUDA_GRAPH = "cuda_graph"
    """Whether decode steps replay captured CUDA graphs."""
    CUDA_GRAPH_MAX_BATCH_SIZE = "cuda_graph_max_batch_size"
    """Largest batch size captured as a CUDA graph."""
    CUDA_GRAPH_BATCH_SIZES = "cuda_graph_batch_sizes"
    """The explicit list of captured batch sizes."""
    OVERLAP_SCHEDULER = "overlap_scheduler"
    """Whether CPU scheduling of the next iteration overlaps GPU execution of this one."""
    PREFIX_CACHING = "prefix_caching"
    """Whether KV blocks of shared prefixes are reused across requests."""
    KV_CACHE_DTYPE = "kv_cache_dtype"
    """Data type the KV cache is stored in."""
    KV_CACHE_BLOCK_SIZE = "kv_cache_block_size"
    """Tokens per KV-cache block (page)."""
    SCHEDULING_POLICY = "scheduling_policy"
    """Order or admission policy of the request scheduler."""
    MAX_MODEL_LEN = "max_model_len"
    """Longest request (prompt + output) the server accepts; some budgets are sized from it."""
    SCHEDULER_STEPS = "scheduler_steps"
    """Decode iterations run per scheduling pass (multi-step scheduling); 1 schedules every iteration."""
    MOE_ALL_TO_ALL = "moe_all_to_all"
    """Whether expert-parallel MoE layers under attention DP send each token to its experts' ranks and back
    (all-to-all dispatch and combine: DeepEP and kin) instead of all-gathering every token and reduce-scattering."""
    TWO_BATCH_OVERLAP = "two_batch_overlap"
    """Whether a step runs as two micro-batches, one's all-to-all overlapping the other's compute."""
    OTHER = "other"
    """A knob with no servecast concept yet; kept so the documentation stays complete."""


class Knob(FrozenModel):
    """One framework setting, named as the framework names it, with its documented default and source."""

    name: str = Field(min_length=1, description="The framework's own name, e.g. 'max_num_batched_tokens'.")
    meaning: KnobMeaning
    flag: str | None = Field(default=None, description="Command-line flag, when the setting has one.")
    config_key: str | None = Field(
        default=None, description="Dotted key in the framework's config file, when the setting lives there."
    )
    env: str | None = Field(
        default=None, description="Environment variable, when the setting is read from the process environment."
    )
    values: dict[str, KnobValue] | None = Field(
        default=None,
        description="What each of the framework's own values means as the concept (SGLang's moe_a2a_backend: "
        "'deepep' → true, 'none' → false); a launch writes the first value listed for a concept value.",
    )
    negates: bool = Field(
        default=False,
        description="True when the knob switches its concept *off* (e.g. vLLM's enforce_eager for CUDA graphs).",
    )
    default: KnobValue | None = Field(
        default=None, description="Documented default; None when the framework decides at run time."
    )
    default_note: str | None = Field(
        default=None, description="How the framework picks the value when the default depends on context."
    )
    description: str = Field(min_length=3)
    source: Source

    @model_validator(mode="after")
    def _default_fits_its_meaning(self) -> Self:
        if self.values is not None and self.default is not None and str(self.default) not in self.values:
            raise ValueError(
                f"knob {self.name!r}: default {self.default!r} is not among its values ({', '.join(self.values)})"
            )
        concept = self.concept_value()
        if concept is not None and not self.negates:
            problem = _default_problem(self.meaning, concept)
            if problem:
                raise ValueError(f"knob {self.name!r}: default {self.default!r} is not a {problem}")
        return self

    @model_validator(mode="after")
    def _runtime_default_is_explained(self) -> Self:
        if self.default is None and not self.default_note:
            raise ValueError(
                f"knob {self.name!r} has no default: say in 'default_note' how the framework picks it at run time"
            )
        if self.flag is None and self.config_key is None and self.env is None:
            raise ValueError(f"knob {self.name!r} needs a 'flag', 'config_key' or 'env' so a user can set it")
        if self.negates and not isinstance(self.default, bool):
            raise ValueError(f"knob {self.name!r} negates its concept, so its default must be true or false")
        return self

    def concept_value(self, value: KnobValue | None = None) -> KnobValue | None:
        """The value of the servecast concept when the knob is set to `value` (its default when omitted)."""
        raw = self.default if value is None else value
        if self.values is not None and raw is not None:
            return self.values.get(str(raw), raw)
        if self.negates and isinstance(raw, bool):
            return not raw
        return raw

    def framework_value(self, concept: KnobValue) -> KnobValue:
        """The value to give the framework for the concept value `concept` (the inverse of `concept_value`)."""
        if self.values is not None:
            return next((name for name, meant in self.values.items() if meant == concept), str(concept))
        if self.negates and isinstance(concept, bool):
            return not concept
        return concept


MEMORY_FRACTION_MEANINGS = (
    KnobMeaning.GPU_MEMORY_FRACTION,
    KnobMeaning.STATIC_MEMORY_FRACTION,
    KnobMeaning.KV_CACHE_FREE_MEMORY_FRACTION,
)
"""The three meanings a framework's memory fraction can have (what it is a fraction *of*)."""
_COUNTS = {
    KnobMeaning.MAX_BATCH_SIZE,
    KnobMeaning.MAX_NUM_TOKENS,
    KnobMeaning.MAX_PREFILL_TOKENS,
    KnobMeaning.CUDA_GRAPH_MAX_BATCH_SIZE,
    KnobMeaning.KV_CACHE_BLOCK_SIZE,
    KnobMeaning.MAX_MODEL_LEN,
    KnobMeaning.SCHEDULER_STEPS,
}
_SWITCHES = {
    KnobMeaning.CHUNKED_PREFILL,
    KnobMeaning.MIXED_PREFILL_DECODE,
    KnobMeaning.CUDA_GRAPH,
    KnobMeaning.OVERLAP_SCHEDULER,
    KnobMeaning.PREFIX_CACHING,
    KnobMeaning.MOE_ALL_TO_ALL,
    KnobMeaning.TWO_BATCH_OVERLAP,
}


def _default_problem(meaning: KnobMeaning, value: KnobValue) -> str | None:
    """Why `value` cannot be a default for `meaning` (None when it can)."""
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    count = value if isinstance(value, int) and not isinstance(value, bool) else None
    if meaning in MEMORY_FRACTION_MEANINGS:
        if number is None:
            return f"{meaning.value} (a number)"
        return None if 0 < number <= 1 else f"valid value: {meaning.value} must be in (0, 1]"
    if meaning in _COUNTS and (count is None or count <= 0):
        return f"valid value: {meaning.value} must be a positive integer"
    if meaning is KnobMeaning.CHUNKED_PREFILL_SIZE and (count is None or (count <= 0 and count != -1)):
        return f"valid value: {meaning.value} must be a positive integer, or -1 for 'off'"
    if meaning in _SWITCHES and not isinstance(value, bool):
        return f"valid value: {meaning.value} is a switch (true or false)"
    if meaning is KnobMeaning.CUDA_GRAPH_BATCH_SIZES and not isinstance(value, tuple):
        return f"valid value: {meaning.value} is a list of batch sizes"
    return None


class FrameworkCapabilities(FrozenModel):
    """What a framework version can run."""

    parallel_modes: frozenset[ParallelMode]
    quantizations: frozenset[Quantization]
    kv_cache_dtypes: frozenset[KvCacheDtype]
    serving_modes: frozenset[ServingMode]
    vendors: frozenset[GpuVendor] = Field(
        default=frozenset({GpuVendor.NVIDIA}),
        description="The GPU makers whose GPUs the version runs on (NVIDIA through CUDA, AMD through ROCm).",
    )
    tensor_core_only: frozenset[Quantization] = Field(
        default=frozenset(),
        description="Quantizations this version runs only on tensor cores of their own precision, with no "
        "dequantizing fallback (TensorRT-LLM's NVFP4 needs Blackwell's FP4 tensor cores): refused on other GPUs.",
    )

    @model_validator(mode="after")
    def _tensor_parallel_is_always_there(self) -> Self:
        if ParallelMode.TP not in self.parallel_modes:
            raise ValueError("every framework supports tensor parallelism: add 'tp' to parallel_modes")
        return self


class ContainerImage(FrozenModel):
    """The container image a framework version's project publishes for it (what container targets run)."""

    value: str = Field(
        min_length=1,
        description="The image reference; `{version}` stands for the modelled version (`vllm/vllm-openai:v{version}`).",
    )
    source: Source
    note: str | None = None

    def reference(self, version: str) -> str:
        """The image of `version`."""
        return self.value.replace("{version}", version)


class FrameworkVersion(FrozenModel):
    """One released version of a framework: what it can do and how it is configured by default."""

    version: str = Field(description="A PEP 440 version string, as the framework's release is tagged.")
    released: dt.date | None = None
    capabilities: FrameworkCapabilities
    knobs: tuple[Knob, ...] = Field(min_length=1)
    kernels: KernelChoices = Field(
        default_factory=KernelChoices, description="Default kernels per primitive on the modelled GPUs."
    )
    scheduling: SchedulingBehaviour | None = Field(
        default=None, description="Scheduler rules and CPU overheads; needed to simulate serving with this version."
    )
    notes: str | None = None
    image: ContainerImage | None = Field(
        default=None, description="The project's container image of this version; None: it publishes none."
    )
    covers: str | None = Field(
        default=None,
        description="The releases this modelled version stands for, as a PEP 440 specifier set ('>=0.8.0,<0.11.0'), "
        "matched on the release number (a release candidate, dev or post build counts as its release); without it, "
        "the releases from this one up to the next modelled version.",
    )
    generation: str | None = Field(
        default=None,
        description="What the covered releases share (engine, scheduler, kernel generation) and any known difference "
        "between them, said whenever a covered release is mapped to this version.",
    )

    @field_validator("covers")
    @classmethod
    def _covers_is_a_specifier_set(cls, covers: str | None) -> str | None:
        if covers is not None:
            try:
                SpecifierSet(covers)
            except InvalidSpecifier as error:
                raise ValueError(f"covers {covers!r} is not a PEP 440 specifier set such as '>=0.8,<0.11'") from error
        return covers

    def covers_release(self, release: Version) -> bool:
        """Whether `release` (a release number, no pre/post/dev part) belongs to this version's `covers`."""
        return self.covers is not None and SpecifierSet(self.covers).contains(release, prereleases=True)

    @field_validator("version")
    @classmethod
    def _version_is_pep440(cls, version: str) -> str:
        try:
            Version(version)
        except InvalidVersion as error:
            raise ValueError(f"version {version!r} is not a PEP 440 version such as '0.11.0' or '1.0.0rc2'") from error
        return version

    @model_validator(mode="after")
    def _knob_names_are_unique(self) -> Self:
        seen: set[str] = set()
        for knob in self.knobs:
            if knob.name in seen:
                raise ValueError(f"knob {knob.name!r} is listed twice in version {self.version}")
            seen.add(knob.name)
        return self

    def knob(self, name: str) -> Knob:
        """The knob called `name`; a KeyError naming the known knobs otherwise."""
        for knob in self.knobs:
            if knob.name == name:
                return knob
        known = ", ".join(k.name for k in self.knobs)
        raise KeyError(f"version {self.version} has no knob {name!r}; known knobs: {known}")

    def knobs_for(self, meaning: KnobMeaning) -> tuple[Knob, ...]:
        """Every knob that controls `meaning` (usually one)."""
        return tuple(knob for knob in self.knobs if knob.meaning is meaning)

    def default_for(self, meaning: KnobMeaning) -> KnobValue | None:
        """The default value of the concept `meaning` (negated knobs inverted); None when decided at run time."""
        knobs = self.knobs_for(meaning)
        if len(knobs) != 1:
            names = ", ".join(knob.name for knob in knobs) or "none"
            raise KeyError(f"version {self.version} needs exactly one knob for {meaning.value}; it has: {names}")
        return knobs[0].concept_value()


class FrameworkSpec(FrozenModel):
    """A serving framework and the versions of it servecast models."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Short id used on the command line, e.g. 'vllm'.")
    display_name: str
    homepage: str | None = None
    versions: tuple[FrameworkVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _versions_are_unique(self) -> Self:
        names = [v.version for v in self.versions]
        duplicates = sorted({v for v in names if names.count(v) > 1})
        if duplicates:
            raise ValueError(f"framework {self.name!r} lists version(s) {duplicates} more than once")
        return self

    @property
    def version_names(self) -> tuple[str, ...]:
        """Version strings, oldest first."""
        return tuple(v.version for v in sorted(self.versions, key=lambda v: Version(v.version)))

    @property
    def latest(self) -> FrameworkVersion:
        """The newest modelled version."""
        return max(self.versions, key=lambda v: Version(v.version))

    def version(self, version: str) -> FrameworkVersion:
        """The modelled version `version`; a KeyError listing the modelled versions otherwise."""
        for candidate in self.versions:
            if candidate.version == version:
                return candidate
        raise KeyError(
            f"{self.display_name} version {version!r} is not modelled; modelled versions: "
            f"{', '.join(self.version_names)}"
        )

    def resolve(self, version: str) -> tuple[FrameworkVersion, str | None]:
        """The modelled version that stands for release `version`, and a note saying why when it is another one.

        `version` may carry a leading 'v', a release-candidate, dev, post or local part: a modelled version with
        the same number is used as it is, else the one whose `covers` holds the release number, else (for a
        version without `covers`) the newest modelled release not newer than it. A ValueError when `version` is
        not a version number.
        """
        text = version.strip().removeprefix("v").removeprefix("V")
        try:
            wanted = Version(text)
        except InvalidVersion:
            raise ValueError(f"{self.display_name} version {version!r} is not a version number") from None
        for candidate in self.versions:
            if Version(candidate.version) == wanted:
                return candidate, None
        release = Version(wanted.base_version)
        modelled = ", ".join(self.version_names)
        covering = [v for v in self.versions if v.covers_release(release)]
        if covering:
            chosen = max(covering, key=lambda v: Version(v.version))
            why = f"the modelled version of its generation ({chosen.covers})"
            if chosen.generation:
                why += f": {chosen.generation}"
            if chosen is self.latest and release > Version(Version(chosen.version).base_version):
                why += "; it is newer than every modelled release, so later changes of defaults are not modelled"
            return chosen, f"{self.display_name} {version} is not modelled; using {chosen.version}, {why}"
        ordered = sorted(self.versions, key=lambda v: Version(v.version))
        older = [v for v in ordered if Version(Version(v.version).base_version) <= release]
        if older:
            chosen = older[-1]
            newest = chosen is ordered[-1]
            where = "newer than every modelled version" if newest else "outside every modelled generation"
            note = (
                f"{self.display_name} {version} is {where}; using {chosen.version}, the newest modelled release not "
                f"newer than it (modelled: {modelled}): defaults changed since then are not modelled"
            )
            return chosen, note
        chosen = ordered[0]
        note = (
            f"{self.display_name} {version} is older than every modelled version; using the oldest, "
            f"{chosen.version} (modelled: {modelled}): its defaults and kernels may not be the ones {version} had"
        )
        return chosen, note
