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

TensorRT-LLM is not covered: its release wheels are published on pypi.nvidia.com (PyPI holds only a placeholder
sdist), which the machines this script was written on cannot reach.
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import io
import json
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
    listed_classes,
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
    """The Python files of a wheel or sdist by their path inside the package (an sdist's top folder dropped)."""

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
    """A JSON/YAML config argument whose top-level keys are a dataclass's fields."""

    name: str
    classes: tuple[str, ...]
    dataclass: str
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class PackageRecipe:
    """What to read from one package of a framework version."""

    package: str
    version: str
    commands: tuple[CommandRecipe, ...]
    configs: tuple[ConfigRecipe, ...] = ()


VLLM_PROXY = "tests/v1/kv_connector/nixl_integration/toy_proxy_server.py"
"""vLLM's prefill/decode proxy: in the sdist, not in the wheel."""
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
        commands.append(
            CommandRecipe(
                f"python {VLLM_PROXY}",
                modules=(VLLM_PROXY,),
                required=("--prefiller-hosts", "--decoder-ports"),
            )
        )
        configs = [
            ConfigRecipe("compilation_config", VLLM_CONFIG, "CompilationConfig", ("cudagraph_capture_sizes",)),
            ConfigRecipe("kv_transfer_config", VLLM_CONFIG, "KVTransferConfig", ("kv_connector", "kv_role")),
        ]
    return [PackageRecipe("vllm", version, tuple(commands), tuple(configs))]


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


# ------------------------------------------------------------------------------------------------ extraction


def extract(framework: str, version: str, cache: Path) -> dict[str, object]:
    """The schema snapshot of one framework version, read from its published packages."""
    packages, commands, configs = [], {}, {}
    for recipe in RECIPES[framework](version):
        files = release_files(recipe.package)
        if recipe.version not in files:
            raise SystemExit(f"{recipe.package} {recipe.version} is not on PyPI")
        release = pick_file(files[recipe.version])
        tree = SourceTree(release.filename, download(release, cache))
        packages.append(
            {"name": recipe.package, "version": recipe.version, "file": release.filename, "sha256": release.sha256}
        )
        for command in (c for c in recipe.commands if c.applies(tree)):
            modules = list(tree.under(*command.modules))
            index = class_index(list(tree.under(*command.classes)))
            flags = argparse_flags(modules, index, command.substitutions)
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
            keys = set(all_fields(class_index(list(tree.under(*config.classes))), config.dataclass))
            require(f"{recipe.package} {recipe.version} {config.dataclass}", config.required, keys)
            configs[config.name] = sorted(keys)
    return {
        "framework": framework,
        "version": version,
        "extracted_by": "scripts/extract_launch_schemas.py",
        "packages": packages,
        "commands": commands,
        "config_keys": configs,
    }


def require(what: str, required: tuple[str, ...], found: set[str]) -> None:
    missing = sorted(set(required) - found)
    if missing:
        raise SystemExit(f"{what}: {', '.join(missing)} not found; the recipe no longer matches this release")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", choices=sorted(RECIPES))
    parser.add_argument("--version", help="one modelled version (default: all of them)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "servecast-schemas")
    parser.add_argument("--check", action="store_true", help="compare with the committed snapshots, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for framework in [args.framework] if args.framework else sorted(RECIPES):
        for version in modelled_versions(framework):
            if args.version and version != args.version:
                continue
            text = json.dumps(extract(framework, version, args.cache), indent=1) + "\n"
            path = plugin_data(framework) / "cli" / f"{version}.json"
            if args.check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path.relative_to(ROOT)))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
