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
import sys
import threading
import weakref


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
        exc = Terminated(signum) if signum == signal.SIGTERM else KeyboardInterrupt()
        exc.genrep_signum = signum  # if Python swallows it after all, _on_unraisable delivers it again
        _ARMED["handler"] = _on_signal
        raise exc

    _install_unraisable_net()
    return {sig: signal.signal(sig, _on_signal) for sig in _SIGNALS}


#: the handler to put back when the exception it raised was swallowed (``_on_unraisable``)
_ARMED: dict = {}
_PREVIOUS_UNRAISABLE = None


def _install_unraisable_net() -> None:
    """The safety net behind ``deferred_where_swallowed``: an exception Python swallows (in a
    ``__del__``, a gc or weakref callback: make test lost one in a ``weakref.finalize`` run by a gc
    pass) reaches ``sys.unraisablehook``; when it is a signal's, the handler is put back and the same
    signal sent again in a moment. Every other unraisable exception goes to the hook that was there."""
    global _PREVIOUS_UNRAISABLE
    if sys.unraisablehook is not _on_unraisable:
        _PREVIOUS_UNRAISABLE = sys.unraisablehook
        sys.unraisablehook = _on_unraisable


def _on_unraisable(unraisable) -> None:
    signum = getattr(unraisable.exc_value, "genrep_signum", None)
    handler = _ARMED.get("handler")
    if signum is not None and handler is not None and threading.current_thread() is threading.main_thread():
        for sig in _SIGNALS:
            signal.signal(sig, handler)
        _send_again(signum)
        return
    (_PREVIOUS_UNRAISABLE or sys.__unraisablehook__)(unraisable)


def _send_again(signum: int) -> None:
    again = threading.Timer(_RETRY_S, os.kill, (os.getpid(), signum))
    again.daemon = True
    again.start()


def deferred_where_swallowed(signum: int, frame) -> bool:
    """For a signal handler that raises: True (and the same signal sent again in a moment, from a
    thread) when an exception raised at ``frame`` would be swallowed. Raised there, it would be
    printed as "Exception ignored" and the run would go on (make test saw a SIGTERM lost in
    Hypothesis's gc callback); raised by the handler again at once, it would still be there."""
    if not _would_be_swallowed(frame):
        return False
    _send_again(signum)
    return True


def _would_be_swallowed(frame) -> bool:
    """True when an exception raised at ``frame`` never reaches the program: inside a garbage
    collector callback, a ``__del__`` or a ``weakref.finalize`` callback (Python prints "Exception
    ignored in ..." and goes on). Other weakref callbacks cannot be told from their frames: the
    unraisable hook catches those (``_on_unraisable``)."""
    callbacks = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    while frame is not None:
        code = frame.f_code
        if code in callbacks or code.co_name == "__del__" or code is _FINALIZE_CALL:
            return True
        frame = frame.f_back
    return False


_FINALIZE_CALL = weakref.finalize.__call__.__code__
