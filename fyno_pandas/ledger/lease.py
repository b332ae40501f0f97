"""`Lease`: a push that adds or appends holds an OS lock while it runs, so that an identical
push started meanwhile neither resumes it nor sends its adds a second time
(`fyno_pandas.pipeline.resume`).

The lock is ``fcntl.flock`` on ``<ledger file>.push-<push id>.lock``, next to the ledger:
exclusive for the push that holds it, shared (and never waited for) for a push asking whether
it is still running. The operating system drops it when the holding process ends, however it
ends (a SIGKILL, a killed kernel), so nothing goes stale: no heartbeat to time out, no pid that
another process may reuse, no clock to trust. Two open files of one process conflict as two
processes do, so a push in another thread is seen too. Where ``fcntl`` is missing (Windows),
or the lock file cannot be made, there is no lease and every unfinished push counts as ended.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows)
    fcntl = None  # type: ignore[assignment]

__all__ = ["Lease", "running"]

log = logging.getLogger("fyno_pandas")


def _path(ledger: Path, push_id: int) -> Path:
    return ledger.with_name(f"{ledger.name}.push-{push_id}.lock")


class Lease:
    """Held by push ``push_id`` of the ledger file ``ledger`` until `release`."""

    def __init__(self, ledger: Path, push_id: int) -> None:
        self._path = _path(ledger, push_id)
        self._fd: int | None = None
        if fcntl is None:
            return
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            log.debug("push %d holds no lease (%s)", push_id, exc)
            return
        fcntl.flock(fd, fcntl.LOCK_EX)  # a new file: no one else holds it
        self._fd = fd

    def release(self) -> None:
        """Let go: the file goes first, so no later reader finds it held."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self._path.unlink()
            os.close(self._fd)
            self._fd = None


def running(ledger: Path, push_id: int) -> bool:
    """True while push ``push_id`` of the ledger file ``ledger`` holds its `Lease`."""
    if fcntl is None:
        return False
    try:
        fd = os.open(_path(ledger, push_id), os.O_RDONLY)
    except OSError:  # no lock file: ended (or never held one)
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
