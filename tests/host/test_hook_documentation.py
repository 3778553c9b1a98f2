"""Every hook spec is typed, documented in its docstring and in docs/plugin-hooks.md, and has a behaviour test."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from servecast import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("servecast_"))


def signature_of(name: str) -> str:
    annotations = dict(getattr(hookspecs, name).__annotations__)
    returns = annotations.pop("return")
    parameters = ", ".join(f"{parameter}: {annotation}" for parameter, annotation in annotations.items())
    return f"{name}({parameters}) -> {returns}"


def test_there_are_the_eight_hooks_of_the_architecture():
    assert len(HOOKS) == 8


@pytest.mark.parametrize("name", HOOKS)
def test_every_parameter_and_return_is_annotated(name):
    function = getattr(hookspecs, name)
    parameters = inspect.signature(function).parameters
    assert set(function.__annotations__) == {*parameters, "return"}


@pytest.mark.parametrize("name", HOOKS)
def test_docstring_has_summary_parameters_returns_kind_and_example(name):
    function = getattr(hookspecs, name)
    doc = inspect.getdoc(function)
    summary, _, body = doc.partition("\n\n")
    assert summary and "\n" not in summary, "one-line summary first"
    assert "Returns:" in body and "Example::" in body
    assert ("Parameters:" in body) == bool(inspect.signature(function).parameters)
    is_firstresult = function.servecast_spec["firstresult"]
    assert ("Firstresult: stops at the first non-None result" in body) == is_firstresult
    assert ("Collecting:" in body) == (not is_firstresult)


@pytest.mark.parametrize("name", HOOKS)
def test_the_hook_reference_documents_the_exact_signature(name):
    reference = (ROOT / "docs" / "plugin-hooks.md").read_text()
    assert f"### `{signature_of(name)}`" in reference


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_behaviour_test(name):
    tree = ast.parse((ROOT / "tests" / "host" / "test_hooks.py").read_text())
    tests = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert f"test_hook_{name}" in tests
