"""The Hopper SXM plugin (H100, H200) passes the public hardware-plugin contract."""

from servecast.testing import HardwarePluginContract


class TestHardwareContract(HardwarePluginContract):
    plugin_name = "hardware_h100"
    distribution = "servecast-hardware-h100"
    hardware_names = ("h100_sxm", "h200_sxm")
