"""The vllm plugin passes the public framework-plugin contract."""

from servecast.testing import FrameworkPluginContract


class TestFrameworkContract(FrameworkPluginContract):
    plugin_name = "vllm"
    distribution = "servecast-vllm"
    framework_names = ("vllm",)
