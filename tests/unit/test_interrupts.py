"""SIGTERM and Ctrl-C unwind the program (genrep.cli.interrupts), also when the signal arrives
where Python swallows exceptions: in a garbage collector callback (make test lost a SIGTERM in
Hypothesis's, and genrep explore ran on) or in a ``__del__``."""

from __future__ import annotations

import gc
import os
import signal

import pytest

from genrep.cli.interrupts import Terminated, _interrupt_on_signals


@pytest.fixture
def handlers():
    previous = _interrupt_on_signals()
    assert previous is not None, "the tests run in the main thread"
    yield
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _busy(seconds: float = 0.3) -> None:
    """Bytecode for the interpreter to check for signals in, for a bounded time (the re-sent signal
    comes from a thread a few milliseconds later)."""
    import time
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_sigterm_raises_terminated_where_the_program_is(handlers):
    with pytest.raises(Terminated):
        os.kill(os.getpid(), signal.SIGTERM)
        _busy()


def test_sigterm_in_a_gc_callback_is_not_swallowed(handlers):
    seen = []

    def callback(phase, info):
        if phase == "start" and not seen:
            seen.append(phase)
            os.kill(os.getpid(), signal.SIGTERM)
            _busy(0.05)  # the handler runs here, inside the callback

    gc.callbacks.append(callback)
    try:
        with pytest.raises(Terminated):
            gc.collect()
            _busy(5.0)
    finally:
        gc.callbacks.remove(callback)
    assert seen


def test_ctrl_c_in_a_finaliser_is_not_swallowed(handlers):
    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            _busy(0.05)

    with pytest.raises(KeyboardInterrupt):
        Finalised()
        _busy(5.0)


def test_a_second_signal_while_unwinding_is_ignored(handlers):
    with pytest.raises(Terminated):
        os.kill(os.getpid(), signal.SIGTERM)
        _busy()
    os.kill(os.getpid(), signal.SIGTERM)  # the first one is unwinding: not cut short
    _busy()


def test_sigterm_in_a_weakref_finalizer_run_by_gc_is_not_swallowed(handlers):
    """make test: the signal arrived in a ``weakref.finalize`` callback that a gc pass ran."""
    import weakref

    class Thing:
        pass

    def finalizer():
        os.kill(os.getpid(), signal.SIGTERM)
        _busy(0.05)

    thing = Thing()
    thing.cycle = thing  # only a gc pass frees it
    weakref.finalize(thing, finalizer)
    del thing
    with pytest.raises(Terminated):
        gc.collect()
        _busy(5.0)


def test_a_swallowed_signal_exception_is_delivered_again(handlers):
    """A plain weakref callback cannot be told from its frame: the exception is swallowed, reaches
    sys.unraisablehook, and the signal is sent again."""
    import weakref

    class Thing:
        pass

    def callback(_ref):
        os.kill(os.getpid(), signal.SIGTERM)
        _busy(0.05)

    thing = Thing()
    ref = weakref.ref(thing, callback)
    with pytest.raises(Terminated):
        del thing
        _busy(5.0)
    assert ref() is None
