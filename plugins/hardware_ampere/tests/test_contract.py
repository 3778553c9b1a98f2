"""The Ampere plugin (A100) passes the public hardware-plugin contract."""

from servecast.testing import HardwarePluginContract


class TestHardwareContract(HardwarePluginContract):
    plugin_name = "hardware_ampere"
    distribution = "servecast-hardware-ampere"
    hardware_names = ("a100_sxm", "a100_sxm_40gb")
