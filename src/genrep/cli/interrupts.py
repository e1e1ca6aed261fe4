"""Signals for the ``genrep`` command line: SIGINT and SIGTERM unwind the program the Ctrl-C way.

``main`` (``genrep.cli``) installs the handlers for the length of one command and turns the exceptions
into exit codes 130 and 143. Separate from the parser and the help texts because it is process state
(signal handlers), not argument parsing, and because ``Terminated`` is what every long-running part
catches as a KeyboardInterrupt (re-exported as ``genrep.cli.Terminated``).
"""

from __future__ import annotations

import gc
import os
import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it unwinds exactly like Ctrl-C."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(f"signal {signum}")
        self.signum = signum


_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: how soon a signal that arrived where its exception would be swallowed is delivered again
_RETRY_S = 0.02


def _interrupt_on_signals() -> dict | None:
    """SIGINT raises KeyboardInterrupt and SIGTERM raises Terminated, once: a second signal while
    the first one unwinds (stopping simulators, suite, Locust) is ignored, so that is not cut short.
    Returns the handlers it replaced (None outside the main thread, where it cannot install any)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _on_signal(signum, frame):
        if deferred_where_swallowed(signum, frame):
            return
        for sig in _SIGNALS:
            signal.signal(sig, lambda *_: None)
        raise Terminated(signum) if signum == signal.SIGTERM else KeyboardInterrupt()

    return {sig: signal.signal(sig, _on_signal) for sig in _SIGNALS}


def deferred_where_swallowed(signum: int, frame) -> bool:
    """For a signal handler that raises: True (and the same signal sent again in a moment, from a
    thread) when an exception raised at ``frame`` would be swallowed. Raised there, it would be
    printed as "Exception ignored" and the run would go on (make test saw a SIGTERM lost in
    Hypothesis's gc callback); raised by the handler again at once, it would still be there."""
    if not _would_be_swallowed(frame):
        return False
    again = threading.Timer(_RETRY_S, os.kill, (os.getpid(), signum))
    again.daemon = True
    again.start()
    return True


def _would_be_swallowed(frame) -> bool:
    """True when an exception raised at ``frame`` never reaches the program: inside a garbage
    collector callback or a ``__del__`` (Python prints "Exception ignored in ..." and goes on)."""
    callbacks = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    while frame is not None:
        if frame.f_code in callbacks or frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False
