"""One process at a time in a calculation's folder.

A calculation's files live in a folder named by its fingerprint
(:func:`workflows.engines.relax.work_dir`), so that a re-run finds them. Two
processes that run the same calculation at once -- two ``arsc`` commands in
one project, a duplicated submission, two benchmark processes with
overlapping work -- would otherwise both write its trajectory and logs there
(seen on 2026-12-03: one relaxation's frames written twice, interleaved, and
its force calls counted twice). :func:`claim` takes an exclusive
``flock`` on ``<folder>/.claim``: the second process waits for the first,
then finds the first one's result (the store, or the finished trajectory a
relaxation resumes from) instead of computing beside it.

The lock belongs to the open file, so the kernel releases it when the
process ends, however it ends: a killed run leaves no stale lock. A file
system without ``flock`` support (some network file systems) is used
without the lock, with one warning.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOG = logging.getLogger(__name__)

#: Name of the lock file in a calculation's folder.
CLAIM_FILE = ".claim"


@contextmanager
def claim(folder: Path) -> Iterator[bool]:
    """Hold ``folder`` for this process; wait while another one holds it.

    Parameters
    ----------
    folder
        A calculation's folder (it must exist).

    Yields
    ------
    bool
        True when another process held the folder and this one waited for it
        (the calculation may have finished meanwhile), else False.

    Examples
    --------
    >>> import tempfile
    >>> with claim(Path(tempfile.mkdtemp())) as waited:
    ...     waited
    False
    """
    with open(Path(folder) / CLAIM_FILE, "a") as handle:
        waited = False
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                LOG.warning("%s: another process is computing this calculation; waiting", folder)
                fcntl.flock(handle, fcntl.LOCK_EX)
                waited = True
        except OSError as exc:  # no flock on this file system
            LOG.warning("%s: cannot lock (%s); two processes could compute it at once", folder, exc)
        yield waited
