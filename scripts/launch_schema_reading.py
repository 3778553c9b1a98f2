"""Reading a framework package's Python source without running it: argparse flags and the `--no-` forms of boolean
switches, flags and config keys generated from dataclass fields, and the values a flag accepts; click options
(TensorRT-LLM's `trtllm-serve`), the keys a pydantic model or a `function(**config)` call takes. Used by
`extract_launch_schemas.py`, which downloads the packages and names what each version must yield.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass


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


# ------------------------------------------------------------------------------------------------ click, pydantic


def decorated_function(modules: list[tuple[str, ast.Module]], name: str) -> ast.FunctionDef | None:
    """The top-level function `name` (the first module read that defines it)."""
    for _, module in modules:
        for node in module.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node
    return None


def click_options(modules: list[tuple[str, ast.Module]], function: str) -> Iterator[ast.Call]:
    """The `@click.option(...)` (or `@option(...)`) decorators of a click command's function."""
    node = decorated_function(modules, function)
    for decorator in node.decorator_list if node is not None else []:
        if isinstance(decorator, ast.Call) and _named(decorator.func, "option"):
            yield decorator


def click_option_strings(call: ast.Call) -> list[str]:
    """A click option's declared option strings: `"--flag"`, `"-f"`, and both sides of `"--on/--off"` switches;
    the bare parameter name a declaration may add (`"name"`) is not an option."""
    strings = []
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            strings += [part.strip() for part in arg.value.split("/") if part.strip().startswith("-")]
    return strings


def click_flags(modules: list[tuple[str, ast.Module]], function: str) -> set[str]:
    """Every option string of the click command `function` (and click's own `--help`); empty if no such command."""
    flags = {flag for call in click_options(modules, function) for flag in click_option_strings(call)}
    return flags | {"--help"} if flags else flags


def click_choices(
    modules: list[tuple[str, ast.Module]], function: str, values: Mapping[str, ast.expr]
) -> dict[str, list[str]]:
    """Per option string of a click command, the values its `type=click.Choice([...])` (or a Choice subclass such
    as TensorRT-LLM's `ChoiceWithAlias(choices, aliases)`, whose alias names it also takes) accepts; options whose
    values cannot be read from the source (`severity_map.keys()` of an imported name) are left out."""
    choices: dict[str, list[str]] = {}
    for call in click_options(modules, function):
        kind = keyword(call, "type")
        if not (isinstance(kind, ast.Call) and isinstance(kind.func, ast.Name | ast.Attribute)):
            continue
        type_name = kind.func.id if isinstance(kind.func, ast.Name) else kind.func.attr
        if not (type_name.endswith("Choice") or type_name == "ChoiceWithAlias"):
            continue
        given = kind.args[0] if kind.args else keyword(kind, "choices")
        found = resolve_values(given, values)
        aliases = kind.args[1] if len(kind.args) > 1 else keyword(kind, "aliases")
        if found is not None and aliases is not None:
            alias_names = resolve_values(aliases, values)
            found = None if alias_names is None else found + alias_names
        if found is not None:
            choices.update({flag: found for flag in click_option_strings(call)})
    return choices


def _field_call(node: ast.AnnAssign) -> ast.Call | None:
    value = node.value
    if isinstance(value, ast.Call) and (_named(value.func, "Field") or _named(value.func, "field")):
        return value
    return None


def model_fields(index: Mapping[str, ClassInfo], name: str) -> set[str]:
    """The keys a pydantic model (or dataclass) built from a dict accepts: its and its bases' annotated fields,
    without private (`_name`, PrivateAttr) ones, `ClassVar`s and `field(init=False)` ones, plus the names a field's
    `alias=` / `validation_alias=` (also `AliasChoices(...)`) gives it."""
    keys: set[str] = set()
    for field_name, node in all_fields(index, name).items():
        if field_name.startswith("_") or "ClassVar" in names_in(node.annotation):
            continue
        call = _field_call(node)
        init = keyword(call, "init") if call is not None else None
        if isinstance(init, ast.Constant) and init.value is False:
            continue
        keys.add(field_name)
        for alias in (keyword(call, "alias"), keyword(call, "validation_alias")) if call is not None else ():
            if isinstance(alias, ast.Constant) and isinstance(alias.value, str):
                keys.add(alias.value)
            elif isinstance(alias, ast.Call) and _named(alias.func, "AliasChoices"):
                keys.update(a.value for a in alias.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return keys


def function_keywords(modules: list[tuple[str, ast.Module]], name: str) -> tuple[set[str], bool]:
    """A top-level function's named parameters (the keys a `function(**config)` call takes) and whether it also
    takes `**kwargs`."""
    node = decorated_function(modules, name)
    if node is None:
        return set(), False
    arguments = node.args
    named = {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}
    return named, arguments.kwarg is not None


def dict_keys_read(modules: list[tuple[str, ast.Module]], function: str, parameter: str) -> set[str]:
    """String keys the function reads from its dict parameter: `parameter["key"]`, `.get("key")`, `.pop("key")`."""
    node = decorated_function(modules, function)
    keys: set[str] = set()
    for child in ast.walk(node) if node is not None else ():
        if isinstance(child, ast.Subscript) and _named(child.value, parameter):
            if isinstance(child.slice, ast.Constant) and isinstance(child.slice.value, str):
                keys.add(child.slice.value)
        elif (
            isinstance(child, ast.Call)
            and isinstance(child.func, ast.Attribute)
            and child.func.attr in {"get", "pop"}
            and _named(child.func.value, parameter)
            and child.args
            and isinstance(child.args[0], ast.Constant)
            and isinstance(child.args[0].value, str)
        ):
            keys.add(child.args[0].value)
    return keys
