"""Processes that die with their parent, however the parent dies (kill -9 included).

On Linux the kernel sends a process its "parent-death signal" (`prctl(PR_SET_PDEATHSIG)`) when
the thread that started it ends; `make run` starts every child from its main thread, whose end
is the supervisor's. The setting survives `exec` but not `fork`, so each level sets its own:
the supervisor for its children (`lifeline`), the worker for its housekeeping
process (`die_with_parent`); Celery sets it for its pool processes itself. Elsewhere these do
nothing, and `make run` finds what an earlier run left behind when it starts
(`tuning.supervisor.preflight`).
"""

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def _find_prctl() -> Callable[..., int] | None:
    """libc's `prctl`, loaded once (never between fork and exec), or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _find_prctl()


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> bool:
    """Have the kernel send `sig` to this process when its parent ends; False if it cannot."""
    if _prctl is None:
        return False
    return _prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def lifeline() -> Callable[[], None]:
    """A `preexec_fn` for `subprocess.Popen`: the child dies with this process, and exits at
    once if this process already died between the fork and the `prctl`."""
    parent = os.getpid()

    def in_child() -> None:
        die_with_parent()
        if os.getppid() != parent:
            os._exit(1)

    return in_child
