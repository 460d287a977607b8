"""How lbwizard and lbctl end: their output flushed, then straight out, past interpreter finalization.

Everything a change writes is fsynced and closed by its own step, and the kernel drops the change lock
and every handle when the process goes. Finalization adds nothing but risk: CI saw a change, its undo
done and its last line printed, sit a minute and more in libc with no Python frame left (issue 13),
where python-iptables' and ctypes' objects are torn down.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn


def end_process(code: int) -> NoReturn:
    """Flush standard output and error, then exit with code at once (os._exit: no atexit, no teardown)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone (EPIPE), a stream closed: nothing to say
            if stream is not None:  # None: started with that descriptor closed (`>&-`)
                stream.flush()
    os._exit(code)
