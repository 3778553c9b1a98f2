"""The Blackwell plugin (B200, B300, GB200 NVL72, GB300 NVL72) passes the public hardware-plugin contract."""

from servecast.testing import HardwarePluginContract


class TestHardwareContract(HardwarePluginContract):
    plugin_name = "hardware_blackwell"
    distribution = "servecast-hardware-blackwell"
    hardware_names = ("b200_sxm", "b300_sxm", "gb200_nvl72", "gb300_nvl72")
