"""servecast: predict LLM serving performance and pick the best deployment, without a GPU."""

from importlib.metadata import PackageNotFoundError, version

import pluggy

PROJECT_NAME = "servecast"
"""The pluggy project name and the entry-point group plugins register under."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Decorator marking a plugin function as the implementation of a servecast hook."""

try:
    __version__ = version(PROJECT_NAME)
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["PROJECT_NAME", "__version__", "hookimpl"]
