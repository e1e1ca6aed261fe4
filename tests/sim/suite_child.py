"""What a run forked by the suite server does in tests/sim/test_suite_launcher.py (``call`` picks one)."""

import json
import os
import subprocess
import sys
import time


def show() -> int:
    """The environment, argv and working directory it got; a line on stderr too (one pipe for both)."""
    print(json.dumps({"env": dict(os.environ), "argv": sys.argv[1:], "cwd": os.getcwd(), "pid": os.getpid(),
                      "sid": os.getsid(0), "stdin": os.readlink("/proc/self/fd/0"),
                      "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))}), flush=True)
    print("on stderr", file=sys.stderr, flush=True)
    return 0


def exit_with() -> int:
    return int(sys.argv[1])


def wait_with_grandchild() -> int:
    """A grandchild in its process group, then wait; SIGTERM (default handling) ends it."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print(json.dumps({"grandchild": child.pid}), flush=True)
    time.sleep(120)
    return 0


def sim_launcher() -> int:
    """Start this process's simulator launcher and say how it was started (a fork of this process or
    a new interpreter), with the descriptors it holds."""
    from genrep.sim import launcher
    server = launcher.launcher()
    fds = sorted(int(fd) for fd in os.listdir(f"/proc/{server.pid}/fd"))
    print(json.dumps({"kind": type(server._proc).__name__, "pid": server.pid, "fds": fds,
                      "stdout": os.readlink(f"/proc/{server.pid}/fd/1")}), flush=True)
    return 0
