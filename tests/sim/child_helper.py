"""A stand-in simulator for SimProcess tests (run as ``python -m child_helper MODE``).

silent: never reports ready (sleeps); exit: writes to stderr and exits 3 at once;
chatty MARKER: reports ready, writes 256 KiB to stderr, then creates MARKER and sleeps.
"""

import json
import os
import sys
import time


def main() -> int:
    mode = sys.argv[1]
    if mode == "silent":
        time.sleep(60)
        return 0
    if mode == "exit":
        sys.stderr.write("child_helper: boom, failing on purpose before ready\n")
        sys.stderr.flush()
        return 3
    if mode == "chatty":
        marker = sys.argv[2]
        print(json.dumps({"service": "chatty", "pid": os.getpid()}), flush=True)
        for i in range(4096):
            sys.stderr.write(f"warning {i:05d}: " + "x" * 50 + "\n")
        sys.stderr.write("chatty: last line\n")
        sys.stderr.flush()
        with open(marker, "w") as f:
            f.write("done")
        time.sleep(60)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
