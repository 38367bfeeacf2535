"""A scratch folder for benches that create many files, away from other processes' deletes.

Why: on ext4 without a journal (this machine's) each new inode is allocated past every inode of
its block group freed less than 60-300 s before (``recently_deleted()`` in ``find_inode_bit()``),
so a file created in a group where someone just deleted a few thousand files costs up to 0.5 ms
instead of 20 us. Folders under ``/tmp`` share a few groups with every test's temporary files.
A folder marked ``chattr +T`` is a top of hierarchy for ext4's Orlov allocator: its subfolders
are spread to groups with more free inodes than average, which nobody has just emptied. Every
side of a bench writes under the same scratch folder, so they get the same conditions.
"""

from __future__ import annotations

import subprocess
import tempfile


def scratch_dir(prefix: str) -> tuple[str, str]:
    """A new temporary folder and a note for the bench's output: whether ``+T`` could be set."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        done = subprocess.run(["chattr", "+T", path], capture_output=True, text=True)
    except OSError as err:  # no chattr on this system
        return path, f"scratch folder without chattr +T ({err.strerror})"
    if done.returncode:
        return path, f"scratch folder without chattr +T ({done.stderr.strip() or done.returncode})"
    return path, "scratch folder marked chattr +T (its subfolders spread over fresh ext4 block groups)"
