"""Signals for the ``genrep`` command line: SIGINT and SIGTERM unwind the program the Ctrl-C way.

``main`` (``genrep.cli``) installs the handlers for the length of one command and turns the exceptions
into exit codes 130 and 143. Separate from the parser and the help texts because it is process state
(signal handlers), not argument parsing, and because ``Terminated`` is what every long-running part
catches as a KeyboardInterrupt (re-exported as ``genrep.cli.Terminated``).
"""

from __future__ import annotations

import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it unwinds exactly like Ctrl-C."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(f"signal {signum}")
        self.signum = signum


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt_on_signals() -> dict | None:
    """SIGINT raises KeyboardInterrupt and SIGTERM raises Terminated, once: a second signal while
    the first one unwinds (stopping simulators, suite, Locust) is ignored, so that is not cut short.
    Returns the handlers it replaced (None outside the main thread, where it cannot install any)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _on_signal(signum, frame):
        for sig in _SIGNALS:
            signal.signal(sig, lambda *_: None)
        raise Terminated(signum) if signum == signal.SIGTERM else KeyboardInterrupt()

    return {sig: signal.signal(sig, _on_signal) for sig in _SIGNALS}
