"""The Ada Lovelace plugin (L40S, L4) passes the public hardware-plugin contract."""

from servecast.testing import HardwarePluginContract


class TestHardwareContract(HardwarePluginContract):
    plugin_name = "hardware_ada"
    distribution = "servecast-hardware-ada"
    hardware_names = ("l40s", "l4")
