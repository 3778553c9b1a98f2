"""Extract the command-line flags and config keys each modelled framework version accepts, from the package that
version published on PyPI, into the committed schema snapshots the launch writers are checked against.

The frameworks cannot be imported without GPUs, CUDA builds of torch and their native extensions, so the package's
Python source is read, not run: every `add_argument` call's option strings; the `--no-` forms argparse adds for
`BooleanOptionalAction` switches, written out or derived (vLLM's `get_kwargs`) from a config dataclass field typed
`bool`; flags generated from dataclass fields (vLLM's frontend arguments, SGLang's annotated `ServerArgs`); config
keys as a config dataclass's fields; and the values a flag accepts where its parser lists them (`choices=`, a `Literal`
type) or the version checks them right after parsing. Each recipe names flags (and value lists) it must find, so a
release that moved its parser fails loudly instead of producing a thin snapshot.

    uv run python scripts/extract_launch_schemas.py                  # every modelled version with a recipe
    uv run python scripts/extract_launch_schemas.py --framework vllm --version 0.10.2
    uv run python scripts/extract_launch_schemas.py --check          # snapshots up to date (no writes)

TensorRT-LLM publishes its wheels on pypi.nvidia.com (PyPI holds only a placeholder sdist), so its snapshots are read
from the source at the release's git tag instead, one version at a time: `trtllm-serve`'s and `trtllm-serve
disaggregated`'s click options, the benchmark's argparse flags, the keys of the extra LLM-API options YAML (the
PyTorch backend's `TorchLlmArgs` and the nested configs the plugin writes) and of the disaggregated server's config.
The tree's `tensorrt_llm/version.py` must name the version asked for: a snapshot is named after what it was read from.

    git clone --filter=blob:none --no-checkout https://github.com/NVIDIA/TensorRT-LLM trtllm  # blobs fetched on use
    uv run python scripts/extract_launch_schemas.py --framework trtllm --version 1.0.0 \\
        --git-dir trtllm/.git --ref v1.0.0                        # or: --source path/to/a/checkout
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from servecast.specfiles import load_framework_spec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from launch_schema_reading import (  # noqa: E402
    all_fields,
    annotated_arg_choices,
    annotated_arg_flags,
    argparse_choices,
    argparse_flags,
    class_index,
    click_choices,
    click_flags,
    dict_keys_read,
    function_keywords,
    listed_classes,
    model_fields,
    plain_dataclass_flags,
    resolve_values,
    value_index,
)

ROOT = Path(__file__).resolve().parent.parent
PYPI = "https://pypi.org/pypi/{package}/json"


def plugin_data(framework: str) -> Path:
    return ROOT / "plugins" / framework / f"servecast_{framework}" / "data"


def modelled_versions(framework: str) -> list[str]:
    """The versions the framework plugin's data models."""
    spec = load_framework_spec(plugin_data(framework) / f"{framework}.toml")
    return [version.version for version in spec.versions]


# ------------------------------------------------------------------------------------------------ packages


@dataclass(frozen=True)
class Release:
    """One published file of a package: where it is and its digest."""

    package: str
    version: str
    filename: str
    url: str
    sha256: str
    upload_time: str


@functools.cache
def release_files(package: str) -> dict[str, list[Release]]:
    """Every version's published files, from PyPI's JSON API."""
    url = PYPI.format(package=package)
    with urllib.request.urlopen(url, timeout=120) as response:
        data = json.load(response)
    return {
        version: [
            Release(package, version, f["filename"], urllib.parse.urljoin(url, f["url"]), f["digests"]["sha256"],
                    f["upload_time"])
            for f in files
        ]
        for version, files in data["releases"].items()
        if files
    }  # fmt: skip


def pick_file(files: list[Release]) -> Release:
    """The cheapest file that holds the Python source: a pure wheel, else the sdist, else the smallest wheel (the
    Python files are the same on every platform)."""
    pure = [f for f in files if f.filename.endswith("-py3-none-any.whl")]
    sdists = [f for f in files if f.filename.endswith((".tar.gz", ".zip"))]
    wheels = sorted((f for f in files if f.filename.endswith(".whl")), key=lambda f: f.filename)
    return (pure or sdists or wheels)[0]


def download(release: Release, cache: Path) -> bytes:
    """The file's bytes, cached by name and checked against PyPI's sha256."""
    path = cache / release.filename
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(release.url, timeout=600) as response:
            path.write_bytes(response.read())
    payload = path.read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != release.sha256:
        path.unlink()
        raise SystemExit(f"{release.filename}: sha256 {digest} is not PyPI's {release.sha256}; download removed")
    return payload


class SourceTree:
    """The Python files of a wheel or sdist by their path inside the package (an sdist's top folder dropped), or of
    a source checkout by their path in the repository (`SourceTree.of`)."""

    @classmethod
    def of(cls, files: Mapping[str, str]) -> SourceTree:
        tree = cls.__new__(cls)
        tree.files = dict(files)
        return tree

    def __init__(self, filename: str, payload: bytes):
        self.files: dict[str, str] = {}
        if filename.endswith(".whl") or filename.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                for name in archive.namelist():
                    if name.endswith(".py"):
                        self.files[name] = archive.read(name).decode("utf-8", "replace")
        else:
            with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
                for member in archive.getmembers():
                    if member.isfile() and member.name.endswith(".py"):
                        data = archive.extractfile(member)
                        assert data is not None
                        self.files[member.name.split("/", 1)[1]] = data.read().decode("utf-8", "replace")

    def under(self, *folders: str) -> Iterator[tuple[str, ast.Module]]:
        """Parsed modules under `folders` (files or folders, also below a source folder such as `py_src/`),
        sorted by path."""
        for path in sorted(self.files):
            if any(f"/{f.strip('/')}/" in f"/{path}/" for f in folders):
                try:
                    yield path, ast.parse(self.files[path])
                except SyntaxError:
                    continue


# ------------------------------------------------------------------------------------------------ recipes


@dataclass(frozen=True)
class CommandRecipe:
    """Where one command's parser lives in a package and how its flags are built."""

    command: str
    """How the command is run, as the launch writes it (`vllm serve`, `python -m sglang.launch_server`)."""
    modules: tuple[str, ...]
    """Files or folders whose `add_argument` calls build the parser."""
    classes: tuple[str, ...] = ()
    """Files or folders whose (config) dataclasses the parser derives flags from."""
    plain_dataclasses: tuple[str, ...] = ()
    annotated_dataclasses: tuple[str, ...] = ()
    annotated_dataclass_lists: tuple[str, ...] = ()
    """Module-level lists of annotated dataclasses whose fields make one parser (SGLang >= 0.5's namespaces)."""
    substitutions: Mapping[str, str] = field(default_factory=dict)
    values: tuple[str, ...] = ()
    """Files or folders whose module-level lists, dicts and Literal aliases the parser's choices name."""
    checked_values: Mapping[str, str] = field(default_factory=dict)
    """Flags the parser takes any string for but the version checks right after parsing: flag -> the module-level
    name (in `values`) of the values it accepts."""
    required: tuple[str, ...] = ()
    required_choices: tuple[str, ...] = ()
    """Flags whose accepted values must be found."""
    click_commands: tuple[str, ...] = ()
    """Functions in `modules` whose `@click.option` decorators build the command's options (TensorRT-LLM)."""
    unless: str | None = None
    """A file whose presence means the release moved this command elsewhere (the recipe is skipped)."""
    only_with: str | None = None
    """A file the release must have for this command to exist."""

    def applies(self, tree: SourceTree) -> bool:
        return (self.unless is None or not any(tree.under(self.unless))) and (
            self.only_with is None or any(tree.under(self.only_with))
        )


@dataclass(frozen=True)
class ConfigRecipe:
    """A JSON/YAML config argument whose top-level keys are a dataclass's fields (or, nested, those of one of its
    sections: `name` is then dotted, `extra_llm_api_options.kv_cache_config`)."""

    name: str
    classes: tuple[str, ...]
    dataclass: str
    required: tuple[str, ...] = ()
    model: bool = False
    """A pydantic model (or a dataclass built from a dict): its public fields and their aliases, not private attrs,
    ClassVars or `init=False` fields."""
    function: bool = False
    """`dataclass` names a function the config is spread into (`function(**config)`): its named parameters."""
    skip: tuple[str, ...] = ()
    """Parameters of that function the config does not set (given by the caller)."""
    read_from: tuple[str, str] | None = None
    """(function, parameter): also the keys that function reads from that dict parameter."""
    forwards: str | None = None
    """The config whose keys the function's `**kwargs` pass on to (TensorRT-LLM's disaggregated config hands its
    other keys to the servers' LLM arguments); ignored when the function takes no `**kwargs`."""


@dataclass(frozen=True)
class PackageRecipe:
    """What to read from one package of a framework version."""

    package: str
    version: str
    commands: tuple[CommandRecipe, ...]
    configs: tuple[ConfigRecipe, ...] = ()


VLLM_ROUTER = "0.1.17"
"""The vllm-router release the vLLM plugin launches for prefill/decode pools (`ROUTER_REQUIREMENT`)."""
VLLM_CONFIG = ("vllm/config.py", "vllm/config", "vllm/engine/arg_utils.py")
VLLM_QUANTIZATION = "vllm/model_executor/layers/quantization/__init__.py"
"""Where vLLM lists its quantization methods (`QUANTIZATION_METHODS`, `QuantizationMethods`)."""
VLLM_CHECKED_VALUES = {"--quantization": "QUANTIZATION_METHODS", "--kv-cache-dtype": "KV_CACHE_DTYPES"}
"""Where the type also admits any str, vLLM's parser lists no choices, and the config checks the value instead:
`ModelConfig._verify_quantization` against `QUANTIZATION_METHODS`, `CacheConfig._validate_cache_dtype` against
`KV_CACHE_DTYPES` (both the Literal's values plus names registered at run time, which a launch never uses)."""


def vllm_recipes(version: str) -> list[PackageRecipe]:
    modern = Version(version) >= Version("0.10.0")
    frontend = ("vllm/entrypoints/openai/cli_args.py", "vllm/entrypoints/common/cli_args.py")
    serve = CommandRecipe(
        "vllm serve",
        modules=("vllm/engine/arg_utils.py", *frontend, "vllm/entrypoints/cli/serve.py"),
        classes=(*VLLM_CONFIG, *frontend),
        plain_dataclasses=("FrontendArgs",) if modern else (),
        values=(VLLM_QUANTIZATION, "vllm/config/cache.py"),
        checked_values=VLLM_CHECKED_VALUES,
        required=("--host", "--port", "--tensor-parallel-size", "--max-num-seqs", "--gpu-memory-utilization"),
        required_choices=("--quantization", "--kv-cache-dtype"),
    )
    commands = [serve]
    configs = []
    if modern:
        commands.append(
            CommandRecipe(
                "vllm bench serve",
                modules=("vllm/benchmarks/serve.py", "vllm/benchmarks/datasets.py", "vllm/benchmarks/datasets"),
                values=("vllm/benchmarks/lib/endpoint_request_func.py",),
                required=("--base-url", "--max-concurrency", "--random-input-len", "--ignore-eos"),
                required_choices=("--backend", "--dataset-name"),
            )
        )
        configs = [
            ConfigRecipe("compilation_config", VLLM_CONFIG, "CompilationConfig", ("cudagraph_capture_sizes",)),
            ConfigRecipe("kv_transfer_config", VLLM_CONFIG, "KVTransferConfig", ("kv_connector", "kv_role")),
        ]
    recipes = [PackageRecipe("vllm", version, tuple(commands), tuple(configs))]
    if modern:
        router = CommandRecipe(
            "vllm-router",
            modules=("vllm_router/launch_router.py", "vllm_router/router_args.py"),
            substitutions={"prefix": ""},
            required=("--vllm-pd-disaggregation", "--prefill", "--decode", "--port", "--worker-startup-timeout-secs"),
        )
        recipes.append(PackageRecipe("vllm-router", VLLM_ROUTER, (router,)))
    return recipes


BENCHMARK_PACKAGE = "sglang/benchmark/serving.py"
"""Where newer SGLang releases keep the serving benchmark (`sglang.bench_serving` became a deprecated alias)."""


def release_day(package: str, version: str) -> str:
    return min(f.upload_time for f in release_files(package)[version])[:10]


def current_router(sglang_version: str) -> str | None:
    """The sglang-router release current when an SGLang release came out (SGLang does not pin it): the newest one
    uploaded to PyPI on or before the SGLang release's day; None before the router existed."""
    day = release_day("sglang", sglang_version)
    routers = [(min(f.upload_time for f in files)[:10], v) for v, files in release_files("sglang-router").items()]
    earlier = [(Version(v), v) for uploaded, v in routers if uploaded <= day and not Version(v).is_prerelease]
    return max(earlier)[1] if earlier else None


def sglang_recipes(version: str) -> list[PackageRecipe]:
    server = CommandRecipe(
        "python -m sglang.launch_server",
        modules=("sglang/srt/server_args.py",),
        classes=("sglang/srt/server_args.py", "sglang/srt/arg_groups"),
        annotated_dataclasses=("ServerArgs",),
        annotated_dataclass_lists=("_INPUT_NAMESPACES",),
        values=("sglang/srt/arg_groups/choices.py",),
        required=("--model-path", "--host", "--port", "--mem-fraction-static", "--max-running-requests"),
        required_choices=("--quantization", "--kv-cache-dtype"),
    )
    bench_flags = ("--backend", "--num-prompts", "--random-input-len")
    legacy_bench = CommandRecipe(
        "python -m sglang.bench_serving",
        modules=("sglang/bench_serving.py",),
        required=bench_flags,
        required_choices=("--backend", "--dataset-name"),
        unless=BENCHMARK_PACKAGE,
    )
    bench = CommandRecipe(
        "python -m sglang.benchmark.serving",
        modules=(BENCHMARK_PACKAGE, "sglang/benchmark/datasets"),
        required=bench_flags,
        required_choices=("--backend", "--dataset-name"),
        only_with=BENCHMARK_PACKAGE,
    )
    recipes = [PackageRecipe("sglang", version, (server, legacy_bench, bench))]
    router_version = current_router(version)
    if router_version is not None:
        router = CommandRecipe(
            "python -m sglang_router.launch_router",
            modules=("sglang_router/launch_router.py", "sglang_router/router_args.py"),
            substitutions={"prefix": ""},
            required=("--pd-disaggregation", "--prefill", "--decode", "--port"),
        )
        recipes.append(PackageRecipe("sglang-router", router_version, (router,)))
    return recipes


RECIPES = {"vllm": vllm_recipes, "sglang": sglang_recipes}

TRTLLM_SERVE = "tensorrt_llm/commands/serve.py"
TRTLLM_ARGS = ("tensorrt_llm/llmapi/llm_args.py", "tensorrt_llm/_torch/model_config.py")
"""The LLM API's arguments (TorchLlmArgs and its configs) and where MoeLoadBalancerConfig lives."""
TRTLLM_DISAGG = ("tensorrt_llm/llmapi/disagg_utils.py",)
TRTLLM_BENCHMARK = "tensorrt_llm/serve/scripts/benchmark_serving.py"
EXTRA_OPTIONS = "extra_llm_api_options"
"""`trtllm-serve --extra_llm_api_options FILE`: a YAML whose keys are TorchLlmArgs fields."""
DISAGG_CONFIG = "disaggregated_config"
"""`trtllm-serve disaggregated -c FILE`: a YAML spread into `extract_disagg_cfg`."""


def trtllm_recipe(version: str) -> PackageRecipe:
    """What one TensorRT-LLM release's source must yield (>= 1.0: `trtllm-serve` with the PyTorch backend)."""
    serve = CommandRecipe(
        "trtllm-serve",
        modules=(TRTLLM_SERVE,),
        click_commands=("serve",),
        required=("--host", "--port", "--backend", "--tp_size", "--pp_size", "--ep_size", f"--{EXTRA_OPTIONS}"),
        required_choices=("--backend",),
    )
    disaggregated = CommandRecipe(
        "trtllm-serve disaggregated",
        modules=(TRTLLM_SERVE,),
        click_commands=("disaggregated",),
        required=("-c", "--config_file"),
    )
    benchmark = CommandRecipe(
        "python -m tensorrt_llm.serve.scripts.benchmark_serving",
        modules=(TRTLLM_BENCHMARK,),
        values=("tensorrt_llm/serve/scripts/backend_request_func.py",),
        required=("--backend", "--host", "--port", "--max-concurrency", "--num-prompts", "--random-input-len"),
        required_choices=("--backend", "--dataset-name"),
    )
    section = functools.partial(ConfigRecipe, classes=TRTLLM_ARGS, model=True)
    configs = (
        section(name=EXTRA_OPTIONS, dataclass="TorchLlmArgs",
                required=("kv_cache_config", "cuda_graph_config", "enable_attention_dp", "moe_expert_parallel_size")),
        section(name=f"{EXTRA_OPTIONS}.kv_cache_config", dataclass="KvCacheConfig",
                required=("free_gpu_memory_fraction", "enable_block_reuse")),
        section(name=f"{EXTRA_OPTIONS}.cuda_graph_config", dataclass="CudaGraphConfig",
                required=("batch_sizes", "max_batch_size")),
        section(name=f"{EXTRA_OPTIONS}.moe_config", dataclass="MoeConfig", required=("backend", "load_balancer")),
        section(name=f"{EXTRA_OPTIONS}.moe_config.load_balancer", dataclass="MoeLoadBalancerConfig",
                required=("num_slots",)),
        section(name=f"{EXTRA_OPTIONS}.cache_transceiver_config", dataclass="CacheTransceiverConfig",
                required=("backend",)),
        section(name=f"{EXTRA_OPTIONS}.scheduler_config", dataclass="SchedulerConfig",
                required=("capacity_scheduler_policy",)),
        section(name=f"{EXTRA_OPTIONS}.scheduler_config.dynamic_batch_config", dataclass="DynamicBatchConfig",
                required=("enable_batch_size_tuning",)),
        ConfigRecipe(DISAGG_CONFIG, TRTLLM_DISAGG, "extract_disagg_cfg", function=True, forwards=EXTRA_OPTIONS,
                     required=("hostname", "port", "context_servers", "generation_servers")),
        *(
            ConfigRecipe(f"{DISAGG_CONFIG}.{servers}", TRTLLM_DISAGG, "extract_ctx_gen_cfgs", function=True,
                         skip=("type",), read_from=("extract_disagg_cfg", servers), forwards=EXTRA_OPTIONS,
                         required=("num_instances", "urls"))
            for servers in ("context_servers", "generation_servers")
        ),
    )  # fmt: skip
    return PackageRecipe("tensorrt_llm", version, (serve, disaggregated, benchmark), configs)


SOURCE_RECIPES = {"trtllm": trtllm_recipe}
"""Frameworks whose snapshots are read from a source checkout (`--git-dir`/`--ref` or `--source`), not PyPI."""


# ------------------------------------------------------------------------------------------------ extraction


def extract(framework: str, version: str, cache: Path) -> dict[str, object]:
    """The schema snapshot of one framework version, read from its published packages."""
    packages: list[dict[str, str]] = []
    commands: dict[str, object] = {}
    configs: dict[str, list[str]] = {}
    for recipe in RECIPES[framework](version):
        files = release_files(recipe.package)
        if recipe.version not in files:
            raise SystemExit(f"{recipe.package} {recipe.version} is not on PyPI")
        release = pick_file(files[recipe.version])
        tree = SourceTree(release.filename, download(release, cache))
        packages.append(
            {"name": recipe.package, "version": recipe.version, "file": release.filename, "sha256": release.sha256}
        )
        read_recipe(recipe, tree, commands, configs)
    return snapshot(framework, version, packages, commands, configs)


def snapshot(
    framework: str,
    version: str,
    packages: list[dict[str, str]],
    commands: dict[str, object],
    configs: dict[str, list[str]],
) -> dict[str, object]:
    return {
        "framework": framework,
        "version": version,
        "extracted_by": "scripts/extract_launch_schemas.py",
        "packages": packages,
        "commands": commands,
        "config_keys": configs,
    }


def read_recipe(
    recipe: PackageRecipe, tree: SourceTree, commands: dict[str, object], configs: dict[str, list[str]]
) -> None:
    """Every command's flags and accepted values and every config's keys the recipe names, read from `tree`."""
    for command in (c for c in recipe.commands if c.applies(tree)):
        modules = list(tree.under(*command.modules))
        index = class_index(list(tree.under(*command.classes)))
        flags = argparse_flags(modules, index, command.substitutions)
        for function in command.click_commands:
            flags |= click_flags(modules, function)
        for name in command.plain_dataclasses:
            flags |= plain_dataclass_flags(index, name)
        classes = [*command.annotated_dataclasses, *listed_classes(modules, command.annotated_dataclass_lists)]
        for name in classes:
            flags |= annotated_arg_flags(index, name)
        what = f"{recipe.package} {recipe.version} `{command.command}`"
        require(what, command.required, flags)
        value_modules = list(tree.under(*command.values))
        values = value_index([*modules, *tree.under(*command.classes), *value_modules])
        choices = argparse_choices(modules, index, values, command.substitutions)
        for function in command.click_commands:
            choices |= click_choices(modules, function, values)
        for name in classes:
            choices |= annotated_arg_choices(index, name, values)
        for flag, name in command.checked_values.items():
            found = resolve_values(ast.Name(id=name), values)
            if found is not None:
                choices.setdefault(flag, found)
        require(f"{what} accepted values", command.required_choices, set(choices))
        read = {p for p, _ in modules} | {p for p, _ in value_modules}
        commands[command.command] = {
            "read": sorted(read),
            "flags": sorted(flags),
            "choices": {flag: sorted(set(found)) for flag, found in sorted(choices.items()) if flag in flags},
        }
    for config in recipe.configs:
        keys = config_keys(config, list(tree.under(*config.classes)), configs)
        require(f"{recipe.package} {recipe.version} {config.dataclass}", config.required, keys)
        configs[config.name] = sorted(keys)


def config_keys(
    config: ConfigRecipe, modules: list[tuple[str, ast.Module]], earlier: Mapping[str, list[str]]
) -> set[str]:
    """The keys one config takes, read from `modules` (`earlier`: the configs read before it, for `forwards`)."""
    if not config.function:
        index = class_index(modules)
        name = config.dataclass
        alias = value_index(modules).get(name)
        if name not in index and isinstance(alias, ast.Name):  # `CudaGraphConfig = DecodeCudaGraphConfig`
            name = alias.id
        return model_fields(index, name) if config.model else set(all_fields(index, name))
    named, spreads = function_keywords(modules, config.dataclass)
    keys = named - set(config.skip)
    if config.read_from is not None:
        keys |= dict_keys_read(modules, *config.read_from)
    if spreads and config.forwards is not None and named:
        if config.forwards not in earlier:
            raise SystemExit(f"{config.name} forwards its other keys to {config.forwards}, which is read after it")
        keys |= set(earlier[config.forwards])
    return keys


# ------------------------------------------------------------------------------------------------ source checkouts


def wanted(path: str, recipe: PackageRecipe) -> bool:
    """Whether the recipe reads `path` (a file or a file below a folder it names), or it is the version file."""
    folders = {VERSION_FILE}
    for command in recipe.commands:
        folders.update((*command.modules, *command.classes, *command.values))
        folders.update(f for f in (command.unless, command.only_with) if f is not None)
    for config in recipe.configs:
        folders.update(config.classes)
    return path.endswith(".py") and any(f"/{f.strip('/')}/" in f"/{path}/" for f in folders)


VERSION_FILE = "tensorrt_llm/version.py"


def git(git_dir: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], input=stdin, capture_output=True, check=False
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def git_tree(git_dir: Path, ref: str, recipe: PackageRecipe) -> tuple[SourceTree, str]:
    """The recipe's files at `ref` of a git repository (also a bare or blob-less partial clone), and the commit."""
    commit = git(git_dir, "rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()
    names = [n for n in git(git_dir, "ls-tree", "-r", "--name-only", commit).decode().splitlines() if wanted(n, recipe)]
    batch = git(git_dir, "cat-file", "--batch", stdin="".join(f"{commit}:{name}\n" for name in names).encode())
    files, offset = {}, 0
    for name in names:
        header_end = batch.index(b"\n", offset)
        size = int(batch[offset:header_end].split()[2])
        files[name] = batch[header_end + 1 : header_end + 1 + size].decode("utf-8", "replace")
        offset = header_end + 1 + size + 1
    return SourceTree.of(files), commit


def directory_tree(root: Path, recipe: PackageRecipe) -> SourceTree:
    """The recipe's files in a source checkout (paths relative to its root)."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            if wanted(relative, recipe):
                files[relative] = path.read_text(encoding="utf-8", errors="replace")
    return SourceTree.of(files)


def source_version(tree: SourceTree) -> str | None:
    """`__version__` as the tree's `tensorrt_llm/version.py` sets it."""
    module = dict(tree.under(VERSION_FILE)).get(VERSION_FILE)
    for node in module.body if module is not None else []:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if any(isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets):
                return str(node.value.value)
    return None


def tree_digest(tree: SourceTree) -> str:
    """sha256 over the files read (path, NUL, text, NUL; sorted by path): what the snapshot was read from."""
    digest = hashlib.sha256()
    for path in sorted(tree.files):
        digest.update(path.encode() + b"\0" + tree.files[path].encode() + b"\0")
    return digest.hexdigest()


def extract_source(framework: str, version: str, tree: SourceTree, origin: str) -> dict[str, object]:
    """The schema snapshot of one framework version read from a source checkout of it (`origin`: which one)."""
    recipe = SOURCE_RECIPES[framework](version)
    found = source_version(tree)
    if found != version:
        raise SystemExit(
            f"{origin}: {VERSION_FILE} says {found!r}, not {version!r}; a snapshot is named after the version it was "
            "read from (check out that version's tag)"
        )
    commands: dict[str, object] = {}
    configs: dict[str, list[str]] = {}
    read_recipe(recipe, tree, commands, configs)
    package = {"name": recipe.package, "version": version, "file": origin, "sha256": tree_digest(tree)}
    return snapshot(framework, version, [package], commands, configs)


def require(what: str, required: tuple[str, ...], found: set[str]) -> None:
    missing = sorted(set(required) - found)
    if missing:
        raise SystemExit(f"{what}: {', '.join(missing)} not found; the recipe no longer matches this release")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", choices=sorted({*RECIPES, *SOURCE_RECIPES}))
    parser.add_argument("--version", help="one modelled version (default: all of them)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "servecast-schemas")
    parser.add_argument("--check", action="store_true", help="compare with the committed snapshots, write nothing")
    source = parser.add_argument_group("frameworks read from a source checkout (trtllm), one version at a time")
    source.add_argument("--git-dir", type=Path, help="a clone's git directory (bare or blob-less partial is fine)")
    source.add_argument("--ref", help="the version's tag in --git-dir (v1.0.0)")
    source.add_argument("--source", type=Path, help="a checkout of the version's source (instead of --git-dir)")
    args = parser.parse_args(argv)
    if args.framework in SOURCE_RECIPES:
        return from_source(parser, args)
    if args.git_dir or args.source:
        parser.error("--git-dir and --source are for frameworks read from source: " + ", ".join(SOURCE_RECIPES))
    stale = []
    for framework in [args.framework] if args.framework else sorted(RECIPES):
        for version in modelled_versions(framework):
            if args.version and version != args.version:
                continue
            text = json.dumps(extract(framework, version, args.cache), indent=1) + "\n"
            stale += write_or_check(framework, version, text, args.check)
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


def from_source(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """One snapshot of a framework read from source (its version's tag in a git clone, or a checkout)."""
    if args.version not in modelled_versions(args.framework):
        parser.error(f"--version: give one modelled {args.framework} version ({modelled_versions(args.framework)})")
    recipe = SOURCE_RECIPES[args.framework](args.version)
    if args.git_dir is not None and args.ref and args.source is None:
        tree, commit = git_tree(args.git_dir, args.ref, recipe)
        origin = f"git commit {commit} (ref {args.ref})"
    elif args.source is not None and args.git_dir is None:
        tree, origin = directory_tree(args.source, recipe), f"source tree {args.source.resolve().name}"
    else:
        parser.error(f"{args.framework} is read from source: give --git-dir and --ref, or --source")
    text = json.dumps(extract_source(args.framework, args.version, tree, origin), indent=1) + "\n"
    stale = write_or_check(args.framework, args.version, text, args.check)
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


def write_or_check(framework: str, version: str, text: str, check: bool) -> list[str]:
    """Writes the snapshot (or, checking, names it if the committed one differs)."""
    path = plugin_data(framework) / "cli" / f"{version}.json"
    if check:
        return [] if path.exists() and path.read_text() == text else [str(path.relative_to(ROOT))]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path.relative_to(ROOT)}")
    return []


if __name__ == "__main__":
    sys.exit(main())
