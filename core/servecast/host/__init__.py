"""The plugin host: discovers plugins through entry points, isolates failures, and is the core's only door to them."""

from servecast.host.discovery import PluginSource, builtin_plugins, discover_plugins
from servecast.host.host import PluginHost, Veto
from servecast.host.records import PluginRecord, PluginStatus
from servecast.host.registry import Registry
from servecast.host.settings import PluginSettings

__all__ = [
    "PluginHost",
    "PluginRecord",
    "PluginSettings",
    "PluginSource",
    "PluginStatus",
    "Registry",
    "Veto",
    "builtin_plugins",
    "discover_plugins",
]
