"""The torture test's machinery: real gradeapp processes racing on one real project file, killed at random.

Each round starts, with a seeded random mix and stagger, 2-4 headless graders (`gradeapp grade`, each a
person of its own) and one or two of: a judge run against the loopback server (tests/fakeopenai.py), an
import, a merge of a package, an export, `stats`, `backup restore latest` (EXTRA_WEIGHTS); every writer's
first opening takes the rolling backup, imports and merges take theirs, GRADEAPP_BACKUPS=3 keeps the
rotation pruning. Some processes get `kill -9` at a random moment. A round is
bounded in time: what is still running at its deadline is killed and counted as hung (a finding).

After each round (every process gone), check_round() verifies:
- `PRAGMA integrity_check` is ok, and so is `quick_check` of every backup;
- every write a process reported as committed (exit 0) is present exactly once, unless a restore that
  finished after the process had ended put an older file in place (a process stamps its end after it
  closed its project: tests/torture_child.py); a write is never present twice, an import never in part;
- a refused operation changed nothing (a refused grade or import left no row, a refused restore left the
  file's identity), except a write refused because a restore replaced the file under it (it had written
  into the file that was replaced; the backup restored may hold it);
- no process printed a traceback, and every failure was one line with exit 1 or 2;
- an export folder that exists is complete.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakeopenai import SKILLS, TOPICS, FakeOpenAI, make_project

REPO = Path(__file__).resolve().parents[1]
N_GENERATIONS = 40
EXPORT_FILES = {
    "pass_rates.csv", "agreement.csv", "verdicts.csv", "verdicts.parquet", "report.html", "annotators.csv",
    "headline.tex", "headline.md", "k_curve.svg", "k_curve.pdf", "agreement.svg", "agreement.pdf",
}  # fmt: skip
EXPORT_OPTIONAL = {"judges.csv"}  # written when a judge has verdicts
_STAMP = re.compile(r"TORTURE-(START|END) ([0-9.]+)")
# how often each operation joins a round's graders (the cheap ones more often: process start-up dominates)
EXTRA_WEIGHTS = {"judge": 3.0, "import": 2.0, "restore": 2.0, "merge": 1.5, "stats": 1.0, "export": 0.7}
_STORED = re.compile(r"(\d+) of (\d+) judge runs stored")


@dataclass
class Proc:
    """One gradeapp process of a round: what it ran and what it said."""

    kind: str
    name: str
    argv: list[str]
    popen: subprocess.Popen | None = None
    killed: bool = False
    hung: bool = False
    code: int | None = None
    out: str = ""
    err: str = ""
    start: float = 0.0
    end: float | None = None

    @property
    def ok(self) -> bool:
        return self.code == 0 and not self.killed and not self.hung

    @property
    def refused(self) -> bool:
        return self.code in (1, 2) and not self.killed and not self.hung

    def outcome(self) -> str:
        if self.hung:
            return "hung"
        if self.killed:
            return "killed"
        if self.ok:
            return "ok"
        if "restored from a backup" in self.err:
            return "stopped: replaced"
        if "open in another process" in self.err or "busy" in self.err:
            return "refused: busy"
        return f"exit {self.code}"


@dataclass
class RoundResult:
    """What one round ran and what its checks found."""

    number: int
    procs: list[Proc]
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Torture:
    """A project, a loopback server and the rounds played on them (in folder `work`)."""

    def __init__(self, work: Path, seed: int, round_seconds: float = 60.0, kill_rate: float = 0.5) -> None:
        self.work = Path(work)
        self.seed = seed
        self.round_seconds = round_seconds
        self.kill_rate = kill_rate
        self.project = self.work / "torture.gradeapp"
        self.server = FakeOpenAI(latency=0.02).start()
        self.env = dict(
            os.environ,
            GRADEAPP_DATA_DIR=str(self.work / "data"),
            GRADEAPP_BACKUPS="3",
            GRADEAPP_LOCK_TIMEOUT="20",
            OPENAI_API_KEY="sk-torture-0000",
            PYTHONUNBUFFERED="1",
            PYTHONFAULTHANDLER="1",  # a hung process killed with SIGABRT shows its threads' stacks
            PYTHONPATH=str(REPO),
        )
        self.env.pop("GRADEAPP_DEBUG", None)
        self.package = self._setup()

    def close(self) -> None:
        """Stop the loopback server."""
        self.server.stop()

    # -- setup -----------------------------------------------------------------------------------
    def _setup(self) -> Path:
        """Create the project and one graded package to merge; return the package's path."""
        self.work.mkdir(parents=True, exist_ok=True)
        make_project(self.project, n_generations=N_GENERATIONS, k=2)
        from gradeapp.db import open_project
        from gradeapp.services.team import assign

        old = os.environ.get("GRADEAPP_DATA_DIR")
        os.environ["GRADEAPP_DATA_DIR"] = self.env["GRADEAPP_DATA_DIR"]
        try:
            with open_project(self.project) as store:
                report = assign(store, ["pkgann"], self.work / "packages", overlap=0.0, use_all=True)
        finally:
            if old is None:
                os.environ.pop("GRADEAPP_DATA_DIR", None)
            else:
                os.environ["GRADEAPP_DATA_DIR"] = old
        package = Path(report["packages"][0]["path"])
        for uid in ("test-0", "test-1"):
            done = self._run_now(["grade", uid, "--set", "topic=1", "--accept", "--submit"]
                                 + ["--annotator", "pkgann", "--project", str(package)])  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"cannot grade the package: {done.stderr}")
        return package

    def _run_now(self, args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "gradeapp", *args], env=self.env, cwd=REPO, capture_output=True, text=True
        )

    # -- one round -------------------------------------------------------------------------------
    def plan(self, number: int) -> list[Proc]:
        """Return the processes of round `number` (seeded: the same seed plays the same rounds)."""
        rng = random.Random(self.seed * 100_003 + number)
        project = ["--project", str(self.project)]
        procs = []
        for j in range(rng.randint(2, 4)):
            uid = f"test-{rng.randrange(N_GENERATIONS)}"
            person = f"p-r{number}-g{j}"
            argv = ["grade", uid, "--set", f"topic={rng.randint(0, 1)}", "--annotator", person, *project]
            procs.append(Proc("grade", person, argv))
        # one or two more operations a round: a 2-core machine shared with others runs a round in ~20 s
        extras = rng.choices(list(EXTRA_WEIGHTS), weights=list(EXTRA_WEIGHTS.values()), k=rng.randint(1, 2))
        for kind in dict.fromkeys(extras):
            procs.append(self._extra(kind, number, rng, project))
        rng.shuffle(procs)
        return procs

    def _extra(self, kind: str, number: int, rng: random.Random, project: list[str]) -> Proc:
        if kind == "judge":
            return Proc("judge", f"judge-r{number}", [
                "judge", "--model", f"judge-r{number}", "--base-url", self.server.base_url, "--runs", "1",
                "--limit", str(rng.randint(3, 12)), "--concurrency", "2", "--max-retries", "0", *project])  # fmt: skip
        if kind == "import":
            source = self._generations_file(number, rng)
            return Proc("import", f"imp-r{number}", ["import", str(source), *project])
        if kind == "merge":
            return Proc("merge", "merge", ["merge", str(self.package), *project])
        if kind == "export":
            out = self.work / "exports" / f"r{number}"
            return Proc("export", str(out), ["export", "--out", str(out), *project])
        if kind == "stats":
            return Proc("stats", "stats", ["stats", *project])
        return Proc("restore", "restore", ["backup", "restore", "latest", *project])

    def _generations_file(self, number: int, rng: random.Random) -> Path:
        path = self.work / "imports" / f"r{number}.jsonl"
        path.parent.mkdir(exist_ok=True)
        names = [s["name"] for s in SKILLS]
        with open(path, "w", encoding="utf-8") as fh:
            for n in range(3):
                row = {"id": f"imp-r{number}-{n}", "student": "student-t", "k": 2,
                       "skills": rng.sample(names, 2), "topic": rng.choice(TOPICS), "text": f"Round {number}."}  # fmt: skip
                fh.write(json.dumps(row) + "\n")
        return path

    def play(self, number: int) -> RoundResult:
        """Run round `number`: start its processes, kill some, wait for all; then check the file."""
        rng = random.Random(self.seed * 7_919 + number)
        procs = self.plan(number)
        identity_before = _identity(self.project)
        started = time.monotonic()
        timers = []
        for proc in procs:
            time.sleep(rng.uniform(0, 0.4))  # a stagger, so that the processes meet at different steps
            proc.popen = subprocess.Popen(
                [sys.executable, "-m", "tests.torture_child", *proc.argv],
                env=self.env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            if rng.random() < self.kill_rate / 2:
                timer = threading.Timer(rng.uniform(0.2, 4.0), _kill, [proc])
                timer.start()
                timers.append(timer)
        readers = [threading.Thread(target=_collect, args=(p,), daemon=True) for p in procs]
        for reader in readers:
            reader.start()
        deadline = started + self.round_seconds
        for proc in procs:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.hung = True
                _dump_and_kill(proc.popen)
        for timer in timers:
            timer.cancel()
        for reader in readers:
            reader.join(timeout=30)
        for proc in procs:
            proc.code = proc.popen.returncode
            proc.killed = proc.killed or proc.code == -signal.SIGKILL
        result = RoundResult(number, procs, seconds=time.monotonic() - started)
        result.violations = self.check_round(number, procs, identity_before)
        return result

    # -- the checks ------------------------------------------------------------------------------
    def check_round(self, number: int, procs: list[Proc], identity_before: str | None) -> list[str]:
        """Return what this round broke (empty: every promise held)."""
        bad = []
        conn = sqlite3.connect(self.project)
        try:
            integrity = conn.execute("PRAGMA integrity_check").fetchall()
            if integrity != [("ok",)]:
                return [f"integrity_check: {integrity[:3]}"]
            restores = [p for p in procs if p.kind == "restore" and p.ok]
            restore_end = restores[0].end if restores else None
            for proc in procs:
                bad += _process_said_one_line(proc)
                must = proc.ok and (restore_end is None or (proc.end or 0) > restore_end)
                replaced = proc.refused and "restored from a backup" in proc.err
                bad += _check_writes(conn, proc, must, replaced)
            refused_restore = [p for p in procs if p.kind == "restore" and p.refused]
            if refused_restore and not restores and _identity_of(conn) != identity_before:
                bad.append("a refused restore changed the file's identity")
        finally:
            conn.close()
        bad += self._check_backups()
        return bad

    def _check_backups(self) -> list[str]:
        bad = []
        for backup in (self.work / "data" / "backups").rglob("*.gradeapp"):
            conn = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
            try:
                result = conn.execute("PRAGMA quick_check").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                result = str(exc)
            finally:
                conn.close()
            if result != "ok":
                bad.append(f"backup {backup.name}: {result}")
        return bad


def _dump_and_kill(popen: subprocess.Popen) -> None:
    """End a hung process: first SIGABRT, so that faulthandler writes where every thread stood."""
    popen.send_signal(signal.SIGABRT)
    try:
        popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()


def _kill(proc: Proc) -> None:
    if proc.popen is not None and proc.popen.poll() is None:
        proc.killed = True
        proc.popen.send_signal(signal.SIGKILL)


def _collect(proc: Proc) -> None:
    out, err = proc.popen.communicate()
    proc.out, proc.err = out, err
    for kind, stamp in _STAMP.findall(err):
        if kind == "START":
            proc.start = float(stamp)
        else:
            proc.end = float(stamp)


def _identity(project: Path) -> str | None:
    conn = sqlite3.connect(project)
    try:
        return _identity_of(conn)
    finally:
        conn.close()


def _identity_of(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM project WHERE key = 'file_identity'").fetchone()
    return row[0] if row else None


def _process_said_one_line(proc: Proc) -> list[str]:
    if "Traceback" in proc.err and not proc.hung:
        return [f"{proc.kind} {proc.name}: a traceback: {proc.err.strip().splitlines()[-1]}"]
    if proc.hung:
        stacks = " | ".join(line.strip() for line in proc.err.splitlines() if line.strip().startswith("File"))
        return [f"{proc.kind} {proc.name}: hung past the round's deadline; stacks: {stacks[-1500:]}"]
    if proc.killed:
        return []
    if proc.code not in (0, 1, 2):
        return [f"{proc.kind} {proc.name}: exit {proc.code}: {proc.err.strip()[-300:]}"]
    errors = [line for line in proc.err.splitlines() if line.startswith("gradeapp: error")]
    if proc.code != 0 and len(errors) != 1:
        return [
            f"{proc.kind} {proc.name}: exit {proc.code} without one error line: {proc.err.strip()[-300:]}"
        ]
    return []


def _check_writes(conn: sqlite3.Connection, proc: Proc, must: bool, replaced: bool) -> list[str]:
    """Check one process's writes: present once when reported after the last restore, absent when refused."""
    where = f"{proc.kind} {proc.name}"
    if proc.kind == "grade":
        n = conn.execute(
            "SELECT COUNT(*) FROM verdicts v JOIN graders g ON g.id = v.grader_id "
            "WHERE g.name = ? AND g.kind = 'human' AND v.criterion = 'topic'",
            [proc.name],
        ).fetchone()[0]
        return _expect(where, n, 1, must, proc.refused and not replaced)
    if proc.kind == "judge":
        n = conn.execute(
            "SELECT COUNT(*) FROM replies r JOIN graders g ON g.id = r.grader_id WHERE g.model = ?",
            [proc.name],
        ).fetchone()[0]
        stored = _STORED.search(proc.out)
        if must and stored and n != int(stored.group(1)):
            return [f"{where}: reported {stored.group(1)} judge runs stored, the file holds {n}"]
        return []
    if proc.kind == "import":
        n = conn.execute("SELECT COUNT(*) FROM generations WHERE uid LIKE ?", [f"{proc.name}-%"]).fetchone()[
            0
        ]
        if n not in (0, 3):
            return [f"{where}: {n} of its 3 generations in the file (an import is all or nothing)"]
        return _expect(where, n // 3, 1, must, proc.refused and not replaced)
    if proc.kind == "merge":
        twice = conn.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM verdicts v JOIN graders g ON g.id = v.grader_id "
            "WHERE g.name = 'pkgann' GROUP BY v.generation_id, v.criterion, v.run, v.value, v.created "
            "HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        present = conn.execute(
            "SELECT COUNT(*) FROM verdicts v JOIN graders g ON g.id = v.grader_id WHERE g.name = 'pkgann'"
        ).fetchone()[0]
        bad = [f"{where}: a merged verdict stored twice"] if twice else []
        if must and not present:
            bad.append(f"{where}: reported merged, the package's verdicts are not in the file")
        return bad
    if proc.kind == "export":
        out = Path(proc.name)
        files = {p.name for p in out.iterdir() if not p.name.startswith(".")} if out.is_dir() else set()
        if (proc.ok or out.exists()) and not EXPORT_FILES <= files <= EXPORT_FILES | EXPORT_OPTIONAL:
            return [f"{where}: an incomplete export folder (missing {sorted(EXPORT_FILES - files)})"]
    return []


def _expect(where: str, n: int, reported: int, must: bool, refused: bool) -> list[str]:
    if n > reported:
        return [f"{where}: written {n} times"]
    if must and n != reported:
        return [f"{where}: reported committed, not in the file"]
    if refused and n:
        return [f"{where}: refused, yet its write is in the file"]
    return []


def summarise(results: list[RoundResult]) -> tuple[list[list[str]], list[str]]:
    """Return the table (operation x outcome counts) and every violation found, by round."""
    outcomes: dict[str, Counter] = {}
    for result in results:
        for proc in result.procs:
            outcomes.setdefault(proc.kind, Counter())[proc.outcome()] += 1
    columns = ["ok", "killed", "refused: busy", "stopped: replaced", "hung"]
    others = sorted({o for c in outcomes.values() for o in c} - set(columns))
    header = ["operation", "runs", *columns, *others]
    rows = [header]
    for kind in ("grade", "judge", "import", "merge", "export", "stats", "restore"):
        if kind in outcomes:
            counts = outcomes[kind]
            rows.append([kind, str(sum(counts.values())), *(str(counts[c]) for c in columns + others)])
    found = [f"round {r.number}: {v}" for r in results for v in r.violations]
    return rows, found
