"""The benches' scratch folder: a new folder, marked +T where the file system allows, and says which."""

from __future__ import annotations

import os
import shutil
import subprocess

from bench.scratch import scratch_dir


def test_scratch_dir_is_new_and_its_note_matches_its_flags():
    path, note = scratch_dir("hisham-scratch-test-")
    try:
        assert os.path.isdir(path) and not os.listdir(path)
        flags = subprocess.run(["lsattr", "-d", path], capture_output=True, text=True)
        marked = flags.returncode == 0 and "T" in flags.stdout.split()[0]
        assert note.startswith("scratch folder marked chattr +T") == marked, (note, flags.stdout)
    finally:
        shutil.rmtree(path)
