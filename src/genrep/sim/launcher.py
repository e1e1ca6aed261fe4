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

* ``{"op": "spawn", "module", "argv", "env", "cwd"}`` with two descriptors (stdout, stderr)
  -> ``{"pid": N}`` or ``{"error": "..."}``;
* ``{"op": "status", "pid"}`` -> ``{"returncode": int | null, "cpu_s": float}`` (the launcher is the
  parent: it reaps its children and keeps their exit codes).

The launcher ends when its starter is gone (end of file on the socket); the simulators still
running notice their parent is gone and stop (``genrep.sim.lifecycle``), removing the throw-away
TLS folder of the harness that is gone, as they do when they were started without the launcher.
A simulator's "harness" for its throw-away TLS folder is the starter, named by
``GENREP_SIM_HARNESS_PID`` (the launcher's parent, not the simulator's).

``spawn`` (client side) hands back a :class:`LaunchedProcess`: the part of ``subprocess.Popen``
that ``SimProcess``, the fault drivers and the tests use (pid, poll, wait, send_signal, kill,
terminate, returncode, stdout). ``GENREP_SIM_LAUNCHER=off`` starts every simulator with
``subprocess.Popen`` as before (and so does any platform without ``fork`` or ``SCM_RIGHTS``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from genrep.sim.lifecycle import HARNESS_ENV

#: the simulators the launcher imports before it reports ready (every module a virtual environment starts)
PRELOAD = ("genrep.sim.ehr", "genrep.sim.nll", "genrep.sim.multum", "genrep.sim.multum_lb",
           "genrep.sim.referral_receiver", "genrep.sim.erx_receiver")
#: the environment variable that turns the launcher off (``off``, ``0``, ``no``)
SWITCH_ENV = "GENREP_SIM_LAUNCHER"
READY_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 10.0
_MAX_PACKET = 1 << 20


class LauncherError(OSError):
    """The launcher could not start or stopped answering: the caller starts the simulator itself."""


# ----------------------------------------------------------------------------------------- server side

def _child(sock: socket.socket, module: str, argv: list[str], env: dict, cwd: str, out_fd: int,
           err_fd: int) -> None:
    """In the forked child: become the simulator (never returns)."""
    code = 1
    try:
        sock.close()
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        for fd in (devnull, out_fd, err_fd):
            if fd > 2:
                os.close(fd)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = [module, *argv]
        _set_title(f"{sys.executable} -m {module} {' '.join(argv)}".rstrip())
        import importlib
        code = importlib.import_module(module).main()
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # noqa: BLE001 - the simulator's own crash, told on its stderr
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed pipe: nothing more to say
                pass
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        os._exit(code & 0xFF)


def _set_title(title: str) -> None:
    """What ``ps`` and ``/proc/PID/cmdline`` show: the command line it would have had, not the launcher's."""
    try:
        import setproctitle
    except ImportError:  # an install without it: ps shows the launcher's command line
        return
    setproctitle.setproctitle(title)


def _serve(sock: socket.socket) -> int:
    import importlib
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the starter stops us (end of file), not a Ctrl-C
    # set up here, before any child clears its environment: setproctitle needs the untouched
    # argv and environ area it takes its room from
    _set_title(f"{sys.executable} -m genrep.sim.launcher (forks genrep's simulators)")
    for module in PRELOAD:
        importlib.import_module(module)
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
                _child(sock, req["module"], list(req["argv"]), dict(req["env"]), req["cwd"], fds[0], fds[1])
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
    fd = int(sys.argv[1])
    sock = socket.socket(fileno=fd)
    return _serve(sock)


# ----------------------------------------------------------------------------------------- client side

class LaunchedProcess:
    """A simulator the launcher forked, with the ``subprocess.Popen`` surface genrep uses. The
    launcher is its parent: exit codes come from it; signals go straight to the pid, and only while
    the process has not been seen to exit (a reaped pid may be reused)."""

    def __init__(self, launcher: "Launcher", pid: int, args: list[str], stdout):
        self._launcher, self.pid, self.args, self.stdout = launcher, pid, args, stdout
        self.returncode: int | None = None
        self.cpu_s = 0.0  # user + system CPU, known once it has exited

    def poll(self) -> int | None:
        if self.returncode is None:
            code, cpu = self._launcher.status(self.pid)
            if code is not None:
                self.returncode, self.cpu_s = code, cpu
                _note_cpu(cpu)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.002
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, 0.05)
        return self.returncode

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


class Launcher:
    """This process's launcher (started on first use, one per process: a forked harness starts its own)."""

    def __init__(self):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._lock = threading.Lock()
        self._sock = parent
        try:
            child.set_inheritable(True)
            env = {k: v for k, v in os.environ.items() if k != "GENREP_DEFECTS"}
            self._proc = subprocess.Popen([sys.executable, "-m", "genrep.sim.launcher", str(child.fileno())],
                                          pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          env=env, start_new_session=True)
        except OSError as exc:
            parent.close()
            raise LauncherError(f"the simulator launcher could not start: {exc}") from exc
        finally:
            child.close()
        self.pid = self._proc.pid
        parent.settimeout(READY_TIMEOUT_S)
        try:
            ready = parent.recv(_MAX_PACKET)
        except OSError as exc:
            self.close()
            raise LauncherError(f"the simulator launcher did not report ready: {exc}") from exc
        if not ready:
            self.close()
            raise LauncherError("the simulator launcher exited before reporting ready")
        parent.settimeout(REPLY_TIMEOUT_S)

    def _ask(self, request: dict, fds: tuple[int, ...] = ()) -> dict:
        with self._lock:
            try:
                socket.send_fds(self._sock, [json.dumps(request).encode()], list(fds))
                reply = self._sock.recv(_MAX_PACKET)
            except OSError as exc:
                raise LauncherError(f"the simulator launcher stopped answering: {exc}") from exc
        if not reply:
            raise LauncherError("the simulator launcher has exited")
        return json.loads(reply)

    def spawn(self, module: str, argv: list[str], env: dict, stderr_fd: int) -> LaunchedProcess:
        read_fd, write_fd = os.pipe()
        try:
            env = {**env, HARNESS_ENV: str(os.getpid())}
            reply = self._ask({"op": "spawn", "module": module, "argv": argv, "env": env, "cwd": os.getcwd()},
                              (write_fd, stderr_fd))
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        if "pid" not in reply:
            os.close(read_fd)
            raise LauncherError(f"the simulator launcher could not start {module}: {reply.get('error')}")
        return LaunchedProcess(self, int(reply["pid"]), [sys.executable, "-m", module, *argv],
                               os.fdopen(read_fd, "rb", buffering=0))

    def status(self, pid: int) -> tuple[int | None, float]:
        try:
            reply = self._ask({"op": "status", "pid": pid})
        except LauncherError:
            # the launcher is gone: the simulator was reparented; alive or not is all that can be known
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return 255, 0.0
            except PermissionError:
                return 255, 0.0
            return None, 0.0
        return reply.get("returncode"), float(reply.get("cpu_s") or 0.0)

    def close(self) -> None:
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
    sys.exit(main())
