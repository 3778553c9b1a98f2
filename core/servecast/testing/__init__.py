"""The public contract suite a servecast plugin's tests subclass.

    from servecast.testing import FrameworkPluginContract

    class TestMyPlugin(FrameworkPluginContract):
        plugin_name = "myframework"            # the entry-point name
        distribution = "servecast-myframework"  # the distribution that provides it
        framework_names = ("myframework",)

pytest collects the subclass (its name starts with ``Test``) and runs every check below against the
*installed* plugin, loaded alone through its entry point, so the checks see exactly what users get.
"""

from servecast.testing.contracts import FrameworkPluginContract, HardwarePluginContract, PluginContract
from servecast.testing.deployments import single_instance

__all__ = ["FrameworkPluginContract", "HardwarePluginContract", "PluginContract", "single_instance"]
