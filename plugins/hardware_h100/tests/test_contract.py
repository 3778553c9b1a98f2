"""The Hopper plugin (H100 SXM, PCIe and NVL, H200, H20) passes the public hardware-plugin contract."""

from servecast.testing import HardwarePluginContract


class TestHardwareContract(HardwarePluginContract):
    plugin_name = "hardware_h100"
    distribution = "servecast-hardware-h100"
    hardware_names = ("h100_sxm", "h200_sxm", "h100_pcie", "h100_nvl", "h20")
