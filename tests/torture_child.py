"""Run one gradeapp command for the torture test and stamp when it started and ended (wall clock).

`python -m tests.torture_child ARGS...` runs `gradeapp ARGS...` in this process and writes
`TORTURE-START t` and `TORTURE-END t code` to stderr: the end is after the command closed its project, so
the torture test can tell which writes were reported after a restore had finished.
"""

from __future__ import annotations

import sys
import time


def main() -> int:
    """Run the command of sys.argv[1:] and stamp its start and end on stderr; return its exit code."""
    print(f"TORTURE-START {time.time():.6f}", file=sys.stderr, flush=True)
    from gradeapp.cli import main as gradeapp_main

    code = gradeapp_main(sys.argv[1:])
    sys.stdout.flush()
    print(f"TORTURE-END {time.time():.6f} {code}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
