"""Start simulators by forking a process that has already imported them: the fork launcher.

Why: starting the virtual environment is 8 simulator processes, and each ``python -m
genrep.sim.X`` spends 0.25-0.45 s of CPU importing aiohttp and its part of genrep before it
binds a port (docs/testing.md: 3.1 s of CPU per environment, paid by every rehearsal, every
selftest row and about 60 end-to-end tests). The launcher imports all of it once; each simulator
is then a ``fork()`` of it: still a real process of its own, on its own loopback ports, in its own
session, with the argv, environment, working directory, stdout and stderr its starter gave it.

Why our own and not ``multiprocessing``'s forkserver: a simulator is a module's ``main()`` with
a command line, whose ready line the starter reads from a pipe and whose stderr goes to a file;
forkserver runs pickled Python callables, passes file descriptors only through private API,
joins non-daemonic children at exit and imports the parent's ``__main__``. What is needed here
is small: one request (spawn), one question (has it exited, with which code).

Protocol (an ``AF_UNIX`` ``SOCK_SEQPACKET`` socket pair, one JSON message per packet, file
descriptors as ``SCM_RIGHTS``):

* ``{"op": "spawn", "module", "call", "argv", "env", "cwd"}`` with two descriptors (stdout, stderr;
  the same pipe twice for ``stderr=STDOUT``) -> ``{"pid": N}`` or ``{"error": "..."}``; the child
  runs ``module.call()`` (default ``main``) and ends as an interpreter does (exit handlers, flush);
* ``{"op": "status", "pid"}`` -> ``{"returncode": int | null, "cpu_s": float}`` (the launcher is the
  parent: it reaps its children and keeps their exit codes).

The launcher ends when its starter is gone (end of file on the socket); the simulators still
running notice their parent is gone and stop (``genrep.sim.lifecycle``), removing the throw-away
TLS folder of the harness that is gone, as they do when they were started without the launcher.
A simulator's "harness" for its throw-away TLS folder is the starter, named by
``GENREP_SIM_HARNESS_PID`` (the launcher's parent, not the simulator's).

Over 500 lines, kept one module: the starter's side and the launcher's side speak one private
protocol (the messages, the descriptor passing, the reaping) that is read best in one place.

Another preload (``python -m genrep.sim.launcher FD MODULE...``) makes the same server fork other
programs: ``genrep.suite_launcher`` preloads pytest and the feature suite's imports, and forks the
suite runs of ``genrep selftest`` and ``genrep mutate``. A process forked by a server that imported
the simulators starts its own simulator launcher as a fork of itself (``_fork_server``), not as a
new interpreter importing them again.

``spawn`` (client side) hands back a :class:`LaunchedProcess`: the part of ``subprocess.Popen``
that ``SimProcess``, the fault drivers and the tests use (pid, poll, wait, send_signal, kill,
terminate, returncode, stdout). ``GENREP_SIM_LAUNCHER=off`` starts every simulator (and suite
run) with ``subprocess.Popen`` as before (and so does any platform without ``fork`` or ``SCM_RIGHTS``).

Over 500 lines on purpose: both sides of one small protocol, and the two ways to start its server
(a new interpreter, a fork), read together; split, each half would need the other to be understood.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from genrep.sim.lifecycle import HARNESS_ENV, PARENT_ENV

#: the simulators the launcher imports before it reports ready (every module a virtual environment starts)
PRELOAD = ("genrep.sim.ehr", "genrep.sim.nll", "genrep.sim.multum", "genrep.sim.multum_lb",
           "genrep.sim.referral_receiver", "genrep.sim.erx_receiver")
#: the environment variable that turns the launcher off (``off``, ``0``, ``no``)
SWITCH_ENV = "GENREP_SIM_LAUNCHER"
READY_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 10.0
_MAX_PACKET = 1 << 20
#: set in a launcher once it has imported PRELOAD: its children that start simulators fork their launcher
_PRELOADED = False
_START_DIR = ""  # sys.path[0] of this launcher (python -m: its working directory)


class LauncherError(OSError):
    """The launcher could not start or stopped answering: the caller starts the simulator itself."""


# ----------------------------------------------------------------------------------------- server side

def _child(sock: socket.socket, module: str, call: str, argv: list[str], env: dict, cwd: str, out_fd: int,
           err_fd: int) -> None:
    """In the forked child: become ``python -m module argv`` (its ``call``: ``main``, or pytest's
    ``console_main``), then end the way that interpreter would: exit handlers, flushed streams (never returns)."""
    code = 1
    try:
        sock.close()
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        for fd in {devnull, out_fd, err_fd}:
            if fd > 2:
                os.close(fd)
        _default_signals()
        start_dir = sys.path[0] if sys.path else ""
        os.chdir(cwd)
        if sys.path and start_dir == _START_DIR:  # python -m puts its working directory first on sys.path
            sys.path[0] = cwd
        os.environ.clear()
        os.environ.update(env)
        sys.argv = [module, *argv]
        _set_title(f"{sys.executable} -m {module} {' '.join(argv)}".rstrip())
        import importlib
        code = getattr(importlib.import_module(module), call)()
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # noqa: BLE001 - the program's own crash, told on its stderr
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        code = _finish(code)
        os._exit(code)


def _finish(code) -> int:
    """What an interpreter does when its program returns: wait for its non-daemon threads, run the
    exit handlers (a suite's ``genrep.sim.process`` hook stops its simulators and waits for their
    launcher), flush stdout and stderr; the exit code as ``sys.exit`` would make it."""
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for step in (threading._shutdown, atexit._run_exitfuncs):  # noqa: SLF001 - what Py_Finalize runs
        try:
            step()
        except BaseException:  # noqa: BLE001 - as the interpreter does: reported, the exit goes on
            import traceback
            traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed pipe: nothing more to say
            pass
    return code & 0xFF


def _default_signals() -> None:
    """Every signal as a new interpreter has it: no handler of the forking process is left (a suite's
    SIGTERM handler, pytest-timeout's SIGALRM), SIGINT raises KeyboardInterrupt, no wakeup fd."""
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:  # not the main thread: cannot happen after fork() in the main thread
        pass
    for sig in signal.valid_signals():
        try:
            handler = signal.getsignal(sig)
        except (OSError, ValueError):
            continue
        if callable(handler) and handler is not signal.default_int_handler:
            signal.signal(sig, signal.SIG_DFL)
    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _set_title(title: str) -> None:
    """What ``ps`` and ``/proc/PID/cmdline`` show: the command line it would have had, not the launcher's."""
    try:
        import setproctitle
    except ImportError:  # an install without it: ps shows the launcher's command line
        return
    setproctitle.setproctitle(title)


def _serve(sock: socket.socket, preload: tuple[str, ...] = PRELOAD, what: str = "genrep's simulators") -> int:
    global _PRELOADED, _START_DIR
    import importlib
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the starter stops us (end of file), not a Ctrl-C
    # set up here, before any child clears its environment: setproctitle needs the untouched
    # argv and environ area it takes its room from
    _set_title(f"{sys.executable} -m genrep.sim.launcher (forks {what})")
    _START_DIR = sys.path[0] if sys.path else ""
    for module in preload:
        importlib.import_module(module)
    # Everything preloaded lives as long as we do: out of the collector's sight, here and in every
    # fork. A forked run's full collections (pytest collects twice at its end) otherwise walk the
    # whole inherited heap, writing to every object's header: copy-on-write faults on every page.
    # Measured: six one-scenario suite runs forked by the suite server, 7.1-8.5 -> 6.7-7.3 s of CPU.
    import gc
    gc.collect()
    gc.freeze()
    # a child of ours that starts simulators can fork its launcher from itself (Launcher: _fork_server)
    _PRELOADED = all(m in sys.modules for m in PRELOAD)
    sock.send(b'{"ready": true}')
    children: dict[int, int | None] = {}
    cpu: dict[int, float] = {}

    def reap() -> None:
        for pid, code in list(children.items()):
            if code is not None:
                continue
            try:
                got, status, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                children[pid] = 255
                continue
            if got:
                children[pid] = os.waitstatus_to_exitcode(status)
                cpu[pid] = usage.ru_utime + usage.ru_stime

    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, _MAX_PACKET, 2)
        except (ConnectionError, OSError):
            data, fds = b"", []
        if not data:  # the starter is gone: so are we. The simulators notice their parent is gone
            return 0    # and stop, removing the harness's TLS folder (a SIGTERM from us would not)
        reap()
        try:
            req = json.loads(data)
            op = req["op"]
        except (ValueError, KeyError, TypeError):
            for fd in fds:
                os.close(fd)
            sock.send(b'{"error": "bad request"}')
            continue
        if op == "spawn":
            if len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                sock.send(b'{"error": "spawn needs two descriptors (stdout, stderr)"}')
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                pid = os.fork()
            except OSError as exc:
                for fd in fds:
                    os.close(fd)
                sock.send(json.dumps({"error": f"the fork failed ({exc})"}).encode())
                continue
            if pid == 0:
                _child(sock, req["module"], req.get("call", "main"), list(req["argv"]), dict(req["env"]), req["cwd"],
                       fds[0], fds[1])
            for fd in fds:
                os.close(fd)
            children[pid] = None
            sock.send(json.dumps({"pid": pid}).encode())
        elif op == "status":
            pid = int(req["pid"])
            sock.send(json.dumps({"returncode": children.get(pid, 255), "cpu_s": cpu.get(pid, 0.0)}).encode())
        else:
            sock.send(json.dumps({"error": f"unknown op {op!r}"}).encode())


def main() -> int:
    """``python -m genrep.sim.launcher FD [MODULE ...]``: serve on socket FD; preload the modules
    named (default: the simulators)."""
    fd = int(sys.argv[1])
    sock = socket.socket(fileno=fd)
    preload = tuple(sys.argv[2:])
    return _serve(sock, preload, "genrep's feature suite runs") if preload else _serve(sock)


# ----------------------------------------------------------------------------------------- client side

class LaunchedProcess:
    """A process the launcher forked, with the ``subprocess.Popen`` surface genrep uses. The
    launcher is its parent: exit codes come from it; signals go straight to the pid, and only while
    the process has not been seen to exit (a reaped pid may be reused). A wait sleeps on a pidfd
    (readable when the process exits) instead of asking the launcher every few milliseconds."""

    def __init__(self, launcher: "Launcher", pid: int, args: list[str], stdout):
        self._launcher, self.pid, self.args, self.stdout = launcher, pid, args, stdout
        self.returncode: int | None = None
        self.cpu_s = 0.0  # user + system CPU, known once it has exited
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfd (old kernel, not Linux), or already gone: polling
            self._pidfd = None

    def poll(self) -> int | None:
        if self.returncode is None:
            code, cpu = self._launcher.status(self.pid)
            if code is not None:
                self.returncode, self.cpu_s = code, cpu
                self._close_pidfd()
                if self._launcher.note_cpu:
                    _note_cpu(cpu)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.002
        while self.poll() is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout)
            pidfd = self._pidfd
            if pidfd is not None:
                import select
                try:
                    readable, _, _ = select.select([pidfd], [], [], remaining)
                except (OSError, ValueError):  # closed meanwhile (another thread saw it exit)
                    readable = [pidfd]
                if readable and self.poll() is None:
                    time.sleep(pause)  # exited, not yet reaped by the launcher: a moment
                continue
            time.sleep(pause if remaining is None else max(0.0, min(pause, remaining)))
            pause = min(pause * 2, 0.05)
        return self.returncode

    def _close_pidfd(self) -> None:
        pidfd, self._pidfd = self._pidfd, None
        if pidfd is not None:
            os.close(pidfd)

    def __del__(self):
        try:
            self._close_pidfd()
        except (AttributeError, OSError):
            pass

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


_CPU_LOCK = threading.Lock()
#: CPU seconds of launched simulators that have exited (the tests' CPU measurement adds it: a launched
#: simulator is the launcher's child, not this process's, so RUSAGE_CHILDREN does not see it)
reaped_cpu_s = 0.0


def _note_cpu(cpu: float) -> None:
    global reaped_cpu_s
    with _CPU_LOCK:
        reaped_cpu_s += cpu


class _ForkedServer:
    """The ``Popen`` part ``Launcher`` needs (pid, poll, wait, kill) of a launcher forked from this process."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                got, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = 255
            else:
                if got:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(["genrep.sim.launcher"], timeout)
            time.sleep(0.005)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)


def _fork_server(sock: socket.socket, env: dict) -> _ForkedServer:
    """This process's launcher as a fork of itself, for a process that already imported PRELOAD (a
    suite run forked by the suite server): no new interpreter importing the simulators again (~0.5 s
    of CPU a run). The child keeps nothing of this process but memory: only its socket (a leaked
    write end of the suite's output pipe would keep the harness waiting for end of file), 0/1/2 on
    /dev/null, no exit handlers, no signal handlers, no cyclic garbage to collect (whose file objects
    would close descriptor numbers reused since)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return _ForkedServer(pid)
    code = 1
    try:
        import gc
        gc.freeze()  # what the starter left is never collected here (its descriptors are closed below)
        atexit._clear()  # noqa: SLF001 - the starter's exit handlers are not ours (nor our simulators')
        os.setsid()
        keep = sock.fileno()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 16)
        import io
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
        try:
            import faulthandler
            faulthandler.disable()  # it wrote to a descriptor just closed
        except ImportError:
            pass
        _default_signals()
        os.environ.clear()
        os.environ.update(env)
        code = _serve(sock)
    except BaseException:  # noqa: BLE001 - its starter sees end of file and starts simulators itself
        code = 1
    finally:
        os._exit(code)


class Launcher:
    """A launcher process and the socket to it. This process's simulator launcher (``launcher()``)
    is started on first use, one per process (a forked harness starts its own); ``preload`` other
    modules for another launcher (``genrep.suite_launcher``: the feature suite's runs).
    ``note_cpu``: add its children's CPU to ``reaped_cpu_s`` (a launcher that lives as long as this
    process; one closed, so reaped, earlier has that CPU counted in RUSAGE_CHILDREN already)."""

    def __init__(self, preload: tuple[str, ...] = (), env: dict | None = None, cwd: str | None = None,
                 note_cpu: bool = True):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._lock = threading.Lock()
        self._sock = parent
        self.note_cpu = note_cpu
        if env is None:
            env = {k: v for k, v in os.environ.items() if k != "GENREP_DEFECTS"}
        try:
            if _PRELOADED and not preload:
                parent.set_inheritable(False)
                self._proc = _fork_server(child, env)
            else:
                child.set_inheritable(True)
                self._proc = subprocess.Popen([sys.executable, "-m", "genrep.sim.launcher", str(child.fileno()),
                                               *preload], pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                              env=env, cwd=cwd, start_new_session=True)
        except OSError as exc:
            parent.close()
            raise LauncherError(f"the launcher could not start: {exc}") from exc
        finally:
            child.close()
        self.pid = self._proc.pid
        parent.settimeout(READY_TIMEOUT_S)
        try:
            ready = parent.recv(_MAX_PACKET)
        except OSError as exc:
            self.close()
            raise LauncherError(f"the launcher did not report ready: {exc}") from exc
        if not ready:
            self.close()
            raise LauncherError("the launcher exited before reporting ready")
        parent.settimeout(REPLY_TIMEOUT_S)

    def _ask(self, request: dict, fds: tuple[int, ...] = ()) -> dict:
        with self._lock:
            try:
                socket.send_fds(self._sock, [json.dumps(request).encode()], list(fds))
                reply = self._sock.recv(_MAX_PACKET)
            except OSError as exc:
                raise LauncherError(f"the launcher stopped answering: {exc}") from exc
        if not reply:
            raise LauncherError("the launcher has exited")
        return json.loads(reply)

    def spawn(self, module: str, argv: list[str], env: dict, stderr_fd: int | None, *, cwd: str | None = None,
              call: str = "main", text: bool = False) -> LaunchedProcess:
        """Fork ``python -m module argv`` (its function ``call``) with this environment and working
        directory; its stdout is the returned process's ``stdout`` pipe (``text``: read as UTF-8), its
        stderr goes to ``stderr_fd``, or with None into the same pipe (``stderr=STDOUT``)."""
        read_fd, write_fd = os.pipe()
        try:
            env = {**env, HARNESS_ENV: str(os.getpid()), PARENT_ENV: str(self.pid)}
            reply = self._ask({"op": "spawn", "module": module, "call": call, "argv": argv, "env": env,
                               "cwd": cwd or os.getcwd()},
                              (write_fd, write_fd if stderr_fd is None else stderr_fd))
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        if "pid" not in reply:
            os.close(read_fd)
            raise LauncherError(f"the launcher could not start {module}: {reply.get('error')}")
        stdout = (os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") if text
                  else os.fdopen(read_fd, "rb", buffering=0))
        return LaunchedProcess(self, int(reply["pid"]), [sys.executable, "-m", module, *argv], stdout)

    def status(self, pid: int) -> tuple[int | None, float]:
        try:
            reply = self._ask({"op": "status", "pid": pid})
        except LauncherError:
            # the launcher is gone: the child was reparented; alive or not is all that can be known
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return 255, 0.0
            except PermissionError:
                return 255, 0.0
            return None, 0.0
        return reply.get("returncode"), float(reply.get("cpu_s") or 0.0)

    def close(self) -> None:
        """End it (end of file on its socket) and reap it, so its children's CPU is counted as ours."""
        try:
            self._sock.close()
        finally:
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)


_LAUNCHER: Launcher | None = None
_LAUNCHER_PID = 0
_LAUNCHER_LOCK = threading.Lock()
_BROKEN = False


def enabled() -> bool:
    return (not _BROKEN and hasattr(os, "fork") and hasattr(socket, "send_fds")
            and os.environ.get(SWITCH_ENV, "").strip().lower() not in ("off", "0", "no", "false"))


def launcher() -> Launcher:
    """This process's launcher, started on first use (raises LauncherError when it cannot start;
    the caller then starts simulators itself, and later calls do not try again)."""
    global _LAUNCHER, _LAUNCHER_PID, _BROKEN
    with _LAUNCHER_LOCK:
        if _LAUNCHER is None or _LAUNCHER_PID != os.getpid() or _LAUNCHER._proc.poll() is not None:
            try:
                _LAUNCHER, _LAUNCHER_PID = Launcher(), os.getpid()
            except LauncherError:
                _BROKEN = True
                raise
        return _LAUNCHER


def running_pid() -> int | None:
    """The pid of this process's launcher while it runs (it lives as long as this process: it is
    not a simulator, and a check for leftover processes leaves it out), else None."""
    current = _LAUNCHER
    if current is None or _LAUNCHER_PID != os.getpid() or current._proc.poll() is not None:
        return None
    return current.pid


def shutdown() -> None:
    """Stop this process's launcher (its simulators get SIGTERM); at interpreter exit."""
    global _LAUNCHER
    with _LAUNCHER_LOCK:
        current, _LAUNCHER = _LAUNCHER, None
    if current is not None and _LAUNCHER_PID == os.getpid():
        current.close()


if __name__ == "__main__":
    # the module's own copy, not this __main__ one: its children read the state _serve sets (_PRELOADED)
    from genrep.sim.launcher import main as _main
    sys.exit(_main())
