"""The trtllm plugin passes the public framework-plugin contract."""

from servecast.testing import FrameworkPluginContract


class TestFrameworkContract(FrameworkPluginContract):
    plugin_name = "trtllm"
    distribution = "servecast-trtllm"
    framework_names = ("trtllm",)
