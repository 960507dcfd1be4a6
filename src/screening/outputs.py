"""Output files that never overwrite their input and never appear half-written.

A temporary file is made beside the output and renamed into place only when complete; an
interrupted or failed write removes it. Shared by the command line's JSON results and the file
scorer's tables; nothing here imports pandas.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["commit", "same_file", "temporary_beside", "write_atomic"]


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same spelling resolved, a link, or a hard link."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def temporary_beside(path: Path) -> tuple[int, Path]:
    """An open descriptor and the path of a new hidden file in the output's folder."""
    if path.is_dir():
        raise IsADirectoryError(f"output {path} is a folder")
    if not path.parent.is_dir():  # named, not the hidden temporary file that could not be made
        raise FileNotFoundError(f"output {path}: no folder {path.parent}")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    return fd, Path(name)


def commit(temp: Path, path: Path) -> None:
    """The complete temporary file takes the output's place, with an ordinary file's mode."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)  # not mkstemp's 0600
    os.replace(temp, path)


def write_atomic(path: Path, text: str) -> None:
    """The whole text or nothing at `path`."""
    fd, temp = temporary_beside(path)
    try:
        with open(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        commit(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
