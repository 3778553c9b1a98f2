"""The Blackwell plugin (B200) passes the public hardware-plugin contract."""

from servecast.testing import HardwarePluginContract


class TestHardwareContract(HardwarePluginContract):
    plugin_name = "hardware_blackwell"
    distribution = "servecast-hardware-blackwell"
    hardware_names = ("b200_sxm",)
