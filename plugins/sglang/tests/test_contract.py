"""The sglang plugin passes the public framework-plugin contract."""

from servecast.testing import FrameworkPluginContract


class TestFrameworkContract(FrameworkPluginContract):
    plugin_name = "sglang"
    distribution = "servecast-sglang"
    framework_names = ("sglang",)
