"""Kaimen's files on the local disk, readable only by the user the processes run as.

The data folder holds the SQLite database (with its ``-wal`` and ``-shm`` files), the
generated keys, the demo sign-in and staff photos: folders are 0700 and files 0600,
whatever the process's umask. SQLite creates its ``-wal`` and ``-shm`` files with the
database file's permissions, so a database file made 0600 keeps them private too.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["private_file", "private_folder", "write_private"]

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """``path`` as a folder only its owner can open: created 0700 (parents too), or narrowed to it."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(FOLDER_MODE)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only its owner can read: created empty 0600 if missing, or narrowed to it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    if path.stat().st_mode & 0o077:
        path.chmod(FILE_MODE)
    return path


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to a 0600 file (FileExistsError if ``exclusive`` and it exists), in a 0700 folder."""
    private_folder(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    if os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
