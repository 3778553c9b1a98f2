"""The console script and the command group: defaults set before numpy loads, commands imported when they run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from servecast.cli import entry


@pytest.mark.parametrize(("given", "kept"), [(None, "1"), ("4", "4")])
def test_the_console_script_keeps_blas_to_one_thread_unless_the_user_says(monkeypatch, given, kept):
    for variable in entry.SMALL_LINEAR_ALGEBRA:
        if given is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, given)
    monkeypatch.setattr(sys, "argv", ["servecast", "--version"])
    with pytest.raises(SystemExit) as done:
        entry.main()
    assert done.value.code == 0
    for variable in entry.SMALL_LINEAR_ALGEBRA:
        assert entry.os.environ[variable] == kept


def test_the_command_line_imports_no_command_until_one_runs():
    probe = (
        "import sys; import servecast.cli; "
        "print(sorted(name for name in sys.modules if name.startswith(('servecast.host', 'servecast.search', "
        "'servecast.serving', 'servecast.cli.search_cmd'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
