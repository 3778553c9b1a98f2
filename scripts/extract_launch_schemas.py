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


# ------------------------------------------------------------------------------------------------ source reading


@dataclass
class ClassInfo:
    """A class body's annotated fields (name -> annotation node) and its base class names."""

    bases: list[str]
    fields: dict[str, ast.AnnAssign]


def class_index(modules: list[tuple[str, ast.Module]]) -> dict[str, ClassInfo]:
    """Top-level classes by name; the first definition wins (modules are read in the recipe's order)."""
    index: dict[str, ClassInfo] = {}
    for _, module in modules:
        for node in module.body:
            if isinstance(node, ast.ClassDef) and node.name not in index:
                bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                fields = {
                    item.target.id: item
                    for item in node.body
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                }
                index[node.name] = ClassInfo(bases, fields)
    return index


def all_fields(index: Mapping[str, ClassInfo], name: str) -> dict[str, ast.AnnAssign]:
    """A class's fields with those of its bases found in the index (a subclass's own definition wins)."""
    info = index.get(name)
    if info is None:
        return {}
    fields: dict[str, ast.AnnAssign] = {}
    for base in info.bases:
        fields.update(all_fields(index, base))
    fields.update(info.fields)
    return fields


def names_in(node: ast.AST) -> set[str]:
    """Every identifier and string constant in an annotation (string annotations parsed)."""
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            try:
                found |= names_in(ast.parse(child.value, mode="eval"))
            except SyntaxError:
                continue
    return found


def is_bool_field(annotation: ast.AST) -> bool:
    return "bool" in names_in(annotation)


def is_boolean_optional(node: ast.AST | None) -> bool:
    return node is not None and "BooleanOptionalAction" in names_in(node)


def dashed(name: str) -> str:
    return "--" + name.replace("_", "-")


def option_strings(call: ast.Call, substitutions: Mapping[str, str]) -> list[str]:
    """The call's positional option strings: constants, and f-strings whose parts are all known names."""
    strings = []
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            strings.append(arg.value)
        elif isinstance(arg, ast.JoinedStr):
            parts = []
            for part in arg.values:
                if isinstance(part, ast.Constant):
                    parts.append(str(part.value))
                elif isinstance(part.value, ast.Name) and part.value.id in substitutions:
                    parts.append(substitutions[part.value.id])
                else:
                    break
            else:
                strings.append("".join(parts))
    return [s for s in strings if s.startswith("-")]


def _is(node: ast.AST | None, text: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == text


def keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def get_kwargs_targets(module: ast.Module) -> dict[str, str]:
    """`name = get_kwargs(Class)` assignments: variable -> class (vLLM builds flags from config dataclasses)."""
    targets = {}
    for node in ast.walk(module):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func, args = node.value.func, node.value.args
            if isinstance(func, ast.Name) and func.id == "get_kwargs" and args and isinstance(args[0], ast.Name):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        targets[target.id] = args[0].id
    return targets


def add_argument_calls(modules: list[tuple[str, ast.Module]]) -> Iterator[tuple[dict[str, str], ast.Call]]:
    """Every `add_argument` call in `modules`, with its module's `get_kwargs` variables (variable -> class)."""
    for _, module in modules:
        kwargs_class = get_kwargs_targets(module)
        for node in ast.walk(module):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
                yield kwargs_class, node


def spread_fields(call: ast.Call, kwargs_class: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """The (class, field) of each `**kwargs["field"]` the call spreads, also inside `**{**kwargs["field"], ...}`."""
    for spread in (k.value for k in call.keywords if k.arg is None):
        for part in ast.walk(spread):
            if (
                isinstance(part, ast.Subscript)
                and isinstance(part.value, ast.Name)
                and isinstance(part.slice, ast.Constant)
                and part.value.id in kwargs_class
            ):
                yield kwargs_class[part.value.id], str(part.slice.value)


def argparse_flags(
    modules: list[tuple[str, ast.Module]], index: Mapping[str, ClassInfo], substitutions: Mapping[str, str]
) -> set[str]:
    """Every option string added with `add_argument` in `modules`, with the `--no-` forms of switches that use
    BooleanOptionalAction directly or through a `**kwargs["field"]` of a bool dataclass field."""
    flags: set[str] = set()
    for kwargs_class, node in add_argument_calls(modules):
        names = option_strings(node, substitutions)
        flags.update(names)
        negatable = is_boolean_optional(keyword(node, "action"))
        for class_name, field_name in spread_fields(node, kwargs_class):
            annotation = all_fields(index, class_name).get(field_name)
            negatable |= annotation is not None and is_bool_field(annotation.annotation)
        for spread in (k.value for k in node.keywords if k.arg is None):
            for part in ast.walk(spread):
                if isinstance(part, ast.Dict):
                    actions = [v for k, v in zip(part.keys, part.values, strict=True) if _is(k, "action")]
                    negatable |= any(is_boolean_optional(v) for v in actions)
        if negatable:
            flags.update("--no-" + n[2:] for n in names if n.startswith("--"))
    return flags


# ------------------------------------------------------------------------------------------------ accepted values


def value_index(modules: list[tuple[str, ast.Module]]) -> dict[str, ast.expr]:
    """Module-level `NAME = value` and `NAME: type = value` bindings by name; the first module read wins."""
    index: dict[str, ast.expr] = {}
    for _, module in modules:
        for node in module.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                index.setdefault(node.targets[0].id, node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                index.setdefault(node.target.id, node.value)
    return index


def resolve_values(node: ast.AST | None, values: Mapping[str, ast.expr], depth: int = 0) -> list[str] | None:
    """The values `node` lists, as the command line spells them: a literal list, tuple or set (unpacking names into
    it), a dict's keys, `Literal[...]`, `list`/`sorted`/`tuple`/`set`/`get_args` of one, `X.keys()`, a sum of lists,
    or a module-level name bound to one of those; None when any part cannot be read from the source."""
    if node is None or depth > 12:
        return None
    if isinstance(node, ast.Constant):
        if node.value is None:
            return []  # argparse compares the parsed value; a missing value is never written as a choice
        return [str(node.value)] if isinstance(node.value, str | int | float) else None
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        found: list[str] = []
        for element in node.elts:
            part = resolve_values(element.value if isinstance(element, ast.Starred) else element, values, depth + 1)
            if part is None:
                return None
            found += part
        return found
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            return None
        return resolve_values(ast.List(elts=[key for key in node.keys if key is not None]), values, depth + 1)
    if isinstance(node, ast.Name):
        return resolve_values(values.get(node.id), values, depth + 1)
    if isinstance(node, ast.Subscript) and _named(node.value, "Literal"):
        elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return resolve_values(ast.List(elts=list(elements)), values, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = resolve_values(node.left, values, depth + 1), resolve_values(node.right, values, depth + 1)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        if isinstance(func, ast.Name) and func.id in {"list", "sorted", "tuple", "set", "get_args"} and node.args:
            return resolve_values(node.args[0], values, depth + 1) if len(node.args) == 1 else None
        if isinstance(func, ast.Attribute) and func.attr == "keys" and not node.args:
            return resolve_values(func.value, values, depth + 1)
    return None


def _named(node: ast.AST, name: str) -> bool:
    return (isinstance(node, ast.Name) and node.id == name) or (isinstance(node, ast.Attribute) and node.attr == name)


def annotation_nodes(annotation: ast.AST) -> Iterator[ast.AST]:
    """Every node of a type annotation, string annotations parsed."""
    for child in ast.walk(annotation):
        yield child
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            try:
                yield from annotation_nodes(ast.parse(child.value, mode="eval"))
            except SyntaxError:
                continue


def literal_values(annotation: ast.AST, values: Mapping[str, ast.expr]) -> list[str] | None:
    """The values of the `Literal` a type annotation holds, inline or through a module-level alias."""
    for node in annotation_nodes(annotation):
        if isinstance(node, ast.Subscript) and _named(node.value, "Literal"):
            return resolve_values(node, values)
        if isinstance(node, ast.Name) and isinstance(values.get(node.id), ast.Subscript):
            alias = values[node.id]
            if isinstance(alias, ast.Subscript) and _named(alias.value, "Literal"):
                return resolve_values(alias, values)
    return None


def field_choices(annotation: ast.AST, values: Mapping[str, ast.expr]) -> list[str] | None:
    """What vLLM's `get_kwargs` makes `choices` of a config field: its Literal's values, plus "None" when the field
    is optional; none when the type also takes any str (the values become a metavar) or is a bool (a switch)."""
    names = names_in(annotation)
    if "str" in names or "bool" in names:
        return None
    found = literal_values(annotation, values)
    if found is None:
        return None
    optional = "Optional" in names or any(
        isinstance(node, ast.Constant) and node.value is None for node in annotation_nodes(annotation)
    )
    return [*found, "None"] if optional else found


def argparse_choices(
    modules: list[tuple[str, ast.Module]],
    index: Mapping[str, ClassInfo],
    values: Mapping[str, ast.expr],
    substitutions: Mapping[str, str],
) -> dict[str, list[str]]:
    """Per option string, the values its `add_argument` call restricts it to: its `choices=`, or those `get_kwargs`
    derives from the `**kwargs["field"]` it spreads; options whose values cannot be read are left out."""
    choices: dict[str, list[str]] = {}
    for kwargs_class, node in add_argument_calls(modules):
        given = keyword(node, "choices")
        if given is not None:
            found = resolve_values(given, values)
        else:
            fields = [all_fields(index, c).get(f) for c, f in spread_fields(node, kwargs_class)]
            derived = [field_choices(f.annotation, values) for f in fields if f is not None]
            found = derived[0] if derived else None
        if found is not None:
            choices.update({name: found for name in option_strings(node, substitutions)})
    return choices


def plain_dataclass_flags(index: Mapping[str, ClassInfo], name: str) -> set[str]:
    """Flags a `get_kwargs` loop adds for every field of a dataclass: `--field-name`, and `--no-…` for bools."""
    flags = set()
    for field_name, node in all_fields(index, name).items():
        flags.add(dashed(field_name))
        if is_bool_field(node.annotation):
            flags.add("--no-" + dashed(field_name)[2:])
    return flags


@dataclass(frozen=True)
class AnnotatedArg:
    """One `A[type, "help"]` / `A[type, Arg(...)]` field of SGLang's server arguments, as its parser adds it."""

    names: list[str]
    """The field's name (or `cli_name`) and its aliases."""
    negatable: bool
    kind: ast.expr
    """The field's type."""
    arg: ast.Call | None


def annotated_args(index: Mapping[str, ClassInfo], name: str) -> Iterator[AnnotatedArg]:
    """The fields of a class that SGLang's `A[...]` annotations put on the command line (`no_cli` ones skipped)."""
    for field_name, node in all_fields(index, name).items():
        annotation = node.annotation
        if not (isinstance(annotation, ast.Subscript) and isinstance(annotation.slice, ast.Tuple)):
            continue
        kind, *metadata = annotation.slice.elts
        described = [m for m in metadata if isinstance(m, ast.Constant) and isinstance(m.value, str)]
        args = [m for m in metadata if isinstance(m, ast.Call) and getattr(m.func, "id", None) == "Arg"]
        if not described and not args:
            continue
        names = [dashed(field_name)]
        arg = args[0] if args else None
        if arg is not None:
            no_cli = keyword(arg, "no_cli")
            if isinstance(no_cli, ast.Constant) and no_cli.value is True:
                continue
            cli_name = keyword(arg, "cli_name")
            if isinstance(cli_name, ast.Constant):
                names = [str(cli_name.value)]
            aliases = keyword(arg, "aliases")
            if isinstance(aliases, ast.List | ast.Tuple):
                names += [str(e.value) for e in aliases.elts if isinstance(e, ast.Constant)]
        negatable = arg is not None and is_boolean_optional(keyword(arg, "action"))
        yield AnnotatedArg(names, negatable, kind, arg)


def annotated_arg_flags(index: Mapping[str, ClassInfo], name: str) -> set[str]:
    """Flags of SGLang's `A[type, "help"]` / `A[type, Arg(...)]` fields: the field's name (or `cli_name`) and
    its aliases; `no_cli` fields skipped; a BooleanOptionalAction adds the `--no-` forms."""
    flags: set[str] = set()
    for arg in annotated_args(index, name):
        flags.update(arg.names)
        if arg.negatable:
            flags.update("--no-" + n[2:] for n in arg.names if n.startswith("--"))
    return flags


def annotated_arg_choices(
    index: Mapping[str, ClassInfo], name: str, values: Mapping[str, ast.expr]
) -> dict[str, list[str]]:
    """Per flag of SGLang's annotated fields, the values it takes: its `Arg(choices=...)`, else its type's Literal
    values (SGLang's `arg_utils` derives `choices` so); fields whose values cannot be read are left out."""
    choices: dict[str, list[str]] = {}
    for arg in annotated_args(index, name):
        given = keyword(arg.arg, "choices") if arg.arg is not None else None
        found = resolve_values(given, values) if given is not None else literal_values(arg.kind, values)
        if found is not None:
            choices.update({flag: found for flag in arg.names})
    return choices


def listed_classes(modules: list[tuple[str, ast.Module]], variables: tuple[str, ...]) -> list[str]:
    """The class names in module-level `VARIABLE = [ClassA, ClassB, ...]` assignments."""
    names = []
    for _, module in modules:
        for node in module.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.List | ast.Tuple):
                if any(isinstance(t, ast.Name) and t.id in variables for t in node.targets):
                    names += [e.id for e in node.value.elts if isinstance(e, ast.Name)]
    return names


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
