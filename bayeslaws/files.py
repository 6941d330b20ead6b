"""Writing files whole: a temporary file beside the target, then a rename over it.

An interrupted or failed write never leaves a partial file nor destroys an earlier result. Every
file bayeslaws writes (fits, tables, figures, reports) goes through :func:`atomic_write`.
"""

from __future__ import annotations

import os
import tempfile

from .errors import FitFileError

#: Temporary files of writes in progress (removed by :func:`remove_pending` on a hard interrupt).
_PENDING: set[str] = set()


def remove_pending() -> None:
    """Delete the temporary files of unfinished writes (used when the process is ended at once)."""
    for tmp in list(_PENDING):
        try:
            os.remove(tmp)
        except OSError:
            pass
        _PENDING.discard(tmp)


def _default_mode(path: str) -> int:
    """Permissions for a new file at ``path``: an existing file's, else 0666 less the umask."""
    if os.path.exists(path):
        return os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path, write) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    A failure or Ctrl-C leaves no partial file and keeps whatever ``path`` held before.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FitFileError(f"cannot write {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(suffix=".tmp", prefix=".bayeslaws-", dir=folder)
    os.close(fd)
    _PENDING.add(tmp)
    try:
        write(tmp)
        # mkstemp makes the file private (0600); give it the mode a plain open() would have
        os.chmod(tmp, _default_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    finally:
        _PENDING.discard(tmp)
