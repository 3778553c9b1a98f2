"""Every Blackwell system ships a sourced spec file and its calibration."""

from importlib import resources

DATA = resources.files("servecast_hardware_blackwell") / "data"
SPEC_FILES = sorted(entry.name for entry in DATA.iterdir() if entry.name.endswith(".toml"))


def test_every_system_has_a_spec_and_a_calibration():
    for name in ("b200_sxm", "b300_sxm", "gb200_nvl72", "gb300_nvl72"):
        assert f"{name}.toml" in SPEC_FILES
        assert f"{name}_calibration.toml" in SPEC_FILES
