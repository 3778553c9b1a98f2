"""The disk cache: values built once and read back, rebuilt when unreadable or when what they follow from changes,
and never in the way (turned off, or a directory it cannot write)."""

from __future__ import annotations

import sys
import types

import pytest

import servecast.disk_cache as disk_cache
import servecast.toml_file as toml_file
from servecast import __version__
from servecast.disk_cache import CACHE_DIR_VARIABLE, DiskCache, cache_directory, code_fingerprint


class Builds:
    """A value builder that counts its calls."""

    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def test_a_value_is_built_once_and_read_back_by_later_runs(tmp_path):
    build = Builds({"answer": [1, 2, 3]})
    assert DiskCache(tmp_path).fetch("things", ("a", 1), build) == {"answer": [1, 2, 3]}
    assert DiskCache(tmp_path).fetch("things", ("a", 1), build) == {"answer": [1, 2, 3]}
    assert build.calls == 1
    assert DiskCache(tmp_path).fetch("things", ("a", 2), build) == {"answer": [1, 2, 3]}
    assert build.calls == 2
    assert len(list((tmp_path / __version__ / "things").glob("*.pickle"))) == 2


def test_an_unreadable_entry_is_rebuilt_and_replaced(tmp_path):
    DiskCache(tmp_path).fetch("things", "key", Builds(1))
    (entry,) = (tmp_path / __version__ / "things").glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    build = Builds(2)
    assert DiskCache(tmp_path).fetch("things", "key", build) == 2
    assert DiskCache(tmp_path).fetch("things", "key", Builds(3)) == 2
    assert build.calls == 1


def test_a_directory_that_cannot_be_written_only_costs_the_rebuild(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache directory would be")
    build = Builds(5)
    assert DiskCache(blocked).fetch("things", "key", build) == 5
    assert DiskCache(blocked).fetch("things", "key", build) == 5
    assert build.calls == 2


@pytest.mark.parametrize("setting", ["off", "", "0"])
def test_the_environment_turns_the_cache_off(monkeypatch, setting):
    monkeypatch.setenv(CACHE_DIR_VARIABLE, setting)
    assert cache_directory() is None
    build = Builds(7)
    DiskCache.default().fetch("things", "key", build)
    DiskCache.default().fetch("things", "key", build)
    assert build.calls == 2


def test_the_cache_lives_under_the_xdg_cache_home_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_DIR_VARIABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_directory() == tmp_path / "servecast"


def test_editing_a_loaded_plugin_package_changes_the_code_fingerprint(monkeypatch, tmp_path):
    package = tmp_path / "servecast_fingerprint_probe"
    package.mkdir()
    (package / "__init__.py").write_text("VALUE = 1\n")
    (package / "data.toml").write_text("x = 1\n")
    module = types.ModuleType("servecast_fingerprint_probe")
    module.__file__ = str(package / "__init__.py")
    monkeypatch.setitem(sys.modules, "servecast_fingerprint_probe", module)
    before = code_fingerprint()
    (package / "data.toml").write_text("x = 22\n")
    disk_cache._fingerprint.cache_clear()  # a new process: one process takes its files as they were first seen
    assert code_fingerprint() != before


def test_a_changed_toml_file_is_parsed_again(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text("schema_version = 1\nvalue = 1\n")
    assert toml_file.read_toml(path) == {"value": 1}
    path.write_text("schema_version = 1\nvalue = 22\n")
    assert toml_file.read_toml(path) == {"value": 22}


def test_a_namespace_keeps_only_its_most_recently_used_entries(monkeypatch, tmp_path):
    monkeypatch.setattr(disk_cache, "KEPT", 3)
    for key in range(5):
        DiskCache(tmp_path).fetch("things", key, Builds(key))  # a run each: each prunes before it writes
    entries = sorted((tmp_path / __version__ / "things").glob("*.pickle"))
    assert len(entries) == 4  # the kept three and the newest
    build = Builds(0)
    DiskCache(tmp_path).fetch("things", 4, build)
    assert build.calls == 0


def test_a_cache_that_cannot_be_marked_used_still_serves(monkeypatch, tmp_path):
    DiskCache(tmp_path).fetch("things", "key", Builds(1))

    def read_only(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(disk_cache.os, "utime", read_only)
    build = Builds(2)
    assert DiskCache(tmp_path).fetch("things", "key", build) == 1
    assert build.calls == 0


def test_another_checkout_of_the_same_code_shares_the_fingerprint(monkeypatch, tmp_path):
    fingerprints = []
    for checkout in ("one", "two"):
        package = tmp_path / checkout / "servecast_fingerprint_probe"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("VALUE = 1\n")
        module = types.ModuleType("servecast_fingerprint_probe")
        module.__file__ = str(package / "__init__.py")
        monkeypatch.setitem(sys.modules, "servecast_fingerprint_probe", module)
        fingerprints.append(code_fingerprint())
    assert fingerprints[0] == fingerprints[1]


def test_without_a_home_directory_the_cache_is_off(monkeypatch):
    monkeypatch.delenv(CACHE_DIR_VARIABLE)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def homeless() -> None:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(disk_cache.Path, "home", staticmethod(homeless))
    assert cache_directory() is None
