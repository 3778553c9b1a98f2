"""Fixtures for the model layer: the core's built-in model families only."""

from __future__ import annotations

import pytest

from servecast.host import PluginHost, builtin_plugins
from servecast.models.model import Model, load_model


@pytest.fixture(scope="session")
def architectures():
    return PluginHost(builtin_plugins()).architectures


@pytest.fixture(scope="session")
def load(architectures):
    def _load(model_id: str, **overrides) -> Model:
        return load_model(model_id, architectures, **overrides)

    return _load
