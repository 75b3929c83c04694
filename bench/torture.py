"""The torture test, long: `python bench/torture.py --rounds N [--seed S]`; prints a table and what it found.

Real gradeapp processes race on one real project file for N rounds (tests/torture.py says what a round
runs and checks). Exit 1 when any round broke a promise. Run it with `nice -n 10` on a shared machine.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.torture import Torture, summarise  # noqa: E402


def main() -> int:
    """Play the rounds; print one line per round, then the table and the violations."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--round-seconds", type=float, default=240.0, help="a round's deadline")
    parser.add_argument("--work", type=Path, help="folder for the project (default: a temporary one)")
    parser.add_argument(
        "--table", type=Path, nargs="+", metavar="LOG", help="only print the table of these logs"
    )
    args = parser.parse_args()
    if args.table:
        return print_table_of_logs(args.table)
    work = args.work or Path(tempfile.mkdtemp(prefix="gradeapp-torture-"))
    torture = Torture(work / "run", seed=args.seed, round_seconds=args.round_seconds)
    results = []
    began = time.monotonic()
    try:
        for number in range(args.rounds):
            result = torture.play(number)
            results.append(result)
            mix = " ".join(f"{p.kind}:{p.outcome()}" for p in result.procs)
            verdict = "ok" if not result.violations else "; ".join(result.violations)
            print(f"round {number:4d} {result.seconds:5.1f} s  {verdict}  [{mix}]", flush=True)
    except KeyboardInterrupt:
        pass  # the round in progress is lost; the table of the rounds played follows
    finally:
        torture.close()
    print(
        f"\n{len(results)} rounds in {time.monotonic() - began:.0f} s (seed {args.seed}, {torture.project})"
    )
    return _print(*summarise(results))


def _print(rows: list[list[str]], found: list[str]) -> int:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    print(f"\nviolations: {len(found)}")
    for line in found:
        print("  " + line)
    return 1 if found else 0


OUTCOME = re.compile(r"(\w+):(ok|killed|hung|refused: busy|stopped: replaced|exit -?\d+)")
VIOLATION_SEPARATOR = re.compile(
    r"; (?=(?:grade|judge|import|merge|export|stats|restore|integrity_check|backup|a) )"
)
ROUND_LINE = re.compile(r"^round\s+(\d+)\s+([0-9.]+) s  (.*)  \[(.*)\]$")


def print_table_of_logs(logs: list[Path]) -> int:
    """Print the table of the round lines of one or more logs of this command (runs cut short included)."""
    results = []
    for log in logs:
        for line in log.read_text(encoding="utf-8").splitlines():
            match = ROUND_LINE.match(line)
            if not match:
                continue
            procs = [
                SimpleNamespace(kind=kind, outcome=lambda o=outcome: o)
                for kind, outcome in OUTCOME.findall(match.group(4))
            ]
            verdict = match.group(3)
            violations = [] if verdict == "ok" else VIOLATION_SEPARATOR.split(verdict)
            number = f"{log.name}:{match.group(1)}"
            results.append(SimpleNamespace(number=number, procs=procs, violations=violations))
    print(f"{len(results)} rounds from {len(logs)} logs")
    return _print(*summarise(results))


if __name__ == "__main__":
    raise SystemExit(main())
