"""Named points where the crash tests stop a writer: ``SIMSEARCH_FAILPOINT=NAME`` kills the process there.

Killing at known points (not after a sleep) is what makes a crash test repeatable: each
point sits between two durable steps of a write (delta appended, store committed, new
base saved), so every interleaving the design argues about is tried. ``NAME:enospc``
raises "No space left on device" there instead, as a full disk would. Unset, a point
costs one dictionary lookup.
"""

from __future__ import annotations

import errno
import os
import signal

FAILPOINT = "SIMSEARCH_FAILPOINT"


def failpoint(name: str) -> None:
    """SIGKILL this process when ``$SIMSEARCH_FAILPOINT`` is ``name``; raise ENOSPC when it is ``name:enospc``."""
    chosen = os.environ.get(FAILPOINT)
    if not chosen:
        return
    if chosen == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if chosen == f"{name}:enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
