"""Every Blackwell figure cites a vendor's specification, a published measurement or a marked assumption; none is read
from another tool's performance database or predictions."""

from importlib import resources

import pytest

DATA = resources.files("servecast_hardware_blackwell") / "data"
SPEC_FILES = sorted(entry.name for entry in DATA.iterdir() if entry.name.endswith(".toml"))
FORBIDDEN = ("aiconfigurator", "ai-dynamo")


def test_every_system_has_a_spec_and_a_calibration():
    for name in ("b200_sxm", "b300_sxm", "gb200_nvl72", "gb300_nvl72"):
        assert f"{name}.toml" in SPEC_FILES
        assert f"{name}_calibration.toml" in SPEC_FILES


@pytest.mark.parametrize("file_name", SPEC_FILES)
def test_no_figure_is_read_from_another_tools_database(file_name):
    text = (DATA / file_name).read_text(encoding="utf-8").lower()
    assert not [word for word in FORBIDDEN if word in text]
