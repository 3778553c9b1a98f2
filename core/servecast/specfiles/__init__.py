"""Load hardware and framework specifications from TOML data files, with errors that name file and field."""

from servecast.specfiles.framework_file import load_framework_spec
from servecast.specfiles.hardware_file import load_hardware_spec

__all__ = ["load_framework_spec", "load_hardware_spec"]
