"""Output files are written whole or not at all, with the user's permissions, by one run at a time."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from servecast.errors import InputError
from servecast.files import STAGING_PREFIX, locked_folder, staged_folder, write_text_atomically


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_an_atomic_write_gets_the_permissions_of_a_new_file(tmp_path, umask_022):
    write_text_atomically(tmp_path / "out.csv", "a,b\n")
    assert mode_of(tmp_path / "out.csv") == 0o644


def test_an_atomic_write_creates_missing_folders(tmp_path):
    write_text_atomically(tmp_path / "a" / "b" / "out.csv", "x\n")
    assert (tmp_path / "a" / "b" / "out.csv").read_text() == "x\n"


def test_a_failed_atomic_write_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_text_atomically(tmp_path / "out.csv", 42)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_a_staging_folder_is_removed_however_the_block_ends(tmp_path):
    with pytest.raises(KeyboardInterrupt), staged_folder(tmp_path) as staging:
        (staging / "half.csv").write_text("a,")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_staging_folder_gets_the_permissions_of_a_new_folder(tmp_path, umask_022):
    with staged_folder(tmp_path) as staging:
        assert mode_of(staging) == 0o755


def test_staging_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{STAGING_PREFIX}{dead.stdout.strip()}-abc"
    (stale / "configs").mkdir(parents=True)
    mine = tmp_path / f"{STAGING_PREFIX}{os.getpid()}-live"
    mine.mkdir()
    with staged_folder(tmp_path):
        pass
    assert not stale.exists()
    assert mine.exists()


def test_a_second_run_writing_into_a_held_folder_is_refused(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from servecast.files import locked_folder\n"
            f"with locked_folder(Path({str(tmp_path)!r})):\n    print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(InputError, match="another servecast run is writing into"), locked_folder(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with locked_folder(tmp_path):
        pass
