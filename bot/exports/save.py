"""Write a file atomically: a temporary file beside it, then a rename (never half a file)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def _mode(path: Path) -> int:
    """The file's mode: the replaced file's, else a new file's (0666 less the umask), not the
    temporary file's 0600, which would hide an export from the office's other readers."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mask = os.umask(0)  # read by setting it: the only way; put back at once
        os.umask(mask)
        return 0o666 & ~mask


def write_atomically(path: Path, data: bytes) -> None:
    mode = _mode(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
