"""The AMD Instinct plugin (MI300X, MI325X, MI355X) passes the public hardware-plugin contract."""

from servecast.testing import HardwarePluginContract


class TestHardwareContract(HardwarePluginContract):
    plugin_name = "hardware_amd"
    distribution = "servecast-hardware-amd"
    hardware_names = ("mi300x", "mi325x", "mi355x")
